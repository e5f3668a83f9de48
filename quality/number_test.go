package quality

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0", true},
		{"-12.50", true},
		{"+3", true},
		{"007", true},
		{".5", true},
		{"5.", true},
		{"1e10", true},
		{"1E-9999", true},
		{"2.5e+3", true},
		{"", false},
		{"-", false},
		{".", false},
		{"e5", false},
		{"1e", false},
		{"1e+", false},
		{"1e10000", false},
		{"1_000", false},
		{"0x10", false},
		{"NaN", false},
		{"Inf", false},
		{" 1", false},
		{"1 ", false},
		{"1.2.3", false},
		{"--1", false},
		{strings.Repeat("9", maxNumberLength), true},
		{strings.Repeat("9", maxNumberLength+1), false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, isDecimal(tt.in), "%q", tt.in)
	}
}

func TestCanonicalDecimal(t *testing.T) {
	tests := []struct {
		in    string
		isInt bool
		n     int64
		dec   string
	}{
		{"0", true, 0, ""},
		{"-0.000e5", true, 0, ""},
		{"007", true, 7, ""},
		{"+42", true, 42, ""},
		{"-42.000", true, -42, ""},
		{"1e2", true, 100, ""},
		{"0.25e2", true, 25, ""},
		{"999999999999999999", true, 999999999999999999, ""},
		{"1000000000000000000", false, 0, "1e18"},
		{"-9223372036854775808", false, 0, "-9223372036854775808e0"},
		{"12.50", false, 0, "125e-1"},
		{"-0.0012", false, 0, "-12e-4"},
		{"1.5e-3", false, 0, "15e-4"},
		{"120.5e1", true, 1205, ""},
		{"120.55e1", false, 0, "12055e-1"},
		{"1e-9999", false, 0, "1e-9999"},
	}
	for _, tt := range tests {
		dec, n, isInt := canonicalDecimal(nil, tt.in)
		require.Equal(t, tt.isInt, isInt, tt.in)
		require.Equal(t, tt.n, n, tt.in)
		require.Equal(t, tt.dec, string(dec), tt.in)
	}
}

// keyOf renders numberKey's result as one comparable string.
func keyOf(t *testing.T, v any) string {
	t.Helper()
	dec, n, isInt, ok := numberKey(nil, v)
	require.True(t, ok, "%#v", v)
	if isInt {
		return "int:" + strconv.FormatInt(n, 10)
	}
	return "dec:" + string(dec)
}

func TestNumberKeyAgreesWithExactValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"0", "1", "-1", "2.5", "0.1", "9007199254740993", "1152921504606846977", "1e300", "-3.25e-7"}
	for range 600 {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(rng.IntN(1000)))
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(rng.IntN(1000)))
		}
		if rng.IntN(2) == 0 {
			b.WriteString("e" + strconv.Itoa(rng.IntN(40)-20))
		}
		texts = append(texts, b.String())
	}
	keys := make([]string, len(texts))
	rats := make([]*big.Rat, len(texts))
	for i, s := range texts {
		keys[i] = keyOf(t, json.Number(s))
		require.Equal(t, keys[i], keyOf(t, s), "numeric strings and json.Number must agree")
		r, ok := new(big.Rat).SetString(s)
		require.True(t, ok, s)
		rats[i] = r
	}
	for i := range texts {
		for j := i + 1; j < len(texts); j++ {
			require.Equal(t, rats[i].Cmp(rats[j]) == 0, keys[i] == keys[j], "%s vs %s", texts[i], texts[j])
		}
	}
}

func TestNumberKeyFloatMatchesShortestText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1 << 53, 1<<53 + 2, 1 << 60, 1e18, 1e21, 5e-324, math.MaxFloat64}
	for range 2000 {
		floats = append(floats, math.Float64frombits(rng.Uint64()))
		floats = append(floats, float64(rng.Int64N(1<<62)-1<<61))
		floats = append(floats, math.Round(rng.NormFloat64()*1e4)/100)
	}
	for _, f := range floats {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		text := strconv.FormatFloat(f, 'g', -1, 64)
		require.Equal(t, keyOf(t, json.Number(text)), keyOf(t, f), "%v", f)
	}
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("x"), "", true, nil, []any{}} {
		_, _, _, ok := numberKey(nil, v)
		require.False(t, ok, "%#v", v)
	}
}

func TestBoundCompare(t *testing.T) {
	tests := []struct {
		bound float64
		value any
		want  int
	}{
		{0.1, 0.1, 0},
		{0.1, json.Number("0.1"), 0},
		{0.1, json.Number("0.100"), 0},
		{0.1, json.Number("0.1000000000000000000001"), 1},
		{0.1, json.Number("0.0999999999999999999999"), -1},
		{0.1, json.Number("+0.1"), 0},
		{0.1, json.Number("000.1"), 0},
		{0.1, 0.2, 1},
		{12.5, "12.50", 0},
		{12.5, "1.25e1", 0},
		{0, "-0", 0},
		{0, "1e-9999", 1},
		{0, "-1e-9999", -1},
		{1e300, "1e9999", 1},
		{-1e300, "-1e9999", -1},
		{9007199254740992, int64(9007199254740993), 1},
		{9007199254740992, int64(9007199254740992), 0},
		{5, 5, 0},
	}
	for _, tt := range tests {
		b, err := newBound(tt.bound)
		require.NoError(t, err)
		f, text, ok := numeric(tt.value)
		require.True(t, ok, "%#v", tt.value)
		require.Equal(t, tt.want, b.compare(f, text), "bound %v value %#v", tt.bound, tt.value)
	}
	_, err := newBound(math.NaN())
	require.ErrorContains(t, err, "not a finite number")
}

func TestIntegerValue(t *testing.T) {
	tests := []struct {
		in   any
		n    int64
		want bool
	}{
		{1.0, 1, true},
		{-9.223372036854775808e18, math.MinInt64, true},
		{9.223372036854775808e18, 0, false},
		{1.5, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(-1), 0, false},
		{json.Number("9223372036854775807"), math.MaxInt64, true},
		{json.Number("1e3"), 1000, true},
		{json.Number("10.0"), 10, true},
		{json.Number("9223372036854775808"), 0, false},
		{json.Number("0.5"), 0, false},
		{json.Number("bad"), 0, false},
		{7, 7, true},
		{int64(-7), -7, true},
		{"7", 0, false},
		{true, 0, false},
	}
	for _, tt := range tests {
		n, ok := integerValue(tt.in)
		require.Equal(t, tt.want, ok, "%#v", tt.in)
		require.Equal(t, tt.n, n, "%#v", tt.in)
	}
}

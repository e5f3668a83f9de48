package quality

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Limits on decimal text (json.Number or numeric strings) accepted as a
// number. They keep exact arithmetic on untrusted input cheap.
const (
	maxNumberLength   = 400 // bytes of decimal text
	maxExponentDigits = 4   // digits of the exponent, so |exponent| ≤ 9999
)

// maxExactInt is the largest magnitude below which every integer is exactly
// representable as a float64.
const maxExactInt = 1 << 53

// maxIntDigits is the number of significant digits up to which an integer is
// kept as an int64 by canonicalDecimal; 10^18 - 1 < MaxInt64.
const maxIntDigits = 18

// isDecimal reports whether s is plain decimal text: an optional sign, digits
// with an optional fraction (at least one digit overall) and an optional
// exponent, within the length limits. Hex, "Inf", "NaN" and underscores are
// not decimal text.
func isDecimal(s string) bool {
	if len(s) == 0 || len(s) > maxNumberLength {
		return false
	}
	i := 0
	if s[i] == '+' || s[i] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			expDigits++
		}
		if expDigits == 0 || expDigits > maxExponentDigits {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// canonicalDecimal computes the canonical form of decimal text s, which must
// satisfy isDecimal. Integers of at most maxIntDigits significant digits are
// returned as n with isInt set; every other value is appended to dst as
// "[-]<digits>e<exponent>" with no leading or trailing zeros in <digits>, so
// two texts denote the same number exactly when their canonical forms are
// equal.
func canonicalDecimal(dst []byte, s string) (out []byte, n int64, isInt bool) {
	neg := false
	i := 0
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i = 1
	}
	mantissa := s[i:]
	exp := 0
	if e := indexExponent(mantissa); e >= 0 {
		exp = parseExponent(mantissa[e+1:])
		mantissa = mantissa[:e]
	}

	// The value is D × 10^(exp - fracDigits), D being all mantissa digits.
	// Find the first and last nonzero digits of D.
	first, last := -1, -1
	fracDigits := 0
	afterPoint := false
	for j := 0; j < len(mantissa); j++ {
		c := mantissa[j]
		if c == '.' {
			afterPoint = true
			continue
		}
		if afterPoint {
			fracDigits++
		}
		if c != '0' {
			if first < 0 {
				first = j
			}
			last = j
		}
	}
	if first < 0 {
		return dst, 0, true
	}
	trailingZeros := 0
	for j := last + 1; j < len(mantissa); j++ {
		if mantissa[j] != '.' {
			trailingZeros++
		}
	}
	exp += trailingZeros - fracDigits

	significant := 0
	for j := first; j <= last; j++ {
		if mantissa[j] != '.' {
			significant++
		}
	}
	if exp >= 0 && significant+exp <= maxIntDigits {
		for j := first; j <= last; j++ {
			if c := mantissa[j]; c != '.' {
				n = n*10 + int64(c-'0')
			}
		}
		for range exp {
			n *= 10
		}
		if neg {
			n = -n
		}
		return dst, n, true
	}

	if neg {
		dst = append(dst, '-')
	}
	for j := first; j <= last; j++ {
		if c := mantissa[j]; c != '.' {
			dst = append(dst, c)
		}
	}
	dst = append(dst, 'e')
	dst = strconv.AppendInt(dst, int64(exp), 10)
	return dst, 0, false
}

func indexExponent(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			return i
		}
	}
	return -1
}

// parseExponent parses a signed exponent of at most maxExponentDigits digits.
func parseExponent(s string) int {
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	e := 0
	for i := 0; i < len(s); i++ {
		e = e*10 + int(s[i]-'0')
	}
	if neg {
		return -e
	}
	return e
}

// numberKey canonicalizes a numeric value for exact equality: integers of at
// most maxIntDigits digits come back as n with isInt set, any other number is
// appended to dst in canonical decimal form. A float64 stands for its shortest
// decimal representation, the text a producer most likely sent. Strings count
// as numbers when they hold decimal text. ok is false for anything else.
func numberKey(dst []byte, v any) (out []byte, n int64, isInt, ok bool) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, 0, false, false
		}
		if x == math.Trunc(x) && math.Abs(x) <= maxExactInt {
			return dst, int64(x), true, true
		}
		var buf [32]byte
		text := strconv.AppendFloat(buf[:0], x, 'e', -1, 64)
		out, n, isInt = canonicalDecimal(dst, string(text))
		return out, n, isInt, true
	case json.Number:
		return decimalKey(dst, string(x))
	case string:
		return decimalKey(dst, x)
	case int:
		return intKey(dst, int64(x))
	case int64:
		return intKey(dst, x)
	}
	return dst, 0, false, false
}

func decimalKey(dst []byte, s string) (out []byte, n int64, isInt, ok bool) {
	if !isDecimal(s) {
		return dst, 0, false, false
	}
	out, n, isInt = canonicalDecimal(dst, s)
	return out, n, isInt, true
}

func intKey(dst []byte, x int64) (out []byte, n int64, isInt, ok bool) {
	var buf [24]byte
	out, n, isInt = canonicalDecimal(dst, string(strconv.AppendInt(buf[:0], x, 10)))
	return out, n, isInt, true
}

// numeric converts a value to a number for range comparison: f is the
// nearest float64 and text, when not empty, the exact decimal text that f
// approximates. ok is false for values that are not numbers or decimal text.
func numeric(v any) (f float64, text string, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, "", !math.IsNaN(x)
	case json.Number:
		return decimalNumeric(string(x))
	case string:
		return decimalNumeric(x)
	case int:
		return intNumeric(int64(x))
	case int64:
		return intNumeric(x)
	}
	return 0, "", false
}

func decimalNumeric(s string) (float64, string, bool) {
	if !isDecimal(s) {
		return 0, "", false
	}
	// Decimal text is syntactically valid, so the only possible error is
	// ErrRange, for which ParseFloat still returns the correctly rounded ±Inf
	// or ±0.
	f, _ := strconv.ParseFloat(s, 64)
	return f, s, true
}

func intNumeric(x int64) (float64, string, bool) {
	if x >= -maxExactInt && x <= maxExactInt {
		return float64(x), "", true
	}
	return float64(x), strconv.FormatInt(x, 10), true
}

// bound is an inclusive range bound. exact is the decimal the bound was most
// likely written as (the shortest representation of value).
type bound struct {
	value float64
	exact *big.Rat
}

func newBound(v float64) (*bound, error) {
	text := formatFloat(v)
	exact, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, fmt.Errorf("bound %s is not a finite number", text)
	}
	return &bound{value: v, exact: exact}, nil
}

// compare returns -1, 0 or +1 as the number (f, text) is below, equal to or
// above the bound. Rounding to float64 is monotonic and the bound's value is
// the rounding of its exact decimal, so the float comparison is exact unless
// the rounded number equals the bound; only then is decimal text compared
// exactly.
func (b *bound) compare(f float64, text string) int {
	if f < b.value {
		return -1
	}
	if f > b.value {
		return 1
	}
	if text == "" {
		return 0
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return 0
	}
	return r.Cmp(b.exact)
}

// integerValue returns v as an int64 when it is an integral number within the
// int64 range.
func integerValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		if !isDecimal(string(x)) {
			return 0, false
		}
		r, ok := new(big.Rat).SetString(string(x))
		if !ok || !r.IsInt() || !r.Num().IsInt64() {
			return 0, false
		}
		return r.Num().Int64(), true
	}
	return 0, false
}

// isScalar reports whether v is a string, boolean or number.
func isScalar(v any) bool {
	switch x := v.(type) {
	case string, bool, int, int64:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case json.Number:
		return isDecimal(string(x))
	}
	return false
}

// describe names the JSON type of a value for messages, including the value
// itself for numbers and booleans.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return formatFloat(x)
	case json.Number:
		if len(x) > 40 {
			return "a number"
		}
		return string(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

// formatFloat formats f in its shortest decimal form, without an exponent for
// integers below 10^21.
func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

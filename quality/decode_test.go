package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
)

func utc(y int, mo time.Month, d, h, mi, s, us int) time.Time {
	return time.Date(y, mo, d, h, mi, s, us*1000, time.UTC)
}

func TestDecodeTypes(t *testing.T) {
	tests := []struct {
		typ  string
		in   string // the JSON value of the column
		want any    // the stored value, as cell renders it
		rule string // or the rule of the one violation
	}{
		{"boolean", `true`, true, ""},
		{"boolean", `false`, false, ""},
		{"boolean", `null`, nil, ""},
		{"boolean", `"true"`, nil, RuleSchemaType},
		{"boolean", `1`, nil, RuleSchemaType},

		{"int", `42`, int32(42), ""},
		{"int", `-7`, int32(-7), ""},
		{"int", `-0`, int32(0), ""},
		{"int", `1e2`, int32(100), ""},
		{"int", `100.0`, int32(100), ""},
		{"int", `0.0001e4`, int32(1), ""},
		{"int", `2147483647`, int32(math.MaxInt32), ""},
		{"int", `-2147483648`, int32(math.MinInt32), ""},
		{"int", `2147483648`, nil, RuleSchemaRange},
		{"int", `-2147483649`, nil, RuleSchemaRange},
		{"int", `1e10`, nil, RuleSchemaRange},
		{"int", `1.5`, nil, RuleSchemaType},
		{"int", `1e-2`, nil, RuleSchemaType},
		{"int", `"42"`, nil, RuleSchemaType},
		{"int", `[1]`, nil, RuleSchemaType},

		{"long", `9223372036854775807`, int64(math.MaxInt64), ""},
		{"long", `-9223372036854775808`, int64(math.MinInt64), ""},
		{"long", `123456789012345678`, int64(123456789012345678), ""},
		{"long", `1.0e18`, int64(1e18), ""},
		{"long", `12345678900000000000e-10`, int64(1234567890), ""},
		{"long", `12345678901234567890e-10`, nil, RuleSchemaType},
		{"long", `9223372036854775808`, nil, RuleSchemaRange},
		{"long", `-9223372036854775809`, nil, RuleSchemaRange},
		{"long", `1e19`, nil, RuleSchemaRange},
		{"long", `1e999999999999`, nil, RuleSchemaRange},
		{"long", `123456789012345678901234567890`, nil, RuleSchemaRange},
		{"long", `0.5`, nil, RuleSchemaType},
		{"long", `1e-999999999999`, nil, RuleSchemaType},
		{"long", `"1"`, nil, RuleSchemaType},

		{"float", `1.5`, float32(1.5), ""},
		{"float", `0.1`, float32(0.1), ""},
		{"float", `-2`, float32(-2), ""},
		{"float", `3.4e38`, float32(3.4e38), ""},
		{"float", `1e-50`, float32(0), ""},
		{"float", `3.5e38`, nil, RuleSchemaRange},
		{"float", `"1.5"`, nil, RuleSchemaType},

		{"double", `0.1`, 0.1, ""},
		{"double", `5`, 5.0, ""},
		{"double", `1e308`, 1e308, ""},
		{"double", `123456789012345678901234567890`, 1.2345678901234568e29, ""},
		{"double", `1e309`, nil, RuleSchemaRange},
		{"double", `-1e400`, nil, RuleSchemaRange},
		{"double", `true`, nil, RuleSchemaType},
		{"double", `"NaN"`, nil, RuleSchemaType},

		{"decimal(10,2)", `"12.50"`, "12.50", ""},
		{"decimal(10,2)", `12.5`, "12.50", ""},
		{"decimal(10,2)", `"12.500"`, "12.50", ""},
		{"decimal(10,2)", `"-0.01"`, "-0.01", ""},
		{"decimal(10,2)", `"-0"`, "0.00", ""},
		{"decimal(10,2)", `0.000e5`, "0.00", ""},
		{"decimal(10,2)", `"+3"`, "3.00", ""},
		{"decimal(10,2)", `"1e2"`, "100.00", ""},
		{"decimal(10,2)", `"1.5e-1"`, "0.15", ""},
		{"decimal(10,2)", `99999999.99`, "99999999.99", ""},
		{"decimal(10,2)", `-99999999.99`, "-99999999.99", ""},
		{"decimal(10,2)", `"12.505"`, nil, RuleSchemaPrecision},
		{"decimal(10,2)", `12.505`, nil, RuleSchemaPrecision},
		{"decimal(10,2)", `"1.55e-1"`, nil, RuleSchemaPrecision},
		{"decimal(10,2)", `1e-400`, nil, RuleSchemaPrecision},
		{"decimal(10,2)", `100000000`, nil, RuleSchemaRange},
		{"decimal(10,2)", `"100000000.00"`, nil, RuleSchemaRange},
		{"decimal(10,2)", `1e99999`, nil, RuleSchemaRange},
		{"decimal(10,2)", `"abc"`, nil, RuleSchemaType},
		{"decimal(10,2)", `""`, nil, RuleSchemaType},
		{"decimal(10,2)", `" 1"`, nil, RuleSchemaType},
		{"decimal(10,2)", `"12.5."`, nil, RuleSchemaType},
		{"decimal(10,2)", `"1e99999"`, nil, RuleSchemaType},
		{"decimal(10,2)", `true`, nil, RuleSchemaType},
		{"decimal(5,0)", `1e2`, "100", ""},
		{"decimal(5,0)", `12345`, "12345", ""},
		{"decimal(5,0)", `-99999`, "-99999", ""},
		{"decimal(5,0)", `1.0`, "1", ""},
		{"decimal(5,0)", `123456`, nil, RuleSchemaRange},
		{"decimal(5,0)", `"1.5"`, nil, RuleSchemaPrecision},
		{"decimal(38,10)", `"1234567890123456789012345678.0123456789"`, "1234567890123456789012345678.0123456789", ""},
		{"decimal(38,10)", `-1234567890123456789012345678.0123456789`, "-1234567890123456789012345678.0123456789", ""},
		{"decimal(38,10)", `"12345678901234567890123456789"`, nil, RuleSchemaRange},
		{"decimal(38,0)", `99999999999999999999999999999999999999`, "99999999999999999999999999999999999999", ""},
		{"decimal(38,0)", `-99999999999999999999999999999999999999`, "-99999999999999999999999999999999999999", ""},
		{"decimal(38,0)", `999999999999999999999999999999999999999`, nil, RuleSchemaRange},

		{"string", `"abc"`, "abc", ""},
		{"string", `""`, "", ""},
		{"string", `"\u00e9\n\"\\\/\t"`, "é\n\"\\/\t", ""},
		{"string", `"\ud83d\ude00 ok"`, "😀 ok", ""},
		{"string", `"äöü"`, "äöü", ""},
		{"string", `5`, nil, RuleSchemaType},
		{"string", `{}`, nil, RuleSchemaType},
		{"string", `[]`, nil, RuleSchemaType},

		{"binary", `"aGVsbG8="`, []byte("hello"), ""},
		{"binary", `"aGVsbG8"`, []byte("hello"), ""},
		{"binary", `"+/8="`, []byte{0xfb, 0xff}, ""},
		{"binary", `"-_8="`, []byte{0xfb, 0xff}, ""},
		{"binary", `"-_8"`, []byte{0xfb, 0xff}, ""},
		{"binary", `""`, []byte{}, ""},
		{"binary", `"+_8="`, nil, RuleSchemaType},
		{"binary", `"a"`, nil, RuleSchemaType},
		{"binary", `"abc$"`, nil, RuleSchemaType},
		{"binary", `"aGVsbG8=="`, nil, RuleSchemaType},
		{"binary", `[104]`, nil, RuleSchemaType},

		{"date", `"2024-02-29"`, "2024-02-29", ""},
		{"date", `"1970-01-01"`, "1970-01-01", ""},
		{"date", `"1969-12-31"`, "1969-12-31", ""},
		{"date", `"0001-01-01"`, "0001-01-01", ""},
		{"date", `"9999-12-31"`, "9999-12-31", ""},
		{"date", `"2000-02-29"`, "2000-02-29", ""},
		{"date", `"1900-02-29"`, nil, RuleSchemaType},
		{"date", `"2023-02-29"`, nil, RuleSchemaType},
		{"date", `"2024-04-31"`, nil, RuleSchemaType},
		{"date", `"2024-13-01"`, nil, RuleSchemaType},
		{"date", `"2024-2-29"`, nil, RuleSchemaType},
		{"date", `"2024-02-29T00:00:00"`, nil, RuleSchemaType},
		{"date", `19782`, nil, RuleSchemaType},

		{"time", `"03:04:05"`, 3*time.Hour + 4*time.Minute + 5*time.Second, ""},
		{"time", `"03:04:05.1"`, 3*time.Hour + 4*time.Minute + 5100*time.Millisecond, ""},
		{"time", `"23:59:59.999999"`, 24*time.Hour - time.Microsecond, ""},
		{"time", `"00:00:00.123456000"`, 123456 * time.Microsecond, ""},
		{"time", `"03:04:05.1234567"`, nil, RuleSchemaPrecision},
		{"time", `"24:00:00"`, nil, RuleSchemaType},
		{"time", `"12:60:00"`, nil, RuleSchemaType},
		{"time", `"12:00:60"`, nil, RuleSchemaType},
		{"time", `"03:04"`, nil, RuleSchemaType},
		{"time", `"03:04:05."`, nil, RuleSchemaType},
		{"time", `"03:04:05Z"`, nil, RuleSchemaType},
		{"time", `3600`, nil, RuleSchemaType},

		{"timestamp", `"2026-01-02T03:04:05"`, utc(2026, 1, 2, 3, 4, 5, 0), ""},
		{"timestamp", `"2026-01-02t03:04:05.123456"`, utc(2026, 1, 2, 3, 4, 5, 123456), ""},
		{"timestamp", `"1969-12-31T23:59:59.5"`, utc(1969, 12, 31, 23, 59, 59, 500000), ""},
		{"timestamp", `1767323045123`, utc(2026, 1, 2, 3, 4, 5, 123000), ""},
		{"timestamp", `-1000`, utc(1969, 12, 31, 23, 59, 59, 0), ""},
		{"timestamp", `1.767323045e12`, utc(2026, 1, 2, 3, 4, 5, 0), ""},
		{"timestamp", `"2026-01-02T03:04:05Z"`, nil, RuleSchemaType},
		{"timestamp", `"2026-01-02T03:04:05+01:00"`, nil, RuleSchemaType},
		{"timestamp", `"2026-01-02 03:04:05"`, nil, RuleSchemaType},
		{"timestamp", `"2026-02-30T00:00:00"`, nil, RuleSchemaType},
		{"timestamp", `"2026-01-02T03:04:05.1234567"`, nil, RuleSchemaPrecision},
		{"timestamp", `1.5`, nil, RuleSchemaType},
		{"timestamp", `1e30`, nil, RuleSchemaRange},

		{"timestamptz", `"2026-01-02T03:04:05Z"`, utc(2026, 1, 2, 3, 4, 5, 0), ""},
		{"timestamptz", `"2026-01-02T03:04:05z"`, utc(2026, 1, 2, 3, 4, 5, 0), ""},
		{"timestamptz", `"2026-01-02T03:04:05+01:00"`, utc(2026, 1, 2, 2, 4, 5, 0), ""},
		{"timestamptz", `"2026-01-02T03:04:05.5-05:30"`, utc(2026, 1, 2, 8, 34, 5, 500000), ""},
		{"timestamptz", `"2026-01-02T00:30:00+01:00"`, utc(2026, 1, 1, 23, 30, 0, 0), ""},
		{"timestamptz", `"2026-01-02T03:04:05.000001+00:00"`, utc(2026, 1, 2, 3, 4, 5, 1), ""},
		{"timestamptz", `0`, utc(1970, 1, 1, 0, 0, 0, 0), ""},
		{"timestamptz", `"2026-01-02T03:04:05"`, nil, RuleSchemaType},
		{"timestamptz", `"2026-01-02T03:04:05+24:00"`, nil, RuleSchemaType},
		{"timestamptz", `"2026-01-02T03:04:05+0100"`, nil, RuleSchemaType},
		{"timestamptz", `"2026-01-02T03:04:05.0000001Z"`, nil, RuleSchemaPrecision},
		{"timestamptz", `9223372036854776`, nil, RuleSchemaRange},

		{"uuid", `"123e4567-e89b-12d3-a456-426614174000"`, "123e4567-e89b-12d3-a456-426614174000", ""},
		{"uuid", `"123E4567-E89B-12D3-A456-426614174000"`, "123e4567-e89b-12d3-a456-426614174000", ""},
		{"uuid", `"123e4567e89b12d3a456426614174000"`, nil, RuleSchemaType},
		{"uuid", `"{123e4567-e89b-12d3-a456-426614174000}"`, nil, RuleSchemaType},
		{"uuid", `"123e4567-e89b-12d3-a456-42661417400g"`, nil, RuleSchemaType},
		{"uuid", `5`, nil, RuleSchemaType},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			d := newTestDecoder(t, []Column{{Name: "v", Type: tt.typ}}, nil, DecodeOptions{})
			body := `[{"v":` + tt.in + `}]`
			b := decodeOK(t, d, body, "json")
			if tt.rule != "" {
				require.Zero(t, b.Accepted)
				require.Len(t, b.Rejections, 1)
				require.Equal(t, [][2]string{{"v", tt.rule}}, reasonsOf(b.Rejections[0]), "%+v", b.Rejections[0].Reasons)
				require.Equal(t, body[1:len(body)-1], string(b.Rejections[0].Raw))
				return
			}
			require.Equal(t, 1, b.Accepted, "%+v", b.Rejections)
			require.Equal(t, tt.want, cell(b.Record.Column(0), 0))
		})
	}
}

func TestDecodeReasonsDoNotQuoteValues(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "v", Type: "decimal(4,2)"}, {Name: "w", Type: "timestamp"}}, nil, DecodeOptions{})
	b := decodeOK(t, d, `[{"v":"secret123","w":"2026-01-02T03:04:05Z"},{"v":123.456}]`, "json")
	for _, r := range b.Rejections {
		for _, v := range r.Reasons {
			require.NotContains(t, v.Reason, "secret")
			require.NotContains(t, v.Reason, "123")
			require.NotContains(t, v.Reason, "2026")
		}
	}
	require.Equal(t, "value must be a decimal number (a JSON number or a numeric string)", b.Rejections[0].Reasons[0].Reason)
	require.Equal(t, reasonTSOffset, b.Rejections[0].Reasons[1].Reason)
	require.Equal(t, [][2]string{{"v", RuleSchemaPrecision}}, reasonsOf(b.Rejections[1]))
	require.Equal(t, "value has more than 2 fractional digits (decimal(4,2))", b.Rejections[1].Reasons[0].Reason)
}

var nestedColumns = []Column{
	{Name: "id", Type: "long", Required: true},
	{Name: "addr", Type: "struct", Fields: []Column{{Name: "city", Type: "string", Required: true}, {Name: "zip", Type: "int"}}},
	{Name: "tags", Type: "list", Element: &Column{Type: "string", Required: true}},
	{Name: "scores", Type: "list", Element: &Column{Type: "double"}},
	{Name: "attrs", Type: "map", Key: &Column{Type: "string"}, Value: &Column{Type: "long"}},
	{Name: "counts", Type: "map", Key: &Column{Type: "long"}, Value: &Column{Type: "string", Required: true}},
	{Name: "items", Type: "list", Element: &Column{Type: "struct", Fields: []Column{
		{Name: "sku", Type: "string", Required: true},
		{Name: "price", Type: "decimal(10,2)"},
		{Name: "days", Type: "list", Element: &Column{Type: "date"}},
	}}},
}

const nestedBody = `[
{"id":1,"addr":{"city":"Berlin","zip":10115},"tags":["a","b"],"scores":[1.5,null],"attrs":{"x":1,"y":2,"\u00e9":3},
 "counts":[{"key":7,"value":"seven"},{"value":"eight","key":8}],
 "items":[{"sku":"A","price":"9.99","days":["2026-01-02",null]},{"sku":"B"}]},
{"id":2,"addr":null,"tags":[],"attrs":{},"counts":[],"items":[]},
{"id":3,"addr":{"zip":1},"tags":["a",null],"attrs":{"x":"1","x":2},"counts":{"7":"seven"},
 "items":[{"price":1},{"sku":"C","price":"1.234","days":["2026-02-30"]}]},
{"id":4,"counts":[{"key":1,"value":"a"},{"key":1.0,"value":"b"},{"key":2},{"value":"c"},5,{"key":3,"value":"x","extra":1}]},
{"id":5,"addr":{"city":"Paris","city":"Lyon"},"scores":{"a":1},"attrs":[{"key":"k","value":7}]}
]`

func TestDecodeNested(t *testing.T) {
	d := newTestDecoder(t, nestedColumns, nil, DecodeOptions{})
	b := decodeOK(t, d, nestedBody, "json")
	require.Equal(t, 2, b.Accepted)
	require.Equal(t, []map[string]any{
		{
			"id":     int64(1),
			"addr":   map[string]any{"city": "Berlin", "zip": int32(10115)},
			"tags":   []any{"a", "b"},
			"scores": []any{1.5, nil},
			"attrs":  [][2]any{{"x", int64(1)}, {"y", int64(2)}, {"é", int64(3)}},
			"counts": [][2]any{{int64(7), "seven"}, {int64(8), "eight"}},
			"items": []any{
				map[string]any{"sku": "A", "price": "9.99", "days": []any{"2026-01-02", nil}},
				map[string]any{"sku": "B", "price": nil, "days": nil},
			},
		},
		{
			"id": int64(2), "addr": nil, "tags": []any{}, "scores": nil, "attrs": [][2]any{}, "counts": [][2]any{},
			"items": []any{},
		},
	}, rows(b.Record))

	require.Len(t, b.Rejections, 3)
	require.Equal(t, 2, b.Rejections[0].Index)
	require.Equal(t, [][2]string{
		{"addr.city", RuleSchemaRequired},
		{"tags[1]", RuleSchemaRequired},
		{"attrs[0].value", RuleSchemaType},
		{"attrs[1].key", RuleSchemaDuplicate},
		{"counts", RuleSchemaType},
		{"items[0].sku", RuleSchemaRequired},
		{"items[1].price", RuleSchemaPrecision},
		{"items[1].days[0]", RuleSchemaType},
	}, reasonsOf(b.Rejections[0]))
	require.Equal(t, reasonMissing, b.Rejections[0].Reasons[0].Reason)
	require.Equal(t, reasonNull, b.Rejections[0].Reasons[1].Reason)
	require.Contains(t, b.Rejections[0].Reasons[4].Reason, "map keys of type long are not JSON object keys")

	require.Equal(t, 3, b.Rejections[1].Index)
	require.Equal(t, [][2]string{
		{"counts[1].key", RuleSchemaDuplicate},
		{"counts[2].value", RuleSchemaRequired},
		{"counts[3].key", RuleSchemaRequired},
		{"counts[4]", RuleSchemaType},
		{"counts[5].extra", RuleSchemaUnknown},
	}, reasonsOf(b.Rejections[1]))

	require.Equal(t, 4, b.Rejections[2].Index)
	require.Equal(t, [][2]string{
		{"addr.city", RuleSchemaDuplicate},
		{"scores", RuleSchemaType},
	}, reasonsOf(b.Rejections[2]), "a string-keyed map also accepts the entry array form")
}

func TestDecodeUnknownFields(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: "long"},
		{Name: "addr", Type: "struct", Fields: []Column{{Name: "city", Type: "string"}}},
	}
	body := `[{"id":1,"x":{"deep":[1,2,{"a":null}]},"addr":{"city":"B","street":"S"},"y":null}]`

	reject := newTestDecoder(t, cols, nil, DecodeOptions{})
	b := decodeOK(t, reject, body, "json")
	require.Zero(t, b.Accepted)
	require.Equal(t, [][2]string{{"x", RuleSchemaUnknown}, {"addr.street", RuleSchemaUnknown}, {"y", RuleSchemaUnknown}},
		reasonsOf(b.Rejections[0]))

	explicit := newTestDecoder(t, cols, nil, DecodeOptions{UnknownFields: "reject"})
	require.Zero(t, decodeOK(t, explicit, body, "json").Accepted)

	drop := newTestDecoder(t, cols, nil, DecodeOptions{UnknownFields: "drop"})
	b = decodeOK(t, drop, body, "json")
	require.Empty(t, b.Rejections)
	require.Equal(t, []map[string]any{{"id": int64(1), "addr": map[string]any{"city": "B"}}}, rows(b.Record))

	// Dropped values must still be well-formed.
	var serr *SyntaxError
	require.ErrorAs(t, decodeErr(t, drop, `[{"id":1,"x":[1,}]`, "json"), &serr)

	// A long unknown key is cut in the violation's field.
	long := strings.Repeat("k", 500)
	b = decodeOK(t, reject, `[{"`+long+`":1}]`, "json")
	require.Equal(t, strings.Repeat("k", maxKeyInPath), b.Rejections[0].Reasons[0].Field)
}

func TestDecodeRequired(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: "long", Required: true},
		{Name: "addr", Type: "struct", Fields: []Column{{Name: "city", Type: "string", Required: true}}},
		{Name: "must", Type: "struct", Required: true, Fields: []Column{{Name: "x", Type: "int"}}},
	}
	d := newTestDecoder(t, cols, nil, DecodeOptions{})
	b := decodeOK(t, d, `[
		{"id":1,"must":{}},
		{"must":{"x":1}},
		{"id":null,"must":{}},
		{"id":2,"addr":null,"must":null},
		{"id":3,"addr":{},"must":{}},
		{"id":4,"addr":{"city":null},"must":{"x":null}},
		{}
	]`, "json")
	require.Equal(t, 1, b.Accepted)
	require.Equal(t, []map[string]any{{"id": int64(1), "addr": nil, "must": map[string]any{"x": nil}}}, rows(b.Record))
	got := map[int][][2]string{}
	for _, r := range b.Rejections {
		got[r.Index] = reasonsOf(r)
	}
	require.Equal(t, map[int][][2]string{
		1: {{"id", RuleSchemaRequired}},
		2: {{"id", RuleSchemaRequired}},
		3: {{"must", RuleSchemaRequired}},
		4: {{"addr.city", RuleSchemaRequired}},
		5: {{"addr.city", RuleSchemaRequired}},
		6: {{"id", RuleSchemaRequired}, {"must", RuleSchemaRequired}},
	}, got)
	require.Equal(t, reasonMissing, b.Rejections[0].Reasons[0].Reason)
	require.Equal(t, reasonNull, b.Rejections[1].Reasons[0].Reason)
}

func TestDecodeDuplicateKeys(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}, {Name: "n", Type: "string"}}, nil, DecodeOptions{})
	b := decodeOK(t, d, `[{"id":1,"id":2},{"id":"x","id":2},{"n":"a","\u006e":"b"}]`, "json")
	require.Zero(t, b.Accepted)
	require.Equal(t, [][2]string{{"id", RuleSchemaDuplicate}}, reasonsOf(b.Rejections[0]))
	require.Equal(t, [][2]string{{"id", RuleSchemaType}, {"id", RuleSchemaDuplicate}}, reasonsOf(b.Rejections[1]))
	require.Equal(t, [][2]string{{"n", RuleSchemaDuplicate}}, reasonsOf(b.Rejections[2]))
}

var ruleColumns = []Column{
	{Name: "id", Type: "long"},
	{Name: "code", Type: "string"},
	{Name: "email", Type: "string"},
	{Name: "amount", Type: "decimal(10,2)"},
	{Name: "qty", Type: "int"},
	{Name: "score", Type: "double"},
	{Name: "ratio", Type: "float"},
	{Name: "country", Type: "string"},
	{Name: "session", Type: "uuid"},
	{Name: "day", Type: "date"},
	{Name: "active", Type: "boolean"},
	{Name: "name", Type: "string"},
	{Name: "blob", Type: "binary"},
	{Name: "addr", Type: "struct", Fields: []Column{{Name: "zip", Type: "int"}, {Name: "city", Type: "string"}}},
}

func TestDecodeRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		body  string // records, joined into an array
		want  map[int][][2]string
	}{
		{
			name:  "not_null",
			rules: []Rule{{Rule: KindNotNull, Field: "email"}, {Rule: KindNotNull, Field: "addr.city"}},
			body:  `{"email":"a","addr":{"city":"B"}},{"email":null,"addr":{"city":"B"}},{"addr":null},{"email":"a","addr":{}},{"email":5,"addr":{"city":"B"}}`,
			want: map[int][][2]string{
				1: {{"email", "not_null:email"}},
				2: {{"email", "not_null:email"}, {"addr.city", "not_null:addr.city"}},
				3: {{"addr.city", "not_null:addr.city"}},
				4: {{"email", RuleSchemaType}}, // a value that failed decoding is not also null
			},
		},
		{
			name: "range on decimal, int, double, float and a nested int",
			rules: []Rule{
				{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(100.5)},
				{Rule: KindRange, Field: "qty", Min: ptr(1.5), Max: ptr(10)},
				{Rule: KindRange, Field: "score", Max: ptr(0.1)},
				{Rule: KindRange, Field: "ratio", Max: ptr(0.1)},
				{Rule: KindRange, Field: "addr.zip", Min: ptr(1000), Max: ptr(99999)},
			},
			body: `{"amount":"100.50","qty":2,"score":0.1,"ratio":0.1,"addr":{"zip":1000}},
				{"amount":"100.51","qty":1,"score":0.10000000000000002,"ratio":0.2,"addr":{"zip":999}},
				{"amount":"-0.01","qty":11,"addr":{"zip":100000}},
				{"amount":0,"qty":10,"score":-1e300}`,
			want: map[int][][2]string{
				1: {{"amount", "range:amount"}, {"qty", "range:qty"}, {"score", "range:score"}, {"ratio", "range:ratio"}, {"addr.zip", "range:addr.zip"}},
				2: {{"amount", "range:amount"}, {"qty", "range:qty"}, {"addr.zip", "range:addr.zip"}},
			},
		},
		{
			name:  "range bounds beyond the column range",
			rules: []Rule{{Rule: KindRange, Field: "qty", Min: ptr(-1e30), Max: ptr(1e30)}, {Rule: KindRange, Field: "id", Min: ptr(1e19)}, {Rule: KindRange, Field: "amount", Max: ptr(-1e40)}},
			body:  `{"qty":2147483647,"id":9223372036854775807,"amount":"-99999999.99"}`,
			want:  map[int][][2]string{0: {{"id", "range:id"}, {"amount", "range:amount"}}},
		},
		{
			name:  "regex",
			rules: []Rule{{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`}},
			body:  `{"email":"a@b.c"},{"email":"a.b.c"},{"email":"a@b@c"},{"email":null},{}`,
			want:  map[int][][2]string{1: {{"email", "regex:email"}}, 2: {{"email", "regex:email"}}},
		},
		{
			name: "allowed_values by column type",
			rules: []Rule{
				{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}},
				{Rule: KindAllowedValues, Field: "qty", Values: []any{1.0, json.Number("2"), 3}},
				{Rule: KindAllowedValues, Field: "session", Values: []any{"123E4567-E89B-12D3-A456-426614174000"}},
				{Rule: KindAllowedValues, Field: "day", Values: []any{"2024-02-29"}},
				{Rule: KindAllowedValues, Field: "active", Values: []any{true}},
			},
			body: `{"country":"DE","qty":1e0,"session":"123e4567-e89b-12d3-a456-426614174000","day":"2024-02-29","active":true},
				{"country":"de","qty":4,"session":"00000000-0000-0000-0000-000000000000","day":"2024-03-01","active":false},
				{"country":"FR","qty":3}`,
			want: map[int][][2]string{1: {
				{"country", "allowed_values:country"}, {"qty", "allowed_values:qty"}, {"session", "allowed_values:session"},
				{"day", "allowed_values:day"}, {"active", "allowed_values:active"},
			}},
		},
		{
			name:  "max_length counts characters of strings and bytes of binaries",
			rules: []Rule{{Rule: KindMaxLength, Field: "name", Max: ptr(3)}, {Rule: KindMaxLength, Field: "blob", Max: ptr(2)}},
			body:  `{"name":"äöü","blob":"AAE="},{"name":"abcd","blob":"AAEC"},{"name":"\u00e4\u00f6\u00fc\u00df"}`,
			want:  map[int][][2]string{1: {{"name", "max_length:name"}, {"blob", "max_length:blob"}}, 2: {{"name", "max_length:name"}}},
		},
		{
			name:  "unique_in_batch compares decoded values across the batch",
			rules: []Rule{{Rule: KindUniqueInBatch, Field: "id"}, {Rule: KindUniqueInBatch, Field: "code"}, {Rule: KindUniqueInBatch, Field: "amount"}},
			body: `{"id":1,"code":"a","amount":"1.5"},{"id":2,"code":"b","amount":1.50},{"id":1e0,"code":"a"},
				{"id":100,"code":"c"},{"id":1e2,"code":"d"},{"id":null},{"id":null},{"code":"\u0061"},{"amount":"1.500"}`,
			want: map[int][][2]string{
				1: {{"amount", "unique_in_batch:amount"}},
				2: {{"id", "unique_in_batch:id"}, {"code", "unique_in_batch:code"}},
				4: {{"id", "unique_in_batch:id"}},
				7: {{"code", "unique_in_batch:code"}},
				8: {{"amount", "unique_in_batch:amount"}},
			},
		},
		{
			name:  "unique_in_batch ignores rejected records",
			rules: []Rule{{Rule: KindUniqueInBatch, Field: "id"}, {Rule: KindNotNull, Field: "email"}},
			body:  `{"id":5},{"id":5,"email":"a"},{"id":5,"email":"b"},{"id":6,"email":"c","qty":"x"},{"id":6,"email":"d"}`,
			want: map[int][][2]string{
				0: {{"email", "not_null:email"}},
				2: {{"id", "unique_in_batch:id"}},
				3: {{"qty", RuleSchemaType}},
			},
		},
		{
			name: "several violations on one record, schema first, then rules in order",
			rules: []Rule{
				{Rule: KindNotNull, Field: "email"},
				{Rule: KindRange, Field: "amount", Min: ptr(0)},
				{ID: "country-eu", Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}},
				{Rule: KindMaxLength, Field: "name", Max: ptr(4), Message: "name too long"},
				{Rule: KindUniqueInBatch, Field: "id", Message: "id reused"},
			},
			body: `{"id":7,"email":"a@b.c","amount":5,"country":"DE","name":"Ann"},
				{"id":7,"amount":-1,"country":"US","name":"Bartholomew","qty":1.5,"extra":1}`,
			want: map[int][][2]string{1: {
				{"qty", RuleSchemaType}, {"extra", RuleSchemaUnknown},
				{"email", "not_null:email"}, {"amount", "range:amount"}, {"country", "country-eu"},
				{"name", "max_length:name"}, {"id", "unique_in_batch:id"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDecoder(t, ruleColumns, tt.rules, DecodeOptions{})
			b := decodeOK(t, d, "["+tt.body+"]", "json")
			got := map[int][][2]string{}
			for _, r := range b.Rejections {
				got[r.Index] = reasonsOf(r)
			}
			if len(tt.want) == 0 {
				tt.want = map[int][][2]string{}
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeRuleReasons(t *testing.T) {
	rules := []Rule{
		{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(10)},
		{Rule: KindUniqueInBatch, Field: "id"},
		{Rule: KindRegex, Field: "email", Pattern: "@", Message: "email needs an @"},
	}
	d := newTestDecoder(t, ruleColumns, rules, DecodeOptions{})
	b := decodeOK(t, d, `[{"id":1,"amount":11,"email":"x"},{"id":2,"amount":-1},{"id":2}]`, "json")
	require.Equal(t, []Rejection{
		{Index: 0, Raw: json.RawMessage(`{"id":1,"amount":11,"email":"x"}`), Reasons: []Violation{
			{Index: 0, Field: "amount", Rule: "range:amount", Reason: "value is above the maximum 10"},
			{Index: 0, Field: "email", Rule: "regex:email", Reason: "email needs an @"},
		}},
		{Index: 1, Raw: json.RawMessage(`{"id":2,"amount":-1}`), Reasons: []Violation{
			{Index: 1, Field: "amount", Rule: "range:amount", Reason: "value is below the minimum 0"},
		}},
	}, b.Rejections[:2])
	require.Empty(t, b.Rejections[2:], "record 1 was rejected, so record 2 holds the first id 2")

	out, err := json.Marshal(b.Rejections[1])
	require.NoError(t, err)
	require.JSONEq(t, `{"index":1,"reasons":[{"index":1,"field":"amount","rule":"range:amount","reason":"value is below the minimum 0"}]}`, string(out))
}

// allTypes has a column of every type, for the exact Arrow contents.
var allTypes = []Column{
	{Name: "b", Type: "boolean", Required: true},
	{Name: "i", Type: "int"},
	{Name: "l", Type: "long"},
	{Name: "f", Type: "float"},
	{Name: "d", Type: "double"},
	{Name: "dec", Type: "decimal(9,3)"},
	{Name: "s", Type: "string"},
	{Name: "bin", Type: "binary"},
	{Name: "day", Type: "date"},
	{Name: "t", Type: "time"},
	{Name: "ts", Type: "timestamp"},
	{Name: "tstz", Type: "timestamptz"},
	{Name: "u", Type: "uuid"},
	{Name: "st", Type: "struct", Fields: []Column{{Name: "a", Type: "int", Required: true}, {Name: "b", Type: "string"}}},
	{Name: "li", Type: "list", Element: &Column{Type: "long", Required: true}},
	{Name: "m", Type: "map", Key: &Column{Type: "string"}, Value: &Column{Type: "double"}},
}

func TestDecodeArrowRecord(t *testing.T) {
	sc := icebergArrow(t, allTypes)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	d, err := NewDecoder(allTypes, sc, nil, DecodeOptions{Allocator: mem})
	require.NoError(t, err)
	body := `{"b":true,"i":-5,"l":1e15,"f":0.5,"d":-2.25,"dec":"-1.5","s":"x\"y","bin":"AAH/","day":"2026-01-02",` +
		`"t":"12:34:56.789","ts":"2026-01-02T03:04:05.000006","tstz":"2026-01-02T03:04:05+02:00",` +
		`"u":"00112233-4455-6677-8899-aabbccddeeff","st":{"b":"q","a":1},"li":[3,2,1],"m":{"k":1.25,"j":null}}` + "\n" +
		`{"b":false}` + "\n" +
		`{"b":true,"st":{"a":"bad"}}` + "\n"
	b, err := d.Decode(strings.NewReader(body), "ndjson")
	require.NoError(t, err)
	checkBatch(t, b)
	rec := b.Record
	require.Same(t, sc, rec.Schema(), "the record carries the given schema, field ids included")
	fid, ok := rec.Schema().Field(13).Metadata.GetValue("PARQUET:field_id")
	require.True(t, ok)
	require.Equal(t, "14", fid)
	require.Equal(t, arrow.EXTENSION, rec.Schema().Field(12).Type.ID())
	require.Equal(t, []map[string]any{
		{
			"b": true, "i": int32(-5), "l": int64(1e15), "f": float32(0.5), "d": -2.25, "dec": "-1.500", "s": `x"y`,
			"bin": []byte{0, 1, 0xff}, "day": "2026-01-02", "t": 12*time.Hour + 34*time.Minute + 56789*time.Millisecond,
			"ts": utc(2026, 1, 2, 3, 4, 5, 6), "tstz": utc(2026, 1, 2, 1, 4, 5, 0), "u": "00112233-4455-6677-8899-aabbccddeeff",
			"st": map[string]any{"a": int32(1), "b": "q"}, "li": []any{int64(3), int64(2), int64(1)},
			"m": [][2]any{{"k", 1.25}, {"j", nil}},
		},
		{
			"b": false, "i": nil, "l": nil, "f": nil, "d": nil, "dec": nil, "s": nil, "bin": nil, "day": nil, "t": nil,
			"ts": nil, "tstz": nil, "u": nil, "st": nil, "li": nil, "m": nil,
		},
	}, rows(rec))
	require.Len(t, b.Rejections, 1)
	require.Equal(t, `{"b":true,"st":{"a":"bad"}}`, string(b.Rejections[0].Raw))
	rec.Release()
	mem.AssertSize(t, 0)
}

func TestDecodeDerivedSchema(t *testing.T) {
	d, err := NewDecoder(allTypes, nil, nil, DecodeOptions{})
	require.NoError(t, err)
	want := icebergArrow(t, allTypes)
	got := d.Schema()
	require.Equal(t, want.NumFields(), got.NumFields())
	for i := range got.NumFields() {
		require.True(t, arrow.TypeEqual(want.Field(i).Type, got.Field(i).Type), "field %d: %s vs %s", i, want.Field(i).Type, got.Field(i).Type)
		require.Equal(t, want.Field(i).Nullable, got.Field(i).Nullable)
		require.Equal(t, want.Field(i).Name, got.Field(i).Name)
	}
}

func TestDecodeNDJSON(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long", Required: true}}, nil, DecodeOptions{})
	body := "\xEF\xBB\xBF{\"id\":1}\r\n\r\n   \n{\"id\":2}\n\t{\"id\":3} \r\n{\"id\":\"x\"}\r\n\n{\"id\":5}"
	b := decodeOK(t, d, body, "ndjson")
	require.Equal(t, 4, b.Accepted)
	require.Equal(t, []any{int64(1), int64(2), int64(3), int64(5)}, []any{
		cell(b.Record.Column(0), 0), cell(b.Record.Column(0), 1), cell(b.Record.Column(0), 2), cell(b.Record.Column(0), 3),
	})
	require.Len(t, b.Rejections, 1)
	require.Equal(t, 3, b.Rejections[0].Index, "blank lines are not records")
	require.Equal(t, `{"id":"x"}`, string(b.Rejections[0].Raw))

	for _, empty := range []string{"", "\n", "\r\n\r\n", "  \t\n"} {
		b := decodeOK(t, d, empty, "ndjson")
		require.Zero(t, b.Accepted)
		require.Empty(t, b.Rejections)
	}
	b = decodeOK(t, d, "[]", "json")
	require.Zero(t, b.Accepted)
	b = decodeOK(t, d, "\xEF\xBB\xBF\n", "ndjson")
	require.Zero(t, b.Accepted)
}

func TestDecodeSingleObject(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}}, nil, DecodeOptions{})
	b := decodeOK(t, d, "\xEF\xBB\xBF \n{\"id\":7}\n ", "json")
	require.Equal(t, 1, b.Accepted)
}

func TestDecodeMalformed(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}, {Name: "name", Type: "string"}}, nil, DecodeOptions{UnknownFields: "drop"})
	tests := []struct {
		name   string
		format string
		body   string
		index  int
		line   int
		offset int64
		msg    string
	}{
		{"error in record 5", "json", `[{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":}]`, 5, 1, 52, "expected a JSON value"},
		{"error on line 4", "json", "[\n{\"id\":1},\n{\"id\":2},\n{\"id\":3,,}\n]", 2, 4, 30, "expected a string key"},
		{"offset", "json", `[{"id":1},{"id":}]`, 1, 1, 16, "expected a JSON value"},
		{"empty body", "json", ``, 0, 1, 0, "empty body"},
		{"blank body", "json", " \n ", 0, 2, 3, "empty body"},
		{"not an array", "json", `42`, 0, 1, 0, "must be a JSON array of objects"},
		{"string body", "json", `"x"`, 0, 1, 0, "must be a JSON array of objects"},
		{"record not an object", "json", `[{"id":1},1]`, 1, 1, 10, "not a JSON object"},
		{"nested array record", "json", `[[{"id":1}]]`, 0, 1, 1, "not a JSON object"},
		{"null record", "json", `[null]`, 0, 1, 1, "not a JSON object"},
		{"trailing comma", "json", `[{"id":1},]`, 1, 1, 10, "trailing comma"},
		{"unclosed array", "json", `[{"id":1}`, 1, 1, 9, "not closed"},
		{"unclosed after comma", "json", `[{"id":1},`, 1, 1, 10, "not closed"},
		{"truncated record", "json", `[{"id":1`, 0, 1, 8, "unexpected end"},
		{"truncated string", "json", `[{"name":"ab`, 0, 1, 12, "unexpected end"},
		{"data after array", "json", `[{"id":1}] x`, 1, 1, 11, "after the array"},
		{"second array", "json", `[][]`, 0, 1, 2, "after the array"},
		{"data after single object", "json", `{"id":1} {"id":2}`, 1, 1, 9, "after the record"},
		{"missing comma", "json", `[{"id":1} {"id":2}]`, 1, 1, 10, "expected ',' or ']'"},
		{"leading zero", "json", `[{"id":01}]`, 0, 1, 8, "expected ',' or '}'"},
		{"bad exponent", "json", `[{"id":1e}]`, 0, 1, 9, "invalid number"},
		{"lone minus", "json", `[{"id":-}]`, 0, 1, 8, "invalid number"},
		{"plus sign", "json", `[{"id":+1}]`, 0, 1, 7, "expected a JSON value"},
		{"bad literal", "json", `[{"id":tru}]`, 0, 1, 7, "invalid literal"},
		{"bad escape", "json", `[{"name":"a\qb"}]`, 0, 1, 11, "invalid escape"},
		{"bad unicode escape", "json", `[{"name":"\u12G4"}]`, 0, 1, 10, `invalid \u escape`},
		{"lone high surrogate", "json", `[{"name":"\ud800x"}]`, 0, 1, 10, "lone surrogate"},
		{"lone low surrogate", "json", `[{"name":"\udc00"}]`, 0, 1, 10, "lone surrogate"},
		{"high surrogate then non-low", "json", `[{"name":"\ud800\u0041"}]`, 0, 1, 10, "lone surrogate"},
		{"control character", "json", "[{\"name\":\"a\nb\"}]", 0, 1, 11, "control character"},
		{"invalid UTF-8 in a value", "json", "[{\"id\":1},{\"name\":\"a\xffb\"}]", 1, 1, 20, "invalid UTF-8"},
		{"truncated UTF-8", "json", "[{\"name\":\"\xc3\"}]", 0, 1, 10, "invalid UTF-8"},
		{"overlong UTF-8", "json", "[{\"name\":\"\xc0\xaf\"}]", 0, 1, 10, "invalid UTF-8"},
		{"UTF-16 surrogate in UTF-8", "json", "[{\"name\":\"\xed\xa0\x80\"}]", 0, 1, 10, "invalid UTF-8"},
		{"invalid UTF-8 in a key", "json", "[{\"n\xffme\":1}]", 0, 1, 4, "invalid UTF-8"},
		{"invalid UTF-8 in a dropped value", "json", "[{\"x\":[\"\xff\"]}]", 0, 1, 8, "invalid UTF-8"},
		{"invalid UTF-8 outside strings", "json", "[{\"id\":1}\xff]", 1, 1, 9, "expected ',' or ']'"},
		{"unquoted key", "json", `[{id:1}]`, 0, 1, 2, "expected a string key"},
		{"missing colon", "json", `[{"id" 1}]`, 0, 1, 7, "expected ':'"},
		{"ndjson error on line 5", "ndjson", "{\"id\":1}\n\n{\"id\":2}\r\n{\"id\":3}\n{\"id\":4,}\n{\"id\":5}", 3, 5, 37, "expected a string key"},
		{"ndjson record not an object", "ndjson", "{\"id\":1}\n[1]\n", 1, 2, 9, "not a JSON object"},
		{"ndjson two records on a line", "ndjson", "{\"id\":1} {\"id\":2}\n", 0, 1, 9, "unexpected data after the record"},
		{"ndjson record over two lines", "ndjson", "{\"id\":\n1}\n", 0, 1, 6, "unexpected end"},
		{"ndjson truncated last line", "ndjson", "{\"id\":1}\n{\"id\"", 1, 2, 14, "unexpected end"},
		{"ndjson array body", "ndjson", `[{"id":1}]`, 0, 1, 0, "not a JSON object"},
		{"ndjson invalid UTF-8", "ndjson", "{\"id\":1}\n{\"name\":\"\xfe\"}\n", 1, 2, 18, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeErr(t, d, tt.body, tt.format)
			var serr *SyntaxError
			require.ErrorAs(t, err, &serr)
			require.Contains(t, serr.Msg, tt.msg)
			require.Equal(t, tt.index, serr.Index, "index")
			require.Equal(t, tt.line, serr.Line, "line")
			require.Equal(t, tt.offset, serr.Offset, "offset")
			require.Contains(t, err.Error(), fmt.Sprintf("record %d (line %d, byte %d)", tt.index, tt.line, tt.offset))
		})
	}
}

func TestDecodeMaxDepth(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: "long"},
		{Name: "deep", Type: "list", Element: &Column{Type: "list", Element: &Column{Type: "long"}}},
	}
	d := newTestDecoder(t, cols, nil, DecodeOptions{UnknownFields: "drop", MaxDepth: 4})
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

	// The record is depth 1, so 3 nested arrays reach depth 4.
	b := decodeOK(t, d, `[{"x":`+nest(3)+`,"deep":[[1]]}]`, "json")
	require.Equal(t, 1, b.Accepted)

	for _, body := range []string{
		`[{"id":1},{"x":` + nest(4) + `}]`,
		`[{"id":1},{"x":{"a":{"b":{"c":{}}}}}]`,
		`[{"id":1},{"deep":[[[[1]]]]}]`,
		`[{"id":1},{"x":` + strings.Repeat("[", 1_000_000) + `}]`,
	} {
		err := decodeErr(t, d, body, "json")
		var lerr *LimitError
		require.ErrorAs(t, err, &lerr)
		require.Equal(t, &LimitError{Limit: LimitDepth, Max: 4, Index: 1, Line: 1}, lerr)
		require.Equal(t, "record 1 (line 1) is nested deeper than 4 levels", err.Error())
	}
	err := decodeErr(t, d, "{\"id\":1}\n{\"deep\":[[[[1]]]]}\n", "ndjson")
	var lerr *LimitError
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, &LimitError{Limit: LimitDepth, Max: 4, Index: 1, Line: 2}, lerr)

	// The default limit is 32.
	def := newTestDecoder(t, cols, nil, DecodeOptions{UnknownFields: "drop"})
	decodeOK(t, def, `[{"x":`+nest(31)+`}]`, "json")
	require.ErrorAs(t, decodeErr(t, def, `[{"x":`+nest(32)+`}]`, "json"), &lerr)
	require.Equal(t, DefaultMaxDepth, lerr.Max)
}

func TestDecodeMaxRecords(t *testing.T) {
	cols := []Column{{Name: "id", Type: "long"}}
	small := newTestDecoder(t, cols, nil, DecodeOptions{MaxRecords: 3})
	decodeOK(t, small, `[{},{},{"id":1}]`, "json")
	decodeOK(t, small, "{}\n{}\n\n{}\n\n", "ndjson")
	var lerr *LimitError
	require.ErrorAs(t, decodeErr(t, small, `[{},{},{"id":1},{}]`, "json"), &lerr)
	require.Equal(t, &LimitError{Limit: LimitRecords, Max: 3, Index: 3, Line: 1}, lerr)
	require.Equal(t, "body has more than 3 records", lerr.Error())
	require.ErrorAs(t, decodeErr(t, small, "{}\n{}\n\n{}\n\n{}", "ndjson"), &lerr)
	require.Equal(t, &LimitError{Limit: LimitRecords, Max: 3, Index: 3, Line: 6}, lerr)
}

// A million tiny records over the default limit fail at the limit, having
// read only part of the body and allocated a bounded amount.
func TestDecodeMillionRecordsOverLimit(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}}, nil, DecodeOptions{})
	for _, format := range []string{"json", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			g := &genReader{head: "[", rec: `{"id":1}`, sep: ",", tail: "]", count: 1_000_000}
			if format == "ndjson" {
				g = &genReader{rec: "{}", sep: "\n", count: 1_000_000}
			}
			total := int64(len(g.head)+len(g.tail)) + int64(g.count)*int64(len(g.rec)+len(g.sep))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b, err := d.Decode(g, format)
			runtime.ReadMemStats(&after)
			require.Nil(t, b)
			var lerr *LimitError
			require.ErrorAs(t, err, &lerr)
			require.Equal(t, LimitRecords, lerr.Limit)
			require.Equal(t, DefaultMaxRecords, lerr.Max)
			require.Equal(t, DefaultMaxRecords, lerr.Index)
			require.Less(t, g.read, total/5, "decoding must stop at the limit")
			allocated := after.TotalAlloc - before.TotalAlloc
			require.Less(t, allocated, uint64(16<<20), "allocated %d bytes", allocated)
		})
	}

	// A body that never ends fails the same way.
	g := &genReader{head: "[", rec: "{}", sep: ",", count: math.MaxInt}
	_, err := d.Decode(g, "json")
	var lerr *LimitError
	require.ErrorAs(t, err, &lerr)
}

func TestDecodeMaxRecordBytes(t *testing.T) {
	cols := []Column{{Name: "s", Type: "string"}}
	d := newTestDecoder(t, cols, nil, DecodeOptions{MaxRecordBytes: 100})
	rec := func(n int) string { return `{"s":"` + strings.Repeat("x", n-8) + `"}` }
	require.Len(t, rec(100), 100)
	decodeOK(t, d, "["+rec(100)+","+rec(100)+"]", "json")
	decodeOK(t, d, rec(100)+"\r\n"+rec(100), "ndjson")
	decodeOK(t, d, "  "+rec(100)+"  \n", "ndjson")

	var lerr *LimitError
	require.ErrorAs(t, decodeErr(t, d, "["+rec(100)+",\n"+rec(101)+"]", "json"), &lerr)
	require.Equal(t, &LimitError{Limit: LimitRecordBytes, Max: 100, Index: 1, Line: 2}, lerr)
	require.Equal(t, "record 1 (line 2) is longer than 100 bytes", lerr.Error())
	require.ErrorAs(t, decodeErr(t, d, rec(100)+"\n"+rec(101)+"\n", "ndjson"), &lerr)
	require.Equal(t, &LimitError{Limit: LimitRecordBytes, Max: 100, Index: 1, Line: 2}, lerr)

	// A huge record fails without reading it all.
	for _, format := range []string{"json", "ndjson"} {
		g := &genReader{head: `{"s":"`, rec: strings.Repeat("x", 1000), count: 1 << 20, tail: `"}`}
		_, err := d.Decode(g, format)
		require.ErrorAs(t, err, &lerr, format)
		require.Equal(t, LimitRecordBytes, lerr.Limit)
		require.Less(t, g.read, int64(1<<20), format)
	}
	big := newTestDecoder(t, cols, nil, DecodeOptions{})
	g := &genReader{head: `[{"s":"`, rec: strings.Repeat("x", 1000), count: 1 << 20, tail: `"}]`}
	_, err := big.Decode(g, "json")
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, &LimitError{Limit: LimitRecordBytes, Max: DefaultMaxRecordBytes, Index: 0, Line: 1}, lerr)
	require.Less(t, g.read, int64(4*DefaultMaxRecordBytes))
}

var errBoom = errors.New("boom")

func TestDecodeReadError(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}}, nil, DecodeOptions{})
	for format, prefixes := range map[string][]string{
		"json":   {"", "\xEF", "[", `[{"id":1},{"id"`, `[{"id":1},`, `[{"id":1}`, `{"id":1}`},
		"ndjson": {"", "\xEF", `{"id":1}`, "{\"id\":1}\n{\"id\":", "{\"id\":1}\n"},
	} {
		for _, prefix := range prefixes {
			r := io.MultiReader(strings.NewReader(prefix), iotest.ErrReader(errBoom))
			b, err := d.Decode(r, format)
			require.Nil(t, b)
			require.ErrorIs(t, err, errBoom, "%s %q", format, prefix)
		}
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestDecodeStuckReader(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}}, nil, DecodeOptions{})
	for _, format := range []string{"json", "ndjson"} {
		_, err := d.Decode(io.MultiReader(strings.NewReader(`[{"id":1}`), stuckReader{}), format)
		require.ErrorIs(t, err, io.ErrNoProgress, format)
	}
}

func TestDecodeUnknownFormat(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "id", Type: "long"}}, nil, DecodeOptions{})
	_, err := d.Decode(strings.NewReader("[]"), "csv")
	require.ErrorIs(t, err, ErrUnknownFormat)
}

// Any way of splitting the body into reads gives the same result.
func TestDecodeReaders(t *testing.T) {
	d := newTestDecoder(t, nestedColumns, nil, DecodeOptions{})
	ndjson := strings.ReplaceAll(strings.ReplaceAll(nestedBody, "\n ", " "), "},\n{", "}\n{")
	ndjson = strings.TrimSuffix(strings.TrimPrefix(ndjson, "[\n"), "\n]")
	for format, body := range map[string]string{"json": nestedBody, "ndjson": ndjson} {
		want := decodeOK(t, d, body, format)
		require.Equal(t, 2, want.Accepted, format)
		require.Len(t, want.Rejections, 3, format)
		readers := map[string]func(io.Reader) io.Reader{
			"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data+EOF": iotest.DataErrReader,
		}
		for name, wrap := range readers {
			b, err := d.Decode(wrap(strings.NewReader(body)), format)
			require.NoError(t, err, "%s %s", format, name)
			require.Equal(t, rows(want.Record), rows(b.Record), "%s %s", format, name)
			require.Equal(t, want.Rejections, b.Rejections, "%s %s", format, name)
			b.Record.Release()
		}
	}
}

func TestDecodeConcurrent(t *testing.T) {
	d := newTestDecoder(t, benchColumns, benchRules, DecodeOptions{})
	body := benchBody(2000, false)
	body = append(body[:len(body)-1], []byte(`,{"id":1000000,"ts":0}]`)...)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				b, err := d.Decode(bytes.NewReader(body), "json")
				if err != nil {
					t.Error(err)
					return
				}
				if b.Accepted != 2000 || len(b.Rejections) != 1 || b.Rejections[0].Index != 2000 {
					t.Errorf("accepted %d, rejections %+v", b.Accepted, b.Rejections)
				}
				b.Record.Release()
			}
		})
	}
	wg.Wait()
}

func TestDecodeNoLeaks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	d, err := NewDecoder(nestedColumns, icebergArrow(t, nestedColumns), nil, DecodeOptions{Allocator: mem, MaxRecords: 5})
	require.NoError(t, err)
	for range 3 {
		b, err := d.Decode(strings.NewReader(nestedBody), "json")
		require.NoError(t, err)
		b.Record.Release()
		_, err = d.Decode(strings.NewReader(`[{"id":1},{"id":2},{"id":3,`), "json")
		require.Error(t, err)
		_, err = d.Decode(strings.NewReader(strings.Repeat(`{"id":1}`+"\n", 6)), "ndjson")
		require.Error(t, err)
	}
	mem.AssertSize(t, 0)
}

func TestNewDecoderErrors(t *testing.T) {
	cols := []Column{{Name: "id", Type: "long", Required: true}, {Name: "amount", Type: "decimal(10,2)"}}
	sc := icebergArrow(t, cols)
	tests := []struct {
		name  string
		cols  []Column
		sc    *arrow.Schema
		rules []Rule
		opts  DecodeOptions
		msg   string
	}{
		{"unknown fields mode", cols, sc, nil, DecodeOptions{UnknownFields: "keep"}, `unknown fields must be "reject" or "drop"`},
		{"negative limit", cols, sc, nil, DecodeOptions{MaxRecords: -1}, "must not be negative"},
		{"depth too large", cols, sc, nil, DecodeOptions{MaxDepth: 5000}, "MaxDepth at most 1000"},
		{"record bytes too large", cols, sc, nil, DecodeOptions{MaxRecordBytes: 2 << 30}, "MaxRecordBytes at most 1 GiB"},
		{"no columns", nil, nil, nil, DecodeOptions{}, "no columns"},
		{"duplicate column", []Column{{Name: "a", Type: "int"}, {Name: "a", Type: "long"}}, nil, nil, DecodeOptions{}, "duplicate name"},
		{"unknown type", []Column{{Name: "a", Type: "varchar"}}, nil, nil, DecodeOptions{}, `unknown type "varchar"`},
		{"bad decimal", []Column{{Name: "a", Type: "decimal(40,2)"}}, nil, nil, DecodeOptions{}, "precision must be 1 to 38"},
		{"list without element", []Column{{Name: "a", Type: "list"}}, nil, nil, DecodeOptions{}, "list without element"},
		{"struct key", []Column{{Name: "a", Type: "map", Key: &Column{Type: "struct", Fields: cols}, Value: &Column{Type: "int"}}}, nil, nil, DecodeOptions{}, "map key must be a primitive"},
		{"stray element", []Column{{Name: "a", Type: "int", Element: &Column{Type: "int"}}}, nil, nil, DecodeOptions{}, "nested columns do not fit"},
		{"arrow field count", cols[:1], sc, nil, DecodeOptions{}, "2 arrow fields for 1 columns"},
		{"arrow name", []Column{{Name: "id", Type: "long", Required: true}, {Name: "amt", Type: "decimal(10,2)"}}, sc, nil, DecodeOptions{}, `arrow field is named "amount"`},
		{"arrow type", []Column{{Name: "id", Type: "int", Required: true}, cols[1]}, sc, nil, DecodeOptions{}, "does not match"},
		{"arrow scale", []Column{cols[0], {Name: "amount", Type: "decimal(10,3)"}}, sc, nil, DecodeOptions{}, "does not match"},
		{"arrow nullability", []Column{{Name: "id", Type: "long"}, cols[1]}, sc, nil, DecodeOptions{}, "not nullable"},
		{"invalid rule", cols, sc, []Rule{{Rule: KindRegex, Field: "amount", Pattern: "x"}}, DecodeOptions{}, "does not apply to field"},
		{"rule on unknown field", cols, sc, []Rule{{Rule: KindNotNull, Field: "nope"}}, DecodeOptions{}, `unknown field "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecoder(tt.cols, tt.sc, tt.rules, tt.opts)
			require.Nil(t, d)
			require.ErrorContains(t, err, tt.msg)
		})
	}
	_, err := NewDecoder(cols, sc, []Rule{{Rule: KindNotNull, Field: "nope"}}, DecodeOptions{})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
}

func TestDecodeLargeMaps(t *testing.T) {
	cols := []Column{
		{Name: "m", Type: "map", Key: &Column{Type: "string"}, Value: &Column{Type: "map", Key: &Column{Type: "string"}, Value: &Column{Type: "long"}}},
		{Name: "c", Type: "map", Key: &Column{Type: "long"}, Value: &Column{Type: "long"}},
	}
	d := newTestDecoder(t, cols, nil, DecodeOptions{})
	inner := func(n, dup int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dup {
				k = 3
			}
			fmt.Fprintf(&b, `"k%d":%d`, k, i)
		}
		b.WriteByte('}')
		return b.String()
	}
	outer := func(n, dup, innerDup int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dup {
				k = 5
			}
			fmt.Fprintf(&b, `"o%d":%s`, k, inner(20, innerDup))
		}
		b.WriteByte('}')
		return b.String()
	}
	entries := func(n, dup int) string {
		var b strings.Builder
		b.WriteByte('[')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dup {
				k = 2
			}
			fmt.Fprintf(&b, `{"key":%d,"value":1}`, k)
		}
		b.WriteByte(']')
		return b.String()
	}
	body := "[" + strings.Join([]string{
		`{"m":` + outer(30, -1, -1) + `,"c":` + entries(40, -1) + `}`,
		`{"m":` + outer(30, 25, -1) + `}`,
		`{"m":` + outer(30, -1, 18) + `}`,
		`{"m":` + outer(30, 7, 17) + `,"c":` + entries(40, 33) + `}`,
	}, ",") + "]"
	b := decodeOK(t, d, body, "json")
	require.Equal(t, 1, b.Accepted)
	require.Len(t, cell(b.Record.Column(0), 0), 30)
	require.Len(t, cell(b.Record.Column(1), 0), 40)
	require.Equal(t, [][2]string{{"m[25].key", RuleSchemaDuplicate}}, reasonsOf(b.Rejections[0]))
	var want [][2]string
	for i := range 30 {
		want = append(want, [2]string{fmt.Sprintf("m[%d].value[18].key", i), RuleSchemaDuplicate})
	}
	require.Equal(t, want, reasonsOf(b.Rejections[1]))
	want = nil
	for i := range 30 {
		if i == 7 {
			want = append(want, [2]string{"m[7].key", RuleSchemaDuplicate})
		}
		want = append(want, [2]string{fmt.Sprintf("m[%d].value[17].key", i), RuleSchemaDuplicate})
	}
	want = append(want, [2]string{"c[33].key", RuleSchemaDuplicate})
	require.Equal(t, want, reasonsOf(b.Rejections[2]))

	// A record of many keys decodes in linear time.
	many := newTestDecoder(t, cols[1:], nil, DecodeOptions{})
	start := time.Now()
	b = decodeOK(t, many, `[{"c":`+entries(40_000, 39_999)+`}]`, "json")
	require.Equal(t, [][2]string{{"c[39999].key", RuleSchemaDuplicate}}, reasonsOf(b.Rejections[0]))
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestDecodeReasonsCap(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "l", Type: "list", Element: &Column{Type: "long"}}}, nil, DecodeOptions{})
	b := decodeOK(t, d, `[{"l":[`+strings.Repeat(`"x",`, 500)+`1],"a":1,"b":2}]`, "json")
	r := b.Rejections[0].Reasons
	require.Len(t, r, MaxReasons+1)
	require.Equal(t, Violation{Field: "l[99]", Rule: RuleSchemaType, Reason: "value must be an integer (a JSON number)"}, r[MaxReasons-1])
	require.Equal(t, RuleTruncated, r[MaxReasons].Rule)
	require.Empty(t, r[MaxReasons].Field)
}

// A record over MaxRecordBytes is a LimitError however the body is read,
// even when it is also malformed beyond the limit.
func TestDecodeOutcomeIndependentOfReads(t *testing.T) {
	d := newTestDecoder(t, []Column{{Name: "s", Type: "string"}}, nil, DecodeOptions{MaxRecordBytes: 100, UnknownFields: "drop"})
	long := strings.Repeat("x", 200)
	for _, tt := range []struct{ format, body string }{
		{"json", `{"s":"` + long},                                        // truncated beyond the limit
		{"json", `[{"s":"` + "\xff" + long + `"}]`},                      // invalid UTF-8 found only at the string's end
		{"json", `[{"s":"` + long + `","x":` + strings.Repeat("[", 200)}, // too deep, beyond the limit
		{"ndjson", `{"s":"` + "\xff" + long + `"}`},                      // invalid UTF-8 in an over-long line
		{"ndjson", `{"s":"a"}` + strings.Repeat(" ", 5000) + "\n"},       // whitespace beyond the slack
	} {
		for name, r := range map[string]io.Reader{
			"whole":    strings.NewReader(tt.body),
			"one byte": iotest.OneByteReader(strings.NewReader(tt.body)),
		} {
			_, err := d.Decode(r, tt.format)
			var lerr *LimitError
			require.ErrorAs(t, err, &lerr, "%s %s %.20q", tt.format, name, tt.body)
			require.Equal(t, LimitRecordBytes, lerr.Limit)
		}
	}
}

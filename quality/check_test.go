package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeRecords decodes a JSON array of objects the way the ingest path does,
// optionally keeping numbers as json.Number.
func decodeRecords(t testing.TB, doc string, useNumber bool) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	if useNumber {
		dec.UseNumber()
	}
	var records []map[string]any
	require.NoError(t, dec.Decode(&records))
	return records
}

func mustCompile(t testing.TB, rules []Rule) *Checker {
	t.Helper()
	require.NoError(t, Validate(rules, testFieldType))
	c, err := Compile(rules)
	require.NoError(t, err)
	return c
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		rules     []Rule
		records   string
		useNumber bool
		want      []Violation
	}{
		{
			name:    "not_null flags null and missing",
			rules:   []Rule{{Rule: KindNotNull, Field: "email"}},
			records: `[{"email":"a@b.c"},{"email":null},{},{"email":""}]`,
			want: []Violation{
				{Index: 1, Field: "email", Rule: "not_null:email", Reason: "value is null or missing"},
				{Index: 2, Field: "email", Rule: "not_null:email", Reason: "value is null or missing"},
			},
		},
		{
			name:    "not_null on nested field",
			rules:   []Rule{{Rule: KindNotNull, Field: "address.city"}},
			records: `[{"address":{"city":"Berlin"}},{"address":{"city":null}},{"address":null},{"address":"flat"},{}]`,
			want: []Violation{
				{Index: 1, Field: "address.city", Rule: "not_null:address.city", Reason: "value is null or missing"},
				{Index: 2, Field: "address.city", Rule: "not_null:address.city", Reason: "value is null or missing"},
				{Index: 3, Field: "address.city", Rule: "not_null:address.city", Reason: "value is null or missing"},
				{Index: 4, Field: "address.city", Rule: "not_null:address.city", Reason: "value is null or missing"},
			},
		},
		{
			name:    "range with float64 values",
			rules:   []Rule{{Rule: KindRange, Field: "ratio", Min: ptr(-1), Max: ptr(1)}},
			records: `[{"ratio":-1},{"ratio":1},{"ratio":0.5},{"ratio":-1.0000001},{"ratio":1e3},{"ratio":null},{}]`,
			want: []Violation{
				{Index: 3, Field: "ratio", Rule: "range:ratio", Reason: "value is below the minimum -1"},
				{Index: 4, Field: "ratio", Rule: "range:ratio", Reason: "value is above the maximum 1"},
			},
		},
		{
			name:      "range with json.Number compares exactly",
			rules:     []Rule{{Rule: KindRange, Field: "amount", Min: ptr(0.1), Max: ptr(9007199254740993)}},
			useNumber: true,
			records: `[{"amount":0.1},{"amount":0.10},{"amount":0.09999999999999999999},{"amount":0.10000000000000000001},
				{"amount":9007199254740993},{"amount":9007199254740994},{"amount":1e-400},{"amount":1e400}]`,
			want: []Violation{
				{Index: 2, Field: "amount", Rule: "range:amount", Reason: "value is below the minimum 0.1"},
				// 9007199254740993 has no float64; the bound is 9007199254740992.
				{Index: 4, Field: "amount", Rule: "range:amount", Reason: "value is above the maximum 9007199254740992"},
				{Index: 5, Field: "amount", Rule: "range:amount", Reason: "value is above the maximum 9007199254740992"},
				{Index: 6, Field: "amount", Rule: "range:amount", Reason: "value is below the minimum 0.1"},
				{Index: 7, Field: "amount", Rule: "range:amount", Reason: "value is above the maximum 9007199254740992"},
			},
		},
		{
			name:  "range with numeric strings",
			rules: []Rule{{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(12.5)}},
			records: `[{"amount":"12.50"},{"amount":"12.500000000000000000001"},{"amount":"-0.00"},{"amount":"-0.001"},
				{"amount":"+3"},{"amount":"1.2e1"},{"amount":"abc"},{"amount":"NaN"},{"amount":"0x1p3"},{"amount":""},{"amount":true},{"amount":[1]}]`,
			want: []Violation{
				{Index: 1, Field: "amount", Rule: "range:amount", Reason: "value is above the maximum 12.5"},
				{Index: 3, Field: "amount", Rule: "range:amount", Reason: "value is below the minimum 0"},
				{Index: 6, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
				{Index: 7, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
				{Index: 8, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
				{Index: 9, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
				{Index: 10, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
				{Index: 11, Field: "amount", Rule: "range:amount", Reason: "value is not a number"},
			},
		},
		{
			name:    "range with only a max on a nested field",
			rules:   []Rule{{Rule: KindRange, Field: "address.zip", Max: ptr(99999)}},
			records: `[{"address":{"zip":10115}},{"address":{"zip":100000}},{"address":{}},{"address":{"zip":-5}}]`,
			want: []Violation{
				{Index: 1, Field: "address.zip", Rule: "range:address.zip", Reason: "value is above the maximum 99999"},
			},
		},
		{
			name:    "regex",
			rules:   []Rule{{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`}},
			records: `[{"email":"a@b.c"},{"email":"a.b.c"},{"email":"a@b@c"},{"email":null},{"email":42},{}]`,
			want: []Violation{
				{Index: 1, Field: "email", Rule: "regex:email", Reason: `value does not match the pattern "^[^@]+@[^@]+$"`},
				{Index: 2, Field: "email", Rule: "regex:email", Reason: `value does not match the pattern "^[^@]+@[^@]+$"`},
				{Index: 4, Field: "email", Rule: "regex:email", Reason: "value is not a string"},
			},
		},
		{
			name:    "regex is unanchored unless anchored",
			rules:   []Rule{{Rule: KindRegex, Field: "name", Pattern: `\d`}},
			records: `[{"name":"abc1def"},{"name":"abcdef"}]`,
			want: []Violation{
				{Index: 1, Field: "name", Rule: `regex:name`, Reason: `value does not match the pattern "\\d"`},
			},
		},
		{
			name:    "allowed_values with strings",
			rules:   []Rule{{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}}},
			records: `[{"country":"DE"},{"country":"FR"},{"country":"de"},{"country":"IT"},{"country":null},{"country":1},{}]`,
			want: []Violation{
				{Index: 2, Field: "country", Rule: "allowed_values:country", Reason: "value is not one of the 2 allowed values"},
				{Index: 3, Field: "country", Rule: "allowed_values:country", Reason: "value is not one of the 2 allowed values"},
				{Index: 5, Field: "country", Rule: "allowed_values:country", Reason: "value is not one of the 2 allowed values"},
			},
		},
		{
			name:      "allowed_values with numbers",
			rules:     []Rule{{Rule: KindAllowedValues, Field: "id", Values: []any{1.0, json.Number("9223372036854775807"), 3}}},
			useNumber: true,
			records: `[{"id":1},{"id":1.0},{"id":"1"},{"id":9223372036854775807},{"id":3},
				{"id":2},{"id":9223372036854775806},{"id":"x"},{"id":true}]`,
			want: []Violation{
				{Index: 5, Field: "id", Rule: "allowed_values:id", Reason: "value is not one of the 3 allowed values"},
				{Index: 6, Field: "id", Rule: "allowed_values:id", Reason: "value is not one of the 3 allowed values"},
				{Index: 7, Field: "id", Rule: "allowed_values:id", Reason: "value is not one of the 3 allowed values"},
				{Index: 8, Field: "id", Rule: "allowed_values:id", Reason: "value is not one of the 3 allowed values"},
			},
		},
		{
			name:    "allowed_values with booleans",
			rules:   []Rule{{Rule: KindAllowedValues, Field: "active", Values: []any{true}}},
			records: `[{"active":true},{"active":false},{"active":"true"}]`,
			want: []Violation{
				{Index: 1, Field: "active", Rule: "allowed_values:active", Reason: "value is not one of the 1 allowed values"},
				{Index: 2, Field: "active", Rule: "allowed_values:active", Reason: "value is not one of the 1 allowed values"},
			},
		},
		{
			name:    "max_length counts characters",
			rules:   []Rule{{Rule: KindMaxLength, Field: "name", Max: ptr(3)}},
			records: `[{"name":"abc"},{"name":"äöü"},{"name":"abcd"},{"name":"äöüß"},{"name":""},{"name":null},{"name":12345}]`,
			want: []Violation{
				{Index: 2, Field: "name", Rule: "max_length:name", Reason: "value is longer than 3 characters"},
				{Index: 3, Field: "name", Rule: "max_length:name", Reason: "value is longer than 3 characters"},
				{Index: 6, Field: "name", Rule: "max_length:name", Reason: "value is not a string"},
			},
		},
		{
			name:  "unique_in_batch reports second and later occurrences",
			rules: []Rule{{Rule: KindUniqueInBatch, Field: "id"}},
			records: `[{"id":1},{"id":2},{"id":1},{"id":null},{"id":null},{},{"id":1.0},{"id":2},
				{"id":"1"},{"id":"1"},{"id":true},{"id":true},{"id":false},{"id":[1]}]`,
			want: []Violation{
				{Index: 2, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 0"},
				{Index: 6, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 0"},
				{Index: 7, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 1"},
				{Index: 9, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 8"},
				{Index: 11, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 10"},
				{Index: 13, Field: "id", Rule: "unique_in_batch:id", Reason: "value is not a scalar"},
			},
		},
		{
			name:      "unique_in_batch compares json.Number exactly",
			rules:     []Rule{{Rule: KindUniqueInBatch, Field: "id"}},
			useNumber: true,
			records: `[{"id":9007199254740993},{"id":9007199254740992},{"id":1152921504606846977},{"id":1152921504606846976},
				{"id":1152921504606846977},{"id":2.50},{"id":2.5},{"id":25e-1},{"id":100},{"id":1e2}]`,
			want: []Violation{
				{Index: 4, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 2"},
				{Index: 6, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 5"},
				{Index: 7, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 5"},
				{Index: 9, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 8"},
			},
		},
		{
			name:    "unique_in_batch on a nested field",
			rules:   []Rule{{Rule: KindUniqueInBatch, Field: "address.city"}},
			records: `[{"address":{"city":"Berlin"}},{"address":{"city":"Paris"}},{"address":{"city":"Berlin"}},{"address":null}]`,
			want: []Violation{
				{Index: 2, Field: "address.city", Rule: "unique_in_batch:address.city", Reason: "duplicate value in batch; first seen at index 0"},
			},
		},
		{
			name: "several violations per record in rule order",
			rules: []Rule{
				{Rule: KindNotNull, Field: "email"},
				{Rule: KindRange, Field: "amount", Min: ptr(0)},
				{ID: "country-eu", Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}},
				{Rule: KindMaxLength, Field: "name", Max: ptr(4), Message: "name too long"},
				{Rule: KindUniqueInBatch, Field: "id", Message: "id reused"},
			},
			records: `[{"id":7,"email":"a@b.c","amount":5,"country":"DE","name":"Ann"},
				{"id":7,"amount":-1,"country":"US","name":"Bartholomew"}]`,
			want: []Violation{
				{Index: 1, Field: "email", Rule: "not_null:email", Reason: "value is null or missing"},
				{Index: 1, Field: "amount", Rule: "range:amount", Reason: "value is below the minimum 0"},
				{Index: 1, Field: "country", Rule: "country-eu", Reason: "value is not one of the 2 allowed values"},
				{Index: 1, Field: "name", Rule: "max_length:name", Reason: "name too long"},
				{Index: 1, Field: "id", Rule: "unique_in_batch:id", Reason: "id reused"},
			},
		},
		{
			name: "custom message replaces every reason",
			rules: []Rule{
				{Rule: KindNotNull, Field: "email", Message: "email needed"},
				{Rule: KindRegex, Field: "name", Pattern: "^A", Message: "name must start with A"},
			},
			records: `[{"name":7},{"email":"x","name":"Bob"}]`,
			want: []Violation{
				{Index: 0, Field: "email", Rule: "not_null:email", Reason: "email needed"},
				{Index: 0, Field: "name", Rule: "regex:name", Reason: "name must start with A"},
				{Index: 1, Field: "name", Rule: "regex:name", Reason: "name must start with A"},
			},
		},
		{
			name:    "records that pass produce no violations",
			rules:   []Rule{{Rule: KindNotNull, Field: "email"}, {Rule: KindUniqueInBatch, Field: "id"}},
			records: `[{"id":1,"email":"a"},{"id":2,"email":"b"}]`,
			want:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.rules)
			got := c.Check(decodeRecords(t, tt.records, tt.useNumber))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCheckEmptyBatchAndRules(t *testing.T) {
	c := mustCompile(t, []Rule{{Rule: KindNotNull, Field: "email"}, {Rule: KindUniqueInBatch, Field: "id"}})
	require.Nil(t, c.Check(nil))
	require.Equal(t, []Violation{
		{Index: 0, Field: "email", Rule: "not_null:email", Reason: "value is null or missing"},
	}, c.Check([]map[string]any{nil}))

	none, err := Compile(nil)
	require.NoError(t, err)
	require.Nil(t, none.Check([]map[string]any{{"email": nil}}))
}

func TestCheckGoValues(t *testing.T) {
	c := mustCompile(t, []Rule{
		{Rule: KindRange, Field: "count", Min: ptr(0), Max: ptr(10)},
		{Rule: KindAllowedValues, Field: "id", Values: []any{int64(1) << 60}},
	})
	got := c.Check([]map[string]any{
		{"count": 5, "id": int64(1) << 60},
		{"count": int64(11), "id": 1 << 60},
		{"count": -1, "id": int64(1)<<60 + 1},
	})
	require.Equal(t, []Violation{
		{Index: 1, Field: "count", Rule: "range:count", Reason: "value is above the maximum 10"},
		{Index: 2, Field: "count", Rule: "range:count", Reason: "value is below the minimum 0"},
		{Index: 2, Field: "id", Rule: "allowed_values:id", Reason: "value is not one of the 1 allowed values"},
	}, got)
}

func TestCheckIsRepeatable(t *testing.T) {
	c := mustCompile(t, []Rule{{Rule: KindUniqueInBatch, Field: "id"}})
	records := decodeRecords(t, `[{"id":"a"},{"id":"a"}]`, false)
	want := []Violation{{Index: 1, Field: "id", Rule: "unique_in_batch:id", Reason: "duplicate value in batch; first seen at index 0"}}
	require.Equal(t, want, c.Check(records))
	require.Equal(t, want, c.Check(records), "uniqueness state must not leak between batches")
}

func TestCompileRejectsInvalidRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		field string
	}{
		{"unknown kind", []Rule{{Rule: "nope", Field: "x"}}, "quality[0].rule"},
		{"bad regex", []Rule{{Rule: KindRegex, Field: "x", Pattern: "("}}, "quality[0].pattern"},
		{"range without bounds", []Rule{{Rule: KindRange, Field: "x"}}, "quality[0]"},
		{"max_length without max", []Rule{{Rule: KindMaxLength, Field: "x"}}, "quality[0].max"},
		{"non-scalar value", []Rule{{Rule: KindAllowedValues, Field: "x", Values: []any{nil}}}, "quality[0].values[0]"},
		{"duplicate ids", []Rule{{Rule: KindNotNull, Field: "x"}, {Rule: KindNotNull, Field: "x"}}, "quality[1].id"},
		{"bad path", []Rule{{Rule: KindNotNull, Field: "x."}}, "quality[0].field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.rules)
			require.Nil(t, c)
			require.ErrorContains(t, err, "compile quality rules: invalid input: ")
			var verr *ValidationError
			require.True(t, errors.As(err, &verr))
			require.Len(t, verr.Problems, 1)
			require.Equal(t, tt.field, verr.Problems[0].Field)
		})
	}
}

func TestCheckDoesNotAllocateOnHappyPath(t *testing.T) {
	c := mustCompile(t, []Rule{
		{Rule: KindNotNull, Field: "email"},
		{Rule: KindRange, Field: "amount", Min: ptr(0), Max: ptr(1000)},
		{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`},
		{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}},
		{Rule: KindAllowedValues, Field: "count", Values: []any{1.0, 2.0}},
		{Rule: KindMaxLength, Field: "name", Max: ptr(64)},
		{Rule: KindRange, Field: "address.zip", Min: ptr(1000)},
	})
	records := decodeRecords(t, `[{"email":"a@b.c","amount":"12.50","country":"DE","count":2,"name":"Ann","address":{"zip":10115}}]`, true)
	allocs := testing.AllocsPerRun(100, func() {
		if v := c.Check(records); v != nil {
			t.Fatalf("unexpected violations %+v", v)
		}
	})
	require.Zero(t, allocs)
}

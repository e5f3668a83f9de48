package quality

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testSchema is the dataset schema used by the tests.
var testSchema = map[string]string{
	"id":           "long",
	"email":        "string",
	"name":         "string",
	"country":      "string",
	"amount":       "decimal(10,2)",
	"count":        "int",
	"ratio":        "double",
	"score":        "float",
	"active":       "boolean",
	"day":          "date",
	"ref":          "uuid",
	"payload":      "binary",
	"created":      "timestamptz",
	"address":      "struct",
	"address.city": "string",
	"address.zip":  "int",
	"tags":         "list",
	"tags.element": "string",
	"attrs":        "map",
	"attrs.key":    "string",
}

func testFieldType(path string) (string, bool) {
	typ, ok := testSchema[path]
	return typ, ok
}

func ptr(f float64) *float64 { return &f }

func TestKinds(t *testing.T) {
	kinds := Kinds()
	require.Equal(t, []Kind{"not_null", "range", "regex", "allowed_values", "max_length", "unique_in_batch"}, kinds)
	kinds[0] = "changed"
	require.Equal(t, KindNotNull, Kinds()[0], "Kinds must return a fresh slice")
	for _, k := range Kinds() {
		require.True(t, isKnownKind(k), k)
	}
	require.False(t, isKnownKind("unique"))
}

func TestNormalize(t *testing.T) {
	in := []Rule{
		{Rule: KindRange, Field: "amount", Min: ptr(0)},
		{ID: "email-format", Rule: KindRegex, Field: "email", Pattern: "@"},
	}
	out := Normalize(in)
	require.Equal(t, "range:amount", out[0].ID)
	require.Equal(t, "email-format", out[1].ID)
	require.Empty(t, in[0].ID, "Normalize must not modify its input")
	require.Nil(t, Normalize(nil))
}

func TestRuleJSON(t *testing.T) {
	const doc = `[{"rule":"not_null","field":"email"},{"rule":"range","field":"amount","min":0},
		{"rule":"regex","field":"email","pattern":"^[^@]+@[^@]+$"},{"rule":"allowed_values","field":"country","values":["DE","FR"]},
		{"rule":"max_length","field":"name","max":64},{"rule":"unique_in_batch","field":"id","message":"id must be unique"}]`
	var rules []Rule
	require.NoError(t, json.Unmarshal([]byte(doc), &rules))
	require.Len(t, rules, 6)
	require.Equal(t, KindRange, rules[1].Rule)
	require.Equal(t, 0.0, *rules[1].Min)
	require.Nil(t, rules[1].Max)
	require.Equal(t, []any{"DE", "FR"}, rules[3].Values)
	require.Equal(t, 64.0, *rules[4].Max)
	require.NoError(t, Validate(rules, testFieldType))

	out, err := json.Marshal(Normalize(rules[:2]))
	require.NoError(t, err)
	require.JSONEq(t, `[{"id":"not_null:email","rule":"not_null","field":"email"},
		{"id":"range:amount","rule":"range","field":"amount","min":0}]`, string(out))
}

func TestValidateValid(t *testing.T) {
	rules := []Rule{
		{Rule: KindNotNull, Field: "email"},
		{Rule: KindNotNull, Field: "address"},
		{Rule: KindNotNull, Field: "tags"},
		{Rule: KindRange, Field: "amount", Min: ptr(0)},
		{Rule: KindRange, Field: "count", Max: ptr(10)},
		{Rule: KindRange, Field: "ratio", Min: ptr(-1.5), Max: ptr(1.5)},
		{Rule: KindRange, Field: "score", Min: ptr(2), Max: ptr(2)},
		{Rule: KindRange, Field: "id", Min: ptr(1)},
		{Rule: KindRange, Field: "address.zip", Min: ptr(1000), Max: ptr(99999)},
		{Rule: KindRegex, Field: "email", Pattern: `^[^@]+@[^@]+$`},
		{Rule: KindRegex, Field: "address.city", Pattern: `^\p{Lu}`, Message: "city must be capitalized"},
		{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", "FR"}},
		{Rule: KindAllowedValues, Field: "count", Values: []any{1.0, json.Number("2"), 3, int64(-2147483648)}},
		{Rule: KindAllowedValues, Field: "id", Values: []any{json.Number("9223372036854775807"), 1e18}},
		{Rule: KindAllowedValues, Field: "active", Values: []any{true}},
		{Rule: KindAllowedValues, Field: "day", Values: []any{"2024-02-29"}},
		{Rule: KindAllowedValues, Field: "ref", Values: []any{"123e4567-E89B-12d3-a456-426614174000"}},
		{Rule: KindMaxLength, Field: "name", Max: ptr(64)},
		{Rule: KindMaxLength, Field: "payload", Max: ptr(1)},
		{Rule: KindUniqueInBatch, Field: "id"},
		{Rule: KindUniqueInBatch, Field: "created"},
		{ID: "id-unique-again", Rule: KindUniqueInBatch, Field: "id"},
	}
	require.NoError(t, Validate(rules, testFieldType))
	require.NoError(t, Validate(nil, testFieldType))
}

func TestValidateProblems(t *testing.T) {
	type want struct {
		field    string
		contains string
	}
	valid := Rule{Rule: KindNotNull, Field: "email"}
	tests := []struct {
		name  string
		rules []Rule
		want  []want
	}{
		{
			name:  "unknown kind",
			rules: []Rule{valid, {Rule: "unique", Field: "id"}},
			want:  []want{{"quality[1].rule", `unknown rule "unique"; valid rules are not_null, range, regex, allowed_values, max_length, unique_in_batch`}},
		},
		{
			name:  "missing kind",
			rules: []Rule{{Field: "id"}},
			want:  []want{{"quality[0].rule", "rule is required; valid rules are not_null"}},
		},
		{
			name:  "unknown kind still checks the field",
			rules: []Rule{{Rule: "nope", Field: "nope"}},
			want:  []want{{"quality[0].rule", `unknown rule "nope"`}, {"quality[0].field", `unknown field "nope"`}},
		},
		{
			name:  "unknown field",
			rules: []Rule{{Rule: KindNotNull, Field: "emial"}},
			want:  []want{{"quality[0].field", `unknown field "emial"`}},
		},
		{
			name:  "unknown nested field",
			rules: []Rule{{Rule: KindNotNull, Field: "address.street"}},
			want:  []want{{"quality[0].field", `unknown field "address.street"`}},
		},
		{
			name:  "missing field",
			rules: []Rule{{Rule: KindNotNull}},
			want:  []want{{"quality[0].field", "field is required"}},
		},
		{
			name:  "malformed field path",
			rules: []Rule{{Rule: KindNotNull, Field: "address..city"}},
			want:  []want{{"quality[0].field", `field "address..city" is not a valid path`}},
		},
		{
			name:  "field through a list",
			rules: []Rule{{Rule: KindNotNull, Field: "tags.element"}},
			want:  []want{{"quality[0].field", `goes through list field "tags"`}},
		},
		{
			name:  "field through a map",
			rules: []Rule{{Rule: KindNotNull, Field: "attrs.key"}},
			want:  []want{{"quality[0].field", `goes through map field "attrs"`}},
		},
		{
			name:  "range on string",
			rules: []Rule{{Rule: KindRange, Field: "name", Min: ptr(0)}},
			want:  []want{{"quality[0].field", `rule range does not apply to field "name" of type string; it applies to int, long, float, double, decimal`}},
		},
		{
			name:  "regex on long",
			rules: []Rule{valid, {Rule: KindRegex, Field: "id", Pattern: "^1"}},
			want:  []want{{"quality[1].field", `rule regex does not apply to field "id" of type long; it applies to string`}},
		},
		{
			name:  "max_length on int",
			rules: []Rule{{Rule: KindMaxLength, Field: "count", Max: ptr(3)}},
			want:  []want{{"quality[0].field", "it applies to string, binary"}},
		},
		{
			name:  "allowed_values on double",
			rules: []Rule{{Rule: KindAllowedValues, Field: "ratio", Values: []any{1.5}}},
			want:  []want{{"quality[0].field", "it applies to string, int, long, boolean, date, uuid"}},
		},
		{
			name:  "unique_in_batch on struct",
			rules: []Rule{{Rule: KindUniqueInBatch, Field: "address"}},
			want:  []want{{"quality[0].field", "it applies to primitive types"}},
		},
		{
			name:  "bad regex",
			rules: []Rule{valid, {Rule: KindRegex, Field: "email", Pattern: "([a-z]"}},
			want:  []want{{"quality[1].pattern", "pattern does not compile: error parsing regexp: missing closing )"}},
		},
		{
			name:  "regex without pattern",
			rules: []Rule{{Rule: KindRegex, Field: "email"}},
			want:  []want{{"quality[0].pattern", "regex requires pattern"}},
		},
		{
			name:  "pattern too long",
			rules: []Rule{{Rule: KindRegex, Field: "email", Pattern: strings.Repeat("a", MaxPatternLength+1)}},
			want:  []want{{"quality[0].pattern", "pattern has 1025 characters; at most 1024 are allowed"}},
		},
		{
			name:  "min greater than max",
			rules: []Rule{{Rule: KindRange, Field: "amount", Min: ptr(10), Max: ptr(5)}},
			want:  []want{{"quality[0].min", "min 10 is greater than max 5"}},
		},
		{
			name:  "range without bounds",
			rules: []Rule{valid, valid, {Rule: KindRange, Field: "amount"}},
			want:  []want{{"quality[1].id", `duplicate rule id "not_null:email" (also used by quality[0])`}, {"quality[2]", "range requires min, max or both"}},
		},
		{
			name:  "range bound not finite",
			rules: []Rule{{Rule: KindRange, Field: "ratio", Min: ptr(math.NaN()), Max: ptr(math.Inf(1))}},
			want:  []want{{"quality[0].min", "min must be a finite number"}, {"quality[0].max", "max must be a finite number"}},
		},
		{
			name:  "max_length zero",
			rules: []Rule{{Rule: KindMaxLength, Field: "name", Max: ptr(0)}},
			want:  []want{{"quality[0].max", "max must be an integer from 1 to 2147483647, got 0"}},
		},
		{
			name:  "max_length fractional",
			rules: []Rule{{Rule: KindMaxLength, Field: "name", Max: ptr(1.5)}},
			want:  []want{{"quality[0].max", "max must be an integer from 1 to 2147483647, got 1.5"}},
		},
		{
			name:  "max_length too large",
			rules: []Rule{{Rule: KindMaxLength, Field: "name", Max: ptr(1e12)}},
			want:  []want{{"quality[0].max", "got 1000000000000"}},
		},
		{
			name:  "max_length without max",
			rules: []Rule{{Rule: KindMaxLength, Field: "name"}},
			want:  []want{{"quality[0].max", "max_length requires max"}},
		},
		{
			name:  "allowed_values empty",
			rules: []Rule{{Rule: KindAllowedValues, Field: "country", Values: []any{}}},
			want:  []want{{"quality[0].values", "allowed_values requires at least one value"}},
		},
		{
			name:  "allowed_values too many",
			rules: []Rule{{Rule: KindAllowedValues, Field: "country", Values: make([]any, MaxValues+1)}},
			want:  []want{{"quality[0].values", "values has 1001 entries; at most 1000 are allowed"}},
		},
		{
			name:  "allowed_values number for string field",
			rules: []Rule{{Rule: KindAllowedValues, Field: "country", Values: []any{"DE", 5.0}}},
			want:  []want{{"quality[0].values[1]", "value must be a string for a string field, got 5"}},
		},
		{
			name:  "allowed_values not integers for int field",
			rules: []Rule{{Rule: KindAllowedValues, Field: "count", Values: []any{"1", 1.5, 3e9, json.Number("2.5"), 7.0}}},
			want: []want{
				{"quality[0].values[0]", `value must be an integer from -2147483648 to 2147483647 for an int field, got "1"`},
				{"quality[0].values[1]", "got 1.5"},
				{"quality[0].values[2]", "got 3000000000"},
				{"quality[0].values[3]", "got 2.5"},
			},
		},
		{
			name:  "allowed_values beyond long",
			rules: []Rule{{Rule: KindAllowedValues, Field: "id", Values: []any{json.Number("9223372036854775808"), 1e19}}},
			want: []want{
				{"quality[0].values[0]", "value must be a 64-bit integer for a long field, got 9223372036854775808"},
				{"quality[0].values[1]", "got 10000000000000000000"},
			},
		},
		{
			name: "allowed_values wrong types for boolean, date and uuid",
			rules: []Rule{
				{Rule: KindAllowedValues, Field: "active", Values: []any{"true"}},
				{Rule: KindAllowedValues, Field: "day", Values: []any{"2023-02-29", 20240101.0}},
				{Rule: KindAllowedValues, Field: "ref", Values: []any{"not-a-uuid"}},
			},
			want: []want{
				{"quality[0].values[0]", `value must be a boolean for a boolean field, got "true"`},
				{"quality[1].values[0]", `value "2023-02-29" is not a date (YYYY-MM-DD)`},
				{"quality[1].values[1]", "value must be a date string (YYYY-MM-DD) for a date field, got 20240101"},
				{"quality[2].values[0]", `value "not-a-uuid" is not a UUID`},
			},
		},
		{
			name:  "allowed_values non-scalars",
			rules: []Rule{{Rule: KindAllowedValues, Field: "country", Values: []any{nil, []any{"DE"}, map[string]any{}}}},
			want: []want{
				{"quality[0].values[0]", "value must be a string, number or boolean, got null"},
				{"quality[0].values[1]", "got an array"},
				{"quality[0].values[2]", "got an object"},
			},
		},
		{
			name:  "pattern given for not_null",
			rules: []Rule{{Rule: KindNotNull, Field: "email", Pattern: ".+"}},
			want:  []want{{"quality[0].pattern", "pattern is not allowed for rule not_null"}},
		},
		{
			name: "parameters of other rules",
			rules: []Rule{
				{Rule: KindRange, Field: "amount", Min: ptr(0), Values: []any{1.0}, Pattern: "x"},
				{Rule: KindRegex, Field: "email", Pattern: "@", Min: ptr(1), Max: ptr(2)},
				{Rule: KindMaxLength, Field: "name", Max: ptr(3), Min: ptr(1)},
				{Rule: KindUniqueInBatch, Field: "id", Values: []any{1.0}},
			},
			want: []want{
				{"quality[0].pattern", "pattern is not allowed for rule range"},
				{"quality[0].values", "values is not allowed for rule range"},
				{"quality[1].min", "min is not allowed for rule regex"},
				{"quality[1].max", "max is not allowed for rule regex"},
				{"quality[2].min", "min is not allowed for rule max_length"},
				{"quality[3].values", "values is not allowed for rule unique_in_batch"},
			},
		},
		{
			name: "duplicate default IDs",
			rules: []Rule{
				{Rule: KindRegex, Field: "email", Pattern: "@"},
				{Rule: KindRegex, Field: "email", Pattern: `\.`},
			},
			want: []want{{"quality[1].id", `duplicate rule id "regex:email" (also used by quality[0]); give the rules distinct ids`}},
		},
		{
			name: "duplicate explicit ID",
			rules: []Rule{
				{Rule: KindNotNull, Field: "email"},
				{ID: "email-ok", Rule: KindNotNull, Field: "name"},
				{ID: "not_null:email", Rule: KindNotNull, Field: "country"},
				{ID: "email-ok", Rule: KindNotNull, Field: "id"},
			},
			want: []want{
				{"quality[2].id", `duplicate rule id "not_null:email" (also used by quality[0])`},
				{"quality[3].id", `duplicate rule id "email-ok" (also used by quality[1])`},
			},
		},
		{
			name: "id and message limits",
			rules: []Rule{
				{ID: strings.Repeat("x", MaxIDLength+1), Rule: KindNotNull, Field: "email"},
				{ID: "a\nb", Rule: KindNotNull, Field: "name", Message: strings.Repeat("m", MaxMessageLength+1)},
			},
			want: []want{
				{"quality[0].id", "id has 129 characters; at most 128 are allowed"},
				{"quality[1].id", "id must not contain control characters"},
				{"quality[1].message", "message has 1025 characters; at most 1024 are allowed"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.rules, testFieldType)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Problems, len(tt.want), "problems: %+v", verr.Problems)
			for i, w := range tt.want {
				require.Equal(t, w.field, verr.Problems[i].Field, "problem %d: %+v", i, verr.Problems[i])
				require.Contains(t, verr.Problems[i].Message, w.contains, "problem %d", i)
				require.Contains(t, err.Error(), w.field+": "+verr.Problems[i].Message)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := &ValidationError{Problems: []Problem{
		{Field: "quality[0].field", Message: "field is required"},
		{Field: "quality[1].max", Message: "max_length requires max"},
	}}
	require.Equal(t, "invalid input: quality[0].field: field is required; quality[1].max: max_length requires max", err.Error())
}

func TestValidateNilFieldType(t *testing.T) {
	err := Validate([]Rule{{Rule: KindNotNull, Field: "email"}}, nil)
	require.Error(t, err)
	var verr *ValidationError
	require.False(t, errors.As(err, &verr))
}

func TestIsUUID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"123e4567-e89b-12d3-a456-426614174000", true},
		{"123E4567-E89B-12D3-A456-426614174000", true},
		{"123e4567e89b12d3a456426614174000", false},
		{"123e4567-e89b-12d3-a456-42661417400g", false},
		{"123e4567-e89b-12d3-a456_426614174000", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, isUUID(tt.in), tt.in)
	}
}

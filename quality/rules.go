// Package quality implements the declared data-quality rules of a dataset:
// their JSON model, their validation against the dataset schema, a compiled
// Checker that evaluates them on batches of decoded JSON records, and the
// ingest Decoder, which decodes request bodies of JSON records against the
// dataset's columns into Arrow record batches, evaluates the rules on the
// decoded values and rejects invalid records with their reasons.
package quality

import (
	"github.com/lakegate/lakegate/internal/problem"

	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind names a rule kind as written in the "rule" property.
type Kind string

// The rule kinds.
const (
	KindNotNull       Kind = "not_null"
	KindRange         Kind = "range"
	KindRegex         Kind = "regex"
	KindAllowedValues Kind = "allowed_values"
	KindMaxLength     Kind = "max_length"
	KindUniqueInBatch Kind = "unique_in_batch"
)

// Kinds returns every rule kind, in documentation order. The slice is a fresh
// copy that the caller may modify.
func Kinds() []Kind {
	return []Kind{KindNotNull, KindRange, KindRegex, KindAllowedValues, KindMaxLength, KindUniqueInBatch}
}

// Limits on rule parameters.
const (
	MaxPatternLength = 1024          // characters in a regex pattern
	MaxValues        = 1000          // entries in allowed_values
	MaxIDLength      = 128           // characters in a rule ID
	MaxMessageLength = 1024          // characters in a custom message
	MaxLengthLimit   = math.MaxInt32 // largest accepted max_length maximum
)

// Rule is one declared quality rule.
type Rule struct {
	// ID identifies the rule in violations; Normalize defaults it to "<rule>:<field>".
	ID   string `json:"id,omitempty"`
	Rule Kind   `json:"rule"`
	// Field is a top-level column or a dotted path through struct columns ("address.city").
	Field string `json:"field"`
	// Min is the inclusive lower bound of range.
	Min *float64 `json:"min,omitempty"`
	// Max is the inclusive upper bound of range, or the maximum length (an
	// integer ≥ 1) of max_length. max_length counts the Unicode characters of
	// a string; for binary columns the Decoder counts the decoded bytes,
	// while a Checker, which does not know column types, counts the
	// characters of the encoded text the producer sent.
	Max *float64 `json:"max,omitempty"`
	// Pattern is the RE2 expression of regex. It matches anywhere in the value
	// unless anchored with ^ and $.
	Pattern string `json:"pattern,omitempty"`
	// Values are the scalars (string, number, bool) allowed by allowed_values.
	// A Checker matches strings exactly (also for uuid and date columns) and
	// numbers by exact decimal value, including numbers sent as numeric
	// strings. The Decoder compares decoded values of the column's type:
	// uuids regardless of case, integers however the number is written.
	Values []any `json:"values,omitempty"`
	// Message replaces the default violation reason when set.
	Message string `json:"message,omitempty"`
}

// DefaultID returns the ID Normalize gives a rule without one: "<rule>:<field>".
func DefaultID(r Rule) string {
	return string(r.Rule) + ":" + r.Field
}

// Normalize returns a copy of rules in which every rule without an ID gets its
// default ID. It does not validate. Values slices are shared with the input.
func Normalize(rules []Rule) []Rule {
	if rules == nil {
		return nil
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		if r.ID == "" {
			r.ID = DefaultID(r)
		}
		out[i] = r
	}
	return out
}

// Problem names one invalid part of the declared rules by its path, such as
// "quality[2].pattern".
type Problem = problem.Problem

// ValidationError lists every problem found in a set of rules.
type ValidationError = problem.List

// FieldType returns the type name of a dataset field addressed by a dotted
// path: a primitive type of the dataset schema ("boolean", "int", "long",
// "float", "double", "decimal(p,s)", "string", "binary", "date", "time",
// "timestamp", "timestamptz", "uuid") or "struct", "list" or "map" for nested
// types. ok is false when there is no such field.
type FieldType func(path string) (typ string, ok bool)

// Validate checks declared rules against a dataset schema: the rule kind is
// known, the field exists and the rule applies to its type, the parameters the
// rule needs are present and sane, no parameter of another rule kind is set,
// and rule IDs (after defaulting) are unique. It returns a *ValidationError
// listing every problem, or nil when the rules are valid.
func Validate(rules []Rule, fieldType FieldType) error {
	if fieldType == nil {
		return errors.New("validate quality rules: nil field type lookup")
	}
	if problems := ruleProblems(rules, fieldType); len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// ruleProblems validates rules; a nil fieldType skips the checks that need
// the schema.
func ruleProblems(rules []Rule, fieldType FieldType) []Problem {
	var problems []Problem
	firstByID := make(map[string]int, len(rules))
	for i, r := range rules {
		base := fmt.Sprintf("quality[%d]", i)
		problems = append(problems, problemsOf(base, r, fieldType)...)
		id := r.ID
		if id == "" {
			id = DefaultID(r)
		}
		if first, dup := firstByID[id]; dup {
			problems = append(problems, Problem{
				Field:   base + ".id",
				Message: fmt.Sprintf("duplicate rule id %q (also used by quality[%d]); give the rules distinct ids", id, first),
			})
			continue
		}
		firstByID[id] = i
	}
	return problems
}

// problemsOf validates one rule whose properties are reported under base.
func problemsOf(base string, r Rule, fieldType FieldType) []Problem {
	var problems []Problem
	add := func(prop, format string, args ...any) {
		field := base
		if prop != "" {
			field += "." + prop
		}
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	if n := utf8.RuneCountInString(r.ID); n > MaxIDLength {
		add("id", "id has %d characters; at most %d are allowed", n, MaxIDLength)
	}
	if strings.IndexFunc(r.ID, unicode.IsControl) >= 0 {
		add("id", "id must not contain control characters")
	}
	if n := utf8.RuneCountInString(r.Message); n > MaxMessageLength {
		add("message", "message has %d characters; at most %d are allowed", n, MaxMessageLength)
	}

	known := isKnownKind(r.Rule)
	switch {
	case r.Rule == "":
		add("rule", "rule is required; valid rules are %s", kindList())
	case !known:
		add("rule", "unknown rule %q; valid rules are %s", r.Rule, kindList())
	}

	typ, typeKnown := "", false
	switch {
	case r.Field == "":
		add("field", "field is required")
	case !validPath(r.Field):
		add("field", "field %q is not a valid path; use column names joined by dots", r.Field)
	case fieldType != nil:
		t, ok := fieldType(r.Field)
		if !ok {
			add("field", "unknown field %q", r.Field)
			break
		}
		if through, kind, ok := nonStructPrefix(r.Field, fieldType); ok {
			add("field", "field %q goes through %s field %q; rules can only address struct members", r.Field, kind, through)
			break
		}
		if known && !appliesTo(r.Rule, t) {
			add("field", "rule %s does not apply to field %q of type %s; it applies to %s", r.Rule, r.Field, t, applicableTypes(r.Rule))
			break
		}
		typ, typeKnown = t, true
	}

	if !known {
		return problems
	}

	notAllowed := func(prop string) {
		add(prop, "%s is not allowed for rule %s", prop, r.Rule)
	}
	if r.Min != nil && r.Rule != KindRange {
		notAllowed("min")
	}
	if r.Max != nil && r.Rule != KindRange && r.Rule != KindMaxLength {
		notAllowed("max")
	}
	if r.Pattern != "" && r.Rule != KindRegex {
		notAllowed("pattern")
	}
	if len(r.Values) > 0 && r.Rule != KindAllowedValues {
		notAllowed("values")
	}

	switch r.Rule {
	case KindRange:
		problems = append(problems, rangeProblems(base, r)...)
	case KindRegex:
		problems = append(problems, regexProblems(base, r)...)
	case KindMaxLength:
		problems = append(problems, maxLengthProblems(base, r)...)
	case KindAllowedValues:
		problems = append(problems, valuesProblems(base, r, typ, typeKnown)...)
	}
	return problems
}

func rangeProblems(base string, r Rule) []Problem {
	var problems []Problem
	if r.Min == nil && r.Max == nil {
		return append(problems, Problem{Field: base, Message: "range requires min, max or both"})
	}
	finite := true
	for _, b := range []struct {
		prop  string
		value *float64
	}{{"min", r.Min}, {"max", r.Max}} {
		if b.value != nil && (math.IsNaN(*b.value) || math.IsInf(*b.value, 0)) {
			problems = append(problems, Problem{Field: base + "." + b.prop, Message: b.prop + " must be a finite number"})
			finite = false
		}
	}
	if finite && r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		problems = append(problems, Problem{
			Field:   base + ".min",
			Message: fmt.Sprintf("min %s is greater than max %s", formatFloat(*r.Min), formatFloat(*r.Max)),
		})
	}
	return problems
}

func regexProblems(base string, r Rule) []Problem {
	field := base + ".pattern"
	if r.Pattern == "" {
		return []Problem{{Field: field, Message: "regex requires pattern"}}
	}
	if n := utf8.RuneCountInString(r.Pattern); n > MaxPatternLength {
		return []Problem{{Field: field, Message: fmt.Sprintf("pattern has %d characters; at most %d are allowed", n, MaxPatternLength)}}
	}
	if _, err := regexp.Compile(r.Pattern); err != nil {
		return []Problem{{Field: field, Message: fmt.Sprintf("pattern does not compile: %v", err)}}
	}
	return nil
}

func maxLengthProblems(base string, r Rule) []Problem {
	field := base + ".max"
	switch {
	case r.Max == nil:
		return []Problem{{Field: field, Message: "max_length requires max"}}
	case math.IsNaN(*r.Max) || *r.Max != math.Trunc(*r.Max) || *r.Max < 1 || *r.Max > MaxLengthLimit:
		return []Problem{{Field: field, Message: fmt.Sprintf("max must be an integer from 1 to %d, got %s", MaxLengthLimit, formatFloat(*r.Max))}}
	}
	return nil
}

// valuesProblems checks allowed_values; when typeKnown each value must also
// fit the field type typ.
func valuesProblems(base string, r Rule, typ string, typeKnown bool) []Problem {
	field := base + ".values"
	switch {
	case len(r.Values) == 0:
		return []Problem{{Field: field, Message: "allowed_values requires at least one value"}}
	case len(r.Values) > MaxValues:
		return []Problem{{Field: field, Message: fmt.Sprintf("values has %d entries; at most %d are allowed", len(r.Values), MaxValues)}}
	}
	var problems []Problem
	for j, v := range r.Values {
		msg := valueProblem(v, typ, typeKnown)
		if msg != "" {
			problems = append(problems, Problem{Field: fmt.Sprintf("%s[%d]", field, j), Message: msg})
		}
	}
	return problems
}

// valueProblem explains why v cannot be an allowed value of a field of type
// typ, or returns "" when it can.
func valueProblem(v any, typ string, typeKnown bool) string {
	if !isScalar(v) {
		return fmt.Sprintf("value must be a string, number or boolean, got %s", describe(v))
	}
	if !typeKnown {
		return ""
	}
	switch typ {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("value must be a string for a string field, got %s", describe(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("value must be a boolean for a boolean field, got %s", describe(v))
		}
	case "int":
		if n, ok := integerValue(v); !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Sprintf("value must be an integer from %d to %d for an int field, got %s", math.MinInt32, math.MaxInt32, describe(v))
		}
	case "long":
		if _, ok := integerValue(v); !ok {
			return fmt.Sprintf("value must be a 64-bit integer for a long field, got %s", describe(v))
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("value must be a date string (YYYY-MM-DD) for a date field, got %s", describe(v))
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return fmt.Sprintf("value %q is not a date (YYYY-MM-DD)", s)
		}
	case "uuid":
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("value must be a UUID string for a uuid field, got %s", describe(v))
		}
		if !isUUID(s) {
			return fmt.Sprintf("value %q is not a UUID (8-4-4-4-12 hex digits)", s)
		}
	}
	return ""
}

func isKnownKind(k Kind) bool {
	switch k {
	case KindNotNull, KindRange, KindRegex, KindAllowedValues, KindMaxLength, KindUniqueInBatch:
		return true
	}
	return false
}

func kindList() string {
	kinds := Kinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// validPath reports whether p is a dotted path without empty segments.
func validPath(p string) bool {
	for seg := range strings.SplitSeq(p, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}

// nonStructPrefix finds the first proper prefix of path whose type is not a
// struct, returning it and its type.
func nonStructPrefix(path string, fieldType FieldType) (prefix, typ string, found bool) {
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		t, ok := fieldType(path[:i])
		if ok && t != "struct" {
			return path[:i], t, true
		}
	}
	return "", "", false
}

// baseType strips the parameters of a parameterized type: "decimal(10,2)" → "decimal".
func baseType(typ string) string {
	if i := strings.IndexByte(typ, '('); i >= 0 {
		return typ[:i]
	}
	return typ
}

// appliesTo reports whether rule kind k can be declared on a field of type typ.
func appliesTo(k Kind, typ string) bool {
	t := baseType(typ)
	switch k {
	case KindNotNull:
		return true
	case KindUniqueInBatch:
		return t != "struct" && t != "list" && t != "map"
	case KindRange:
		return t == "int" || t == "long" || t == "float" || t == "double" || t == "decimal"
	case KindRegex:
		return t == "string"
	case KindMaxLength:
		return t == "string" || t == "binary"
	case KindAllowedValues:
		return t == "string" || t == "int" || t == "long" || t == "boolean" || t == "date" || t == "uuid"
	}
	return false
}

// applicableTypes describes the field types rule kind k applies to.
func applicableTypes(k Kind) string {
	switch k {
	case KindUniqueInBatch:
		return "primitive types"
	case KindRange:
		return "int, long, float, double, decimal"
	case KindRegex:
		return "string"
	case KindMaxLength:
		return "string, binary"
	case KindAllowedValues:
		return "string, int, long, boolean, date, uuid"
	}
	return "every type"
}

// isUUID reports whether s has the 8-4-4-4-12 hexadecimal UUID form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

package quality

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violation reports one record of a batch failing one rule. Reasons never
// quote record values, so violations can be logged and returned to producers
// without leaking data.
type Violation struct {
	// Index is the position of the record in the checked batch.
	Index int `json:"index"`
	// Field is the rule's field path.
	Field string `json:"field"`
	// Rule is the rule ID.
	Rule string `json:"rule"`
	// Reason explains the failure, or is the rule's custom message.
	Reason string `json:"reason"`
}

// Checker evaluates compiled rules on batches of records. It is immutable and
// safe for concurrent use.
type Checker struct {
	rules   []compiledRule
	uniques int // number of unique_in_batch rules
}

// compiledRule is a rule prepared for evaluation. Reasons are precomputed so
// that checking allocates only when it reports a violation.
type compiledRule struct {
	kind  Kind
	id    string
	field string
	path  []string

	min, max *bound         // range
	re       *regexp.Regexp // regex
	maxLen   int            // max_length
	allowed  *valueSet      // allowed_values
	unique   int            // unique_in_batch: index of the per-batch state

	message     string // custom message, "" for default reasons
	reason      string // the rule's main failure
	typeReason  string // the value has the wrong JSON type
	aboveReason string // range: above max
}

// Compile prepares rules for evaluation on the ingest path. The rules should
// have passed Validate; Compile fills default IDs and repeats the checks that
// do not need the schema, returning an error wrapping a *ValidationError when
// they fail.
func Compile(rules []Rule) (*Checker, error) {
	rules = Normalize(rules)
	if problems := ruleProblems(rules, nil); len(problems) > 0 {
		return nil, fmt.Errorf("compile quality rules: %w", &ValidationError{Problems: problems})
	}
	c := &Checker{rules: make([]compiledRule, 0, len(rules))}
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("compile quality rule %d (%s): %w", i, r.ID, err)
		}
		if cr.kind == KindUniqueInBatch {
			cr.unique = c.uniques
			c.uniques++
		}
		c.rules = append(c.rules, cr)
	}
	return c, nil
}

func compileRule(r Rule) (compiledRule, error) {
	cr := compiledRule{
		kind:    r.Rule,
		id:      r.ID,
		field:   r.Field,
		path:    strings.Split(r.Field, "."),
		message: r.Message,
	}
	switch r.Rule {
	case KindNotNull:
		cr.reason = "value is null or missing"
	case KindRange:
		cr.typeReason = "value is not a number"
		if r.Min != nil {
			b, err := newBound(*r.Min)
			if err != nil {
				return cr, fmt.Errorf("min: %w", err)
			}
			cr.min = b
			cr.reason = "value is below the minimum " + formatFloat(*r.Min)
		}
		if r.Max != nil {
			b, err := newBound(*r.Max)
			if err != nil {
				return cr, fmt.Errorf("max: %w", err)
			}
			cr.max = b
			cr.aboveReason = "value is above the maximum " + formatFloat(*r.Max)
		}
	case KindRegex:
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return cr, fmt.Errorf("pattern: %w", err)
		}
		cr.re = re
		cr.reason = "value does not match the pattern " + strconv.Quote(r.Pattern)
		cr.typeReason = "value is not a string"
	case KindMaxLength:
		cr.maxLen = int(*r.Max)
		cr.reason = "value is longer than " + strconv.Itoa(cr.maxLen) + " characters"
		cr.typeReason = "value is not a string"
	case KindAllowedValues:
		cr.allowed = newValueSet(r.Values)
		cr.reason = "value is not one of the " + strconv.Itoa(len(r.Values)) + " allowed values"
	case KindUniqueInBatch:
		cr.typeReason = "value is not a scalar"
	default:
		return cr, fmt.Errorf("unknown rule %q", r.Rule)
	}
	if cr.message != "" {
		cr.reason, cr.typeReason, cr.aboveReason = cr.message, cr.message, cr.message
	}
	return cr, nil
}

// Check evaluates every rule on every record of one batch and returns the
// violations in record order, then rule order; a record may fail several
// rules. A missing field counts as null: not_null reports it and every other
// rule skips it. unique_in_batch reports the second and later records holding
// a value.
func (c *Checker) Check(records []map[string]any) []Violation {
	var violations []Violation
	var seen []uniqueSeen
	if c.uniques > 0 {
		seen = make([]uniqueSeen, c.uniques)
	}
	var buf [64]byte
	for i, rec := range records {
		for k := range c.rules {
			r := &c.rules[k]
			v := lookup(rec, r.path)
			if v == nil {
				if r.kind == KindNotNull {
					violations = append(violations, r.violation(i, r.reason))
				}
				continue
			}
			var reason string
			switch r.kind {
			case KindRange:
				reason = r.checkRange(v)
			case KindRegex:
				reason = r.checkRegex(v)
			case KindMaxLength:
				reason = r.checkMaxLength(v)
			case KindAllowedValues:
				if !r.allowed.contains(buf[:0], v) {
					reason = r.reason
				}
			case KindUniqueInBatch:
				reason = r.checkUnique(&seen[r.unique], buf[:0], v, i, len(records))
			}
			if reason != "" {
				violations = append(violations, r.violation(i, reason))
			}
		}
	}
	return violations
}

func (r *compiledRule) violation(index int, reason string) Violation {
	return Violation{Index: index, Field: r.field, Rule: r.id, Reason: reason}
}

func (r *compiledRule) checkRange(v any) string {
	f, text, ok := numeric(v)
	if !ok {
		return r.typeReason
	}
	if r.min != nil && r.min.compare(f, text) < 0 {
		return r.reason
	}
	if r.max != nil && r.max.compare(f, text) > 0 {
		return r.aboveReason
	}
	return ""
}

func (r *compiledRule) checkRegex(v any) string {
	s, ok := v.(string)
	if !ok {
		return r.typeReason
	}
	if !r.re.MatchString(s) {
		return r.reason
	}
	return ""
}

// checkMaxLength limits the length of a string in Unicode characters.
func (r *compiledRule) checkMaxLength(v any) string {
	s, ok := v.(string)
	if !ok {
		return r.typeReason
	}
	if len(s) > r.maxLen && utf8.RuneCountInString(s) > r.maxLen {
		return r.reason
	}
	return ""
}

// checkUnique records the value of record index in seen and explains a
// duplicate. size is the batch size, used to presize the maps.
func (r *compiledRule) checkUnique(seen *uniqueSeen, buf []byte, v any, index, size int) string {
	first, ok := seen.firstIndex(buf, v, index, size)
	switch {
	case !ok:
		return r.typeReason
	case first == index:
		return ""
	case r.message != "":
		return r.message
	}
	return "duplicate value in batch; first seen at index " + strconv.Itoa(first)
}

// lookup returns the value at path in rec, or nil when it is missing, null,
// or a path segment crosses a value that is not an object.
func lookup(rec map[string]any, path []string) any {
	v := rec[path[0]]
	for _, seg := range path[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[seg]
	}
	return v
}

// valueSet holds the allowed values of an allowed_values rule. Strings match
// strings, booleans match booleans, and numbers (also given as numeric
// strings) match by exact decimal value.
type valueSet struct {
	strs      map[string]struct{}
	ints      map[int64]struct{}
	decs      map[string]struct{} // canonical decimal form, see canonicalDecimal
	hasTrue   bool
	hasFalse  bool
	isNumeric bool
}

func newValueSet(values []any) *valueSet {
	s := &valueSet{
		strs: make(map[string]struct{}),
		ints: make(map[int64]struct{}),
		decs: make(map[string]struct{}),
	}
	for _, v := range values {
		switch x := v.(type) {
		case string:
			s.strs[x] = struct{}{}
		case bool:
			if x {
				s.hasTrue = true
			} else {
				s.hasFalse = true
			}
		default:
			dec, n, isInt, ok := numberKey(nil, v)
			switch {
			case !ok:
			case isInt:
				s.ints[n] = struct{}{}
				s.isNumeric = true
			default:
				s.decs[string(dec)] = struct{}{}
				s.isNumeric = true
			}
		}
	}
	return s
}

func (s *valueSet) contains(buf []byte, v any) bool {
	switch x := v.(type) {
	case string:
		if _, ok := s.strs[x]; ok {
			return true
		}
		if !s.isNumeric {
			return false
		}
	case bool:
		return x && s.hasTrue || !x && s.hasFalse
	}
	dec, n, isInt, ok := numberKey(buf, v)
	if !ok {
		return false
	}
	if isInt {
		_, found := s.ints[n]
		return found
	}
	_, found := s.decs[string(dec)]
	return found
}

// uniqueSeen remembers the first record index of each value of one
// unique_in_batch rule during one Check call. Strings, booleans and numbers
// are distinct kinds of values; numbers compare by exact decimal value.
type uniqueSeen struct {
	strs  map[string]int
	ints  map[int64]int
	decs  map[string]int
	bools [2]int // 1 + index of the first record, 0 when unseen
}

// firstIndex returns the index of the first record holding v, which is index
// itself the first time. ok is false when v is not a scalar.
func (s *uniqueSeen) firstIndex(buf []byte, v any, index, size int) (first int, ok bool) {
	switch x := v.(type) {
	case string:
		if s.strs == nil {
			s.strs = make(map[string]int, size)
		}
		return firstOf(s.strs, x, index), true
	case bool:
		b := 0
		if x {
			b = 1
		}
		if s.bools[b] == 0 {
			s.bools[b] = index + 1
		}
		return s.bools[b] - 1, true
	}
	dec, n, isInt, ok := numberKey(buf, v)
	switch {
	case !ok:
		return 0, false
	case isInt:
		if s.ints == nil {
			s.ints = make(map[int64]int, size)
		}
		return firstOf(s.ints, n, index), true
	}
	if s.decs == nil {
		s.decs = make(map[string]int, size)
	}
	if first, found := s.decs[string(dec)]; found {
		return first, true
	}
	s.decs[string(dec)] = index
	return index, true
}

func firstOf[K comparable](m map[K]int, key K, index int) int {
	if first, found := m[key]; found {
		return first
	}
	m[key] = index
	return index
}

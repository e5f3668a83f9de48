package quality

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// decRule is a quality rule compiled for decoded values: its field resolved
// to a column, its parameters converted to the column's type.
type decRule struct {
	compiledRule
	node  *colNode
	slots []int // member indices from the top-level struct

	// range on integer-like and decimal columns: a value fails min when below
	// lo (or always, with loAll) and fails max when above hi (or always).
	loOn, hiOn, loAll, hiAll bool
	loI, hiI                 int64
	loD, hiD                 decimal128.Num

	// allowed_values
	strSet     map[string]struct{}
	intSet     map[int64]struct{}
	uuidSet    map[[16]byte]struct{}
	allowTrue  bool
	allowFalse bool
}

func (d *Decoder) compileRules(cols []Column, rules []Rule) error {
	if err := Validate(rules, columnFieldType(cols)); err != nil {
		return fmt.Errorf("quality rules: %w", err)
	}
	rules = Normalize(rules)
	d.rules = make([]decRule, 0, len(rules))
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return fmt.Errorf("quality rule %d (%s): %w", i, r.ID, err)
		}
		dr := decRule{compiledRule: cr}
		dr.node, dr.slots = d.resolve(r.Field)
		if dr.node == nil {
			return fmt.Errorf("quality rule %d (%s): field %q is not a struct member", i, r.ID, r.Field)
		}
		switch r.Rule {
		case KindRange:
			dr.prepareRange()
		case KindAllowedValues:
			dr.prepareAllowed(r.Values)
		case KindUniqueInBatch:
			dr.unique = d.uniques
			d.uniques++
		}
		d.rules = append(d.rules, dr)
	}
	return nil
}

// resolve finds the column of a dotted path through structs.
func (d *Decoder) resolve(field string) (*colNode, []int) {
	n := d.root
	var path []int
	for part := range strings.SplitSeq(field, ".") {
		if n.kind != kStruct {
			return nil, nil
		}
		i := n.lookup([]byte(part), 0)
		if i < 0 {
			return nil, nil
		}
		path = append(path, i)
		n = n.fields[i]
	}
	return n, path
}

// prepareRange converts the bounds for exact comparison with integer and
// decimal values.
func (r *decRule) prepareRange() {
	scale := 0
	switch r.node.kind {
	case kInt, kLong:
	case kDecimal:
		scale = r.node.scale
	default:
		return
	}
	if r.min != nil {
		c := ceilRat(scaleRat(r.min.exact, scale))
		if r.fits(c) {
			r.loOn = true
			r.store(c, &r.loI, &r.loD)
		} else {
			r.loAll = c.Sign() > 0 // above every value: all fail
		}
	}
	if r.max != nil {
		f := floorRat(scaleRat(r.max.exact, scale))
		if r.fits(f) {
			r.hiOn = true
			r.store(f, &r.hiI, &r.hiD)
		} else {
			r.hiAll = f.Sign() < 0 // below every value: all fail
		}
	}
}

// fits reports whether integer bound b is representable in the column's
// value type: int64 for integers, 128 bits for decimals.
func (r *decRule) fits(b *big.Int) bool {
	if r.node.kind == kDecimal {
		return b.BitLen() <= 127
	}
	return b.IsInt64()
}

func (r *decRule) store(b *big.Int, i *int64, dec *decimal128.Num) {
	if r.node.kind == kDecimal {
		*dec = decimal128.FromBigInt(b)
	} else {
		*i = b.Int64()
	}
}

func scaleRat(r *big.Rat, scale int) *big.Rat {
	if scale == 0 {
		return r
	}
	m := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	return new(big.Rat).Mul(r, new(big.Rat).SetInt(m))
}

func floorRat(r *big.Rat) *big.Int {
	q, _ := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	return q
}

func ceilRat(r *big.Rat) *big.Int {
	q, m := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// prepareAllowed converts allowed values to the column's type. Validate
// has checked that they fit it.
func (r *decRule) prepareAllowed(values []any) {
	for _, v := range values {
		switch r.node.kind {
		case kString:
			if s, ok := v.(string); ok {
				if r.strSet == nil {
					r.strSet = make(map[string]struct{})
				}
				r.strSet[s] = struct{}{}
			}
		case kInt, kLong, kDate:
			var n int64
			var ok bool
			if r.node.kind == kDate {
				s, isStr := v.(string)
				n, ok = parseDate([]byte(s))
				ok = ok && isStr && len(s) == 10
			} else {
				n, ok = integerValue(v)
			}
			if ok {
				if r.intSet == nil {
					r.intSet = make(map[int64]struct{})
				}
				r.intSet[n] = struct{}{}
			}
		case kBool:
			if b, ok := v.(bool); ok {
				r.allowTrue = r.allowTrue || b
				r.allowFalse = r.allowFalse || !b
			}
		case kUUID:
			if s, ok := v.(string); ok {
				if u, ok := parseUUID([]byte(s)); ok {
					if r.uuidSet == nil {
						r.uuidSet = make(map[[16]byte]struct{})
					}
					r.uuidSet[u] = struct{}{}
				}
			}
		}
	}
}

func (r *decRule) allows(v *val) bool {
	switch r.node.kind {
	case kString:
		_, ok := r.strSet[string(v.b)]
		return ok
	case kInt, kLong, kDate:
		_, ok := r.intSet[v.i]
		return ok
	case kBool:
		if v.i != 0 {
			return r.allowTrue
		}
		return r.allowFalse
	case kUUID:
		_, ok := r.uuidSet[[16]byte(v.b)]
		return ok
	}
	return false
}

// checkRangeVal returns the reason a value fails the range, or "".
func (r *decRule) checkRangeVal(v *val) string {
	switch r.node.kind {
	case kInt, kLong:
		if r.loAll || r.loOn && v.i < r.loI {
			return r.reason
		}
		if r.hiAll || r.hiOn && v.i > r.hiI {
			return r.aboveReason
		}
	case kDecimal:
		x := decimal128.New(v.hi, uint64(v.i))
		if r.loAll || r.loOn && x.Less(r.loD) {
			return r.reason
		}
		if r.hiAll || r.hiOn && x.Greater(r.hiD) {
			return r.aboveReason
		}
	case kFloat, kDouble:
		f := math.Float64frombits(uint64(v.i))
		if r.min != nil && f < r.min.value {
			return r.reason
		}
		if r.max != nil && f > r.max.value {
			return r.aboveReason
		}
	}
	return ""
}

// uniqueState holds the values accepted so far for one unique_in_batch
// rule, with the index of the record holding each.
type uniqueState struct {
	ints  map[int64]int
	strs  map[string]int
	decs  map[decimal128.Num]int
	uuids map[[16]byte]int
}

// reset empties the state for the next batch, dropping large maps rather
// than keeping their memory in the pool.
func (u *uniqueState) reset() {
	const keep = 1 << 12
	if len(u.ints) > keep || len(u.strs) > keep || len(u.decs) > keep || len(u.uuids) > keep {
		*u = uniqueState{}
		return
	}
	clear(u.ints)
	clear(u.strs)
	clear(u.decs)
	clear(u.uuids)
}

// uniqueKey returns the integer key of values compared as integers: the
// integer-like kinds and the bits of floats (with -0 as 0).
func uniqueKey(kind colKind, v *val) int64 {
	switch kind {
	case kDouble:
		if math.Float64frombits(uint64(v.i)) == 0 {
			return 0
		}
		return v.i
	case kFloat:
		if math.Float32frombits(uint32(v.hi)) == 0 {
			return 0
		}
		return v.hi
	}
	return v.i
}

// find returns the index of the accepted record holding v.
func (u *uniqueState) find(kind colKind, v *val) (int, bool) {
	var first int
	var ok bool
	switch kind {
	case kString, kBinary:
		first, ok = u.strs[string(v.b)]
	case kDecimal:
		first, ok = u.decs[decimal128.New(v.hi, uint64(v.i))]
	case kUUID:
		first, ok = u.uuids[[16]byte(v.b)]
	default:
		first, ok = u.ints[uniqueKey(kind, v)]
	}
	return first, ok
}

// add records v as held by accepted record index.
func (st *run) addUnique(u *uniqueState, kind colKind, v *val, index int) {
	switch kind {
	case kString, kBinary:
		if u.strs == nil {
			u.strs = make(map[string]int)
		}
		b := st.keys.copy(v.b)
		u.strs[unsafe.String(unsafe.SliceData(b), len(b))] = index
	case kDecimal:
		if u.decs == nil {
			u.decs = make(map[decimal128.Num]int)
		}
		u.decs[decimal128.New(v.hi, uint64(v.i))] = index
	case kUUID:
		if u.uuids == nil {
			u.uuids = make(map[[16]byte]int)
		}
		u.uuids[[16]byte(v.b)] = index
	default:
		if u.ints == nil {
			u.ints = make(map[int64]int)
		}
		u.ints[uniqueKey(kind, v)] = index
	}
}

// pendingUnique is a value to record once its record is accepted.
type pendingUnique struct {
	rule int
	slot int32
}

// lookupPath returns the slot of a rule's field in the decoded record and
// its state; a field under a missing or null struct is absent.
func (st *run) lookupPath(path []int) (int32, uint8) {
	base := int32(0)
	for k, idx := range path {
		slot := base + int32(idx)
		v := &st.arena[slot]
		if k == len(path)-1 {
			return slot, v.st
		}
		switch v.st {
		case stSet:
			base = v.first
		case stBad:
			return -1, stBad
		default:
			return -1, stAbsent
		}
	}
	return -1, stAbsent
}

// checkRules evaluates the quality rules on the decoded record. Fields
// that failed decoding are skipped: they are already reported.
func (st *run) checkRules() {
	st.pending = st.pending[:0]
	for k := range st.d.rules {
		r := &st.d.rules[k]
		slot, state := st.lookupPath(r.slots)
		if state == stBad {
			continue
		}
		if state != stSet {
			if r.kind == KindNotNull {
				st.violate(r.field, r.id, r.reason)
			}
			continue
		}
		v := &st.arena[slot]
		reason := ""
		switch r.kind {
		case KindRange:
			reason = r.checkRangeVal(v)
		case KindRegex:
			if !r.re.Match(v.b) {
				reason = r.reason
			}
		case KindMaxLength:
			if len(v.b) > r.maxLen && (r.node.kind == kBinary || utf8.RuneCount(v.b) > r.maxLen) {
				reason = r.reason
			}
		case KindAllowedValues:
			if !r.allows(v) {
				reason = r.reason
			}
		case KindUniqueInBatch:
			if first, dup := st.uniq[r.unique].find(r.node.kind, v); dup {
				reason = r.message
				if reason == "" {
					reason = "duplicate value in batch; first seen at index " + strconv.Itoa(first)
				}
			} else {
				st.pending = append(st.pending, pendingUnique{rule: k, slot: slot})
			}
		}
		if reason != "" {
			st.violate(r.field, r.id, reason)
		}
	}
}

// commitUniques records the unique values of the accepted record.
func (st *run) commitUniques() {
	for _, pu := range st.pending {
		r := &st.d.rules[pu.rule]
		st.addUnique(&st.uniq[r.unique], r.node.kind, &st.arena[pu.slot], st.n)
	}
}

package quality

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The state of a decoded value.
const (
	stAbsent uint8 = iota // not in the record
	stNull                // JSON null
	stSet                 // decoded
	stBad                 // present but invalid; already reported
)

// val is one decoded value of the record being read. Records are decoded
// into an arena of vals, then appended to the Arrow builders only when
// they are valid. A struct's members are contiguous (first..first+len-1);
// list elements and map entries (key slot, value slot) are chained by next.
type val struct {
	b     []byte // string, binary and uuid bytes; the text of numbers
	i     int64  // integer-like value; float64 bits; decimal low bits
	hi    int64  // decimal high bits; float32 bits of a float column
	first int32  // struct: first member; list, map: first element or entry
	next  int32  // next list element or map entry
	n     int32  // list, map: number of elements or entries
	st    uint8
}

type perr uint8

const (
	perrNone   perr = iota
	perrMore        // the record continues beyond the buffered data
	perrSyntax      // malformed JSON
	perrDepth       // nested deeper than MaxDepth
)

// The rule IDs of schema violations.
const (
	RuleSchemaType      = "schema.type"
	RuleSchemaRequired  = "schema.required"
	RuleSchemaUnknown   = "schema.unknown_field"
	RuleSchemaDuplicate = "schema.duplicate_key"
	RuleSchemaRange     = "schema.range"
	RuleSchemaPrecision = "schema.precision"
)

const (
	reasonMissing      = "required field is missing"
	reasonNull         = "required value is null"
	reasonUnknown      = "field is not in the dataset schema"
	reasonDuplicate    = "key is given more than once"
	reasonDupMapKey    = "map key is given more than once"
	reasonNotInteger   = "value is not an integer"
	reasonEpochInteger = "epoch milliseconds must be an integer"
	reasonTSOffset     = "timestamp without time zone must not have a UTC offset; the column is a timestamp, not a timestamptz"
	reasonTSNoOffset   = "timestamp with time zone needs a UTC offset (Z or ±HH:MM)"
	reasonTSRange      = "value is outside the timestamp range"
	reasonSubMicro     = "value has more than microsecond precision"
	reasonMapEntry     = `map entry must be an object {"key": ..., "value": ...}`
	maxKeyInPath       = 128
)

// parser decodes one record from src[off:end] into the arena. When final is
// false, more of the body may follow end: running out of data is then
// perrMore, and the caller reads more and starts the record again.
type parser struct {
	d     *Decoder
	src   []byte
	off   int
	end   int
	final bool
	index int

	arena   []val
	scratch []byte // unescaped strings, decoded base64 and uuids of the record
	keybuf  []byte // the unescaped struct key being looked up
	viol    []Violation
	marks   []int // positions in the enclosing lists and maps, for paths

	mapDepth int                   // maps enclosing the current value
	keySets  []map[string]struct{} // keys of large maps, by mapDepth

	errKind perr
	errPos  int
	errMsg  string
}

func (p *parser) reset(src []byte, off, end int, final bool, index int) {
	p.src, p.off, p.end, p.final, p.index = src, off, end, final, index
	p.arena = p.arena[:0]
	p.scratch = p.scratch[:0]
	p.viol = p.viol[:0]
	p.marks = p.marks[:0]
	p.mapDepth = 0
	p.errKind = perrNone
}

func (p *parser) syntax(pos int, msg string) bool {
	p.errKind, p.errPos, p.errMsg = perrSyntax, pos, msg
	return false
}

// short reports running out of data at pos.
func (p *parser) short(pos int) bool {
	if p.final {
		return p.syntax(pos, "unexpected end of the record")
	}
	p.errKind = perrMore
	return false
}

func (p *parser) depthErr() bool {
	p.errKind = perrDepth
	return false
}

func (p *parser) newSlots(n int) int32 {
	i := len(p.arena)
	if cap(p.arena)-i >= n {
		p.arena = p.arena[:i+n]
		clear(p.arena[i:])
	} else {
		p.arena = append(p.arena, make([]val, n)...)
	}
	return int32(i)
}

// MaxReasons is the number of problems listed for one record; a record
// with more lists MaxReasons of them and then one Violation of rule
// RuleTruncated.
const MaxReasons = 100

// RuleTruncated marks a rejection whose problems are not all listed.
const RuleTruncated = "truncated"

func (p *parser) violate(field, rule, reason string) {
	switch {
	case len(p.viol) < MaxReasons:
		p.viol = append(p.viol, Violation{Index: p.index, Field: field, Rule: rule, Reason: reason})
	case len(p.viol) == MaxReasons:
		p.viol = append(p.viol, Violation{Index: p.index, Rule: RuleTruncated,
			Reason: "the record has more problems; only the first " + itoa(MaxReasons) + " are listed"})
	}
}

// report reports a problem of the value of column n.
func (p *parser) report(n *colNode, rule, reason string) {
	if len(p.viol) <= MaxReasons {
		p.violate(p.path(n), rule, reason)
	}
}

// invalid reports the value of column n in slot as invalid.
func (p *parser) invalid(n *colNode, slot int32, rule, reason string) {
	p.arena[slot].st = stBad
	p.report(n, rule, reason)
}

// path renders the path of column n, numbering the enclosing lists and maps.
func (p *parser) path(n *colNode) string {
	if n.marks == 0 {
		return n.path
	}
	var b strings.Builder
	s := n.path
	for k := 0; ; k++ {
		i := strings.Index(s, "[]")
		if i < 0 || k >= len(p.marks) {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteByte('[')
		b.WriteString(itoa(p.marks[k]))
		b.WriteByte(']')
		s = s[i+2:]
	}
}

// memberPath is the path of key key in struct n.
func (p *parser) memberPath(n *colNode, key []byte) string {
	if len(key) > maxKeyInPath {
		key = key[:maxKeyInPath]
		for len(key) > 0 && !utf8.Valid(key) {
			key = key[:len(key)-1]
		}
	}
	if n.path == "" {
		return string(key)
	}
	return p.path(n) + "." + string(key)
}

// ws skips whitespace.
func (p *parser) ws() {
	for p.off < p.end {
		switch p.src[p.off] {
		case ' ', '\t', '\n', '\r':
			p.off++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte without consuming it.
func (p *parser) next() (byte, bool) {
	p.ws()
	if p.off >= p.end {
		return 0, p.short(p.off)
	}
	return p.src[p.off], true
}

// parseRecord decodes the object at p.off.
func (p *parser) parseRecord() bool {
	root := p.d.root
	base := p.newSlots(len(root.fields))
	p.off++ // '{'
	return p.members(root, base, 1)
}

// members decodes the members of an object (after its '{') into the
// fields of struct n, whose slots start at base. depth is the object's.
func (p *parser) members(n *colNode, base int32, depth int) bool {
	c, ok := p.next()
	if !ok {
		return false
	}
	if c == '}' {
		p.off++
		p.checkRequired(n, base)
		return true
	}
	hint := 0
	for {
		if c != '"' {
			return p.syntax(p.off, "expected a string key")
		}
		key, ok := p.key()
		if !ok {
			return false
		}
		if c, ok = p.next(); !ok {
			return false
		}
		if c != ':' {
			return p.syntax(p.off, "expected ':' after an object key")
		}
		p.off++
		if _, ok = p.next(); !ok {
			return false
		}
		idx := n.lookup(key, hint)
		switch {
		case idx < 0:
			if p.d.rejectUnk && len(p.viol) <= MaxReasons {
				p.violate(p.memberPath(n, key), RuleSchemaUnknown, reasonUnknown)
			}
			if !p.skip(depth) {
				return false
			}
		case p.arena[base+int32(idx)].st != stAbsent:
			p.report(n.fields[idx], RuleSchemaDuplicate, reasonDuplicate)
			if !p.skip(depth) {
				return false
			}
		default:
			hint = idx + 1
			if !p.value(n.fields[idx], base+int32(idx), depth) {
				return false
			}
		}
		if c, ok = p.next(); !ok {
			return false
		}
		if c == ',' {
			p.off++
			if c, ok = p.next(); !ok {
				return false
			}
			continue
		}
		if c == '}' {
			p.off++
			break
		}
		return p.syntax(p.off, "expected ',' or '}' after an object member")
	}
	p.checkRequired(n, base)
	return true
}

func (p *parser) checkRequired(n *colNode, base int32) {
	for i, f := range n.fields {
		if f.required && p.arena[base+int32(i)].st == stAbsent {
			p.report(f, RuleSchemaRequired, reasonMissing)
		}
	}
}

// mismatch reports a JSON value of the wrong type for column n and skips it.
func (p *parser) mismatch(n *colNode, slot int32, depth int) bool {
	p.invalid(n, slot, RuleSchemaType, n.typeReason)
	return p.skip(depth)
}

// value decodes the JSON value at p.off (at least one byte is available)
// as a value of column n into slot; depth is that of the enclosing object
// or array.
func (p *parser) value(n *colNode, slot int32, depth int) bool {
	c := p.src[p.off]
	if c == 'n' {
		if !p.literal("null") {
			return false
		}
		p.arena[slot].st = stNull
		if n.required {
			p.report(n, RuleSchemaRequired, reasonNull)
		}
		return true
	}
	switch n.kind {
	case kStruct:
		if c != '{' {
			return p.mismatch(n, slot, depth)
		}
		if depth+1 > p.d.maxDepth {
			return p.depthErr()
		}
		p.off++
		first := p.newSlots(len(n.fields))
		p.arena[slot].first = first
		p.arena[slot].st = stSet
		return p.members(n, first, depth+1)
	case kList:
		if c != '[' {
			return p.mismatch(n, slot, depth)
		}
		return p.list(n, slot, depth+1)
	case kMap:
		switch {
		case c == '{' && n.key.kind == kString:
			return p.mapObject(n, slot, depth+1)
		case c == '[':
			return p.mapEntries(n, slot, depth+1)
		}
		return p.mismatch(n, slot, depth)
	case kBool:
		switch c {
		case 't':
			if !p.literal("true") {
				return false
			}
			p.arena[slot].i = 1
		case 'f':
			if !p.literal("false") {
				return false
			}
		default:
			return p.mismatch(n, slot, depth)
		}
		p.arena[slot].st = stSet
		return true
	case kInt, kLong, kFloat, kDouble:
		if c != '-' && !isDigit(c) {
			return p.mismatch(n, slot, depth)
		}
		s, e, simple, ok := p.number()
		if !ok {
			return false
		}
		p.setNumber(n, slot, p.src[s:e], simple)
		return true
	case kDecimal:
		var text []byte
		switch {
		case c == '"':
			s, ok := p.str()
			if !ok {
				return false
			}
			if !isDecimalText(s) {
				p.invalid(n, slot, RuleSchemaType, n.typeReason)
				return true
			}
			text = s
		case c == '-' || isDigit(c):
			s, e, _, ok := p.number()
			if !ok {
				return false
			}
			text = p.src[s:e]
		default:
			return p.mismatch(n, slot, depth)
		}
		p.setDecimal(n, slot, text)
		return true
	case kTimestamp, kTimestampTZ:
		if c == '-' || isDigit(c) {
			s, e, simple, ok := p.number()
			if !ok {
				return false
			}
			p.setEpochMillis(n, slot, p.src[s:e], simple)
			return true
		}
	}
	// Kinds read from strings.
	if c != '"' {
		return p.mismatch(n, slot, depth)
	}
	s, ok := p.str()
	if !ok {
		return false
	}
	p.setString(n, slot, s)
	return true
}

// list decodes a JSON array (at p.off) of depth depth as a list value.
func (p *parser) list(n *colNode, slot int32, depth int) bool {
	if depth > p.d.maxDepth {
		return p.depthErr()
	}
	p.off++
	p.arena[slot].st = stSet
	c, ok := p.next()
	if !ok {
		return false
	}
	if c == ']' {
		p.off++
		return true
	}
	p.marks = append(p.marks, 0)
	mi := len(p.marks) - 1
	prev := int32(-1)
	count := 0
	for {
		e := p.newSlots(1)
		if prev < 0 {
			p.arena[slot].first = e
		} else {
			p.arena[prev].next = e
		}
		prev = e
		p.marks[mi] = count
		if !p.value(n.elem, e, depth) {
			return false
		}
		count++
		if c, ok = p.next(); !ok {
			return false
		}
		if c == ',' {
			p.off++
			if _, ok = p.next(); !ok {
				return false
			}
			continue
		}
		if c == ']' {
			p.off++
			break
		}
		return p.syntax(p.off, "expected ',' or ']' after an array element")
	}
	p.marks = p.marks[:mi]
	p.arena[slot].n = int32(count)
	return true
}

// mapObject decodes a JSON object (at p.off) of depth depth as a map with
// string keys.
func (p *parser) mapObject(n *colNode, slot int32, depth int) bool {
	if depth > p.d.maxDepth {
		return p.depthErr()
	}
	p.mapDepth++
	defer func() { p.mapDepth-- }()
	p.off++
	p.arena[slot].st = stSet
	c, ok := p.next()
	if !ok {
		return false
	}
	if c == '}' {
		p.off++
		return true
	}
	p.marks = append(p.marks, 0)
	mi := len(p.marks) - 1
	prev := int32(-1)
	count := 0
	for {
		if c != '"' {
			return p.syntax(p.off, "expected a string key")
		}
		key, ok := p.str()
		if !ok {
			return false
		}
		if c, ok = p.next(); !ok {
			return false
		}
		if c != ':' {
			return p.syntax(p.off, "expected ':' after an object key")
		}
		p.off++
		if _, ok = p.next(); !ok {
			return false
		}
		k := p.newSlots(2)
		if prev < 0 {
			p.arena[slot].first = k
		} else {
			p.arena[prev].next = k
		}
		prev = k
		p.marks[mi] = count
		p.arena[k].st = stSet
		p.arena[k].b = key
		if p.dupKey(n.key, p.arena[slot].first, k, count) {
			p.report(n.key, RuleSchemaDuplicate, reasonDupMapKey)
		}
		if !p.value(n.value, k+1, depth) {
			return false
		}
		count++
		if c, ok = p.next(); !ok {
			return false
		}
		if c == ',' {
			p.off++
			if c, ok = p.next(); !ok {
				return false
			}
			continue
		}
		if c == '}' {
			p.off++
			break
		}
		return p.syntax(p.off, "expected ',' or '}' after an object member")
	}
	p.marks = p.marks[:mi]
	p.arena[slot].n = int32(count)
	return true
}

// mapEntries decodes a JSON array (at p.off) of depth depth of
// {"key": k, "value": v} objects as a map.
func (p *parser) mapEntries(n *colNode, slot int32, depth int) bool {
	if depth > p.d.maxDepth {
		return p.depthErr()
	}
	p.mapDepth++
	defer func() { p.mapDepth-- }()
	p.off++
	p.arena[slot].st = stSet
	c, ok := p.next()
	if !ok {
		return false
	}
	if c == ']' {
		p.off++
		return true
	}
	p.marks = append(p.marks, 0)
	mi := len(p.marks) - 1
	prev := int32(-1)
	count := 0
	for {
		k := p.newSlots(2)
		if prev < 0 {
			p.arena[slot].first = k
		} else {
			p.arena[prev].next = k
		}
		prev = k
		p.marks[mi] = count
		if c != '{' {
			p.arena[k].st, p.arena[k+1].st = stBad, stBad
			p.report(n.entry, RuleSchemaType, reasonMapEntry)
			if !p.skip(depth) {
				return false
			}
		} else {
			if depth+1 > p.d.maxDepth {
				return p.depthErr()
			}
			p.off++
			if !p.members(n.entry, k, depth+1) {
				return false
			}
			if p.arena[k].st == stSet && p.dupKey(n.key, p.arena[slot].first, k, count) {
				p.report(n.key, RuleSchemaDuplicate, reasonDupMapKey)
			}
		}
		count++
		if c, ok = p.next(); !ok {
			return false
		}
		if c == ',' {
			p.off++
			if c, ok = p.next(); !ok {
				return false
			}
			continue
		}
		if c == ']' {
			p.off++
			break
		}
		return p.syntax(p.off, "expected ',' or ']' after an array element")
	}
	p.marks = p.marks[:mi]
	p.arena[slot].n = int32(count)
	return true
}

// smallMap is the number of entries up to which map keys are compared
// pairwise; larger maps use a set, so that a record of many keys costs
// linear time.
const smallMap = 16

// dupKey reports whether the key in slot k equals one of the count keys
// before it in the chain starting at first.
func (p *parser) dupKey(key *colNode, first, k int32, count int) bool {
	kv := &p.arena[k]
	byBytes := key.kind == kString || key.kind == kBinary || key.kind == kUUID
	if count < smallMap {
		e := first
		for range count {
			o := &p.arena[e]
			if o.st == stSet && (byBytes && bytes.Equal(o.b, kv.b) || !byBytes && o.i == kv.i && o.hi == kv.hi) {
				return true
			}
			e = o.next
		}
		return false
	}
	// One set per level of map nesting, filled with the earlier keys when
	// the map outgrows smallMap.
	for len(p.keySets) <= p.mapDepth {
		p.keySets = append(p.keySets, make(map[string]struct{}))
	}
	set := p.keySets[p.mapDepth]
	var buf [16]byte
	keyOf := func(v *val) []byte {
		if byBytes {
			return v.b
		}
		binary.LittleEndian.PutUint64(buf[:8], uint64(v.i))
		binary.LittleEndian.PutUint64(buf[8:], uint64(v.hi))
		return buf[:]
	}
	if count == smallMap {
		clear(set)
		e := first
		for range count {
			if o := &p.arena[e]; o.st == stSet {
				set[string(keyOf(o))] = struct{}{}
			}
			e = p.arena[e].next
		}
	}
	kb := keyOf(kv)
	if _, dup := set[string(kb)]; dup {
		return true
	}
	set[string(kb)] = struct{}{}
	return false
}

// skip validates and skips the JSON value at p.off (at least one byte is
// available); depth is that of the enclosing object or array.
func (p *parser) skip(depth int) bool {
	c := p.src[p.off]
	switch {
	case c == '{' || c == '[':
		if depth+1 > p.d.maxDepth {
			return p.depthErr()
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.off++
		c, ok := p.next()
		if !ok {
			return false
		}
		if c == closer {
			p.off++
			return true
		}
		for {
			if closer == '}' {
				if c != '"' {
					return p.syntax(p.off, "expected a string key")
				}
				if _, _, _, ok = p.scanString(); !ok {
					return false
				}
				if c, ok = p.next(); !ok {
					return false
				}
				if c != ':' {
					return p.syntax(p.off, "expected ':' after an object key")
				}
				p.off++
				if _, ok = p.next(); !ok {
					return false
				}
			}
			if !p.skip(depth + 1) {
				return false
			}
			if c, ok = p.next(); !ok {
				return false
			}
			if c == ',' {
				p.off++
				if c, ok = p.next(); !ok {
					return false
				}
				continue
			}
			if c == closer {
				p.off++
				return true
			}
			if closer == '}' {
				return p.syntax(p.off, "expected ',' or '}' after an object member")
			}
			return p.syntax(p.off, "expected ',' or ']' after an array element")
		}
	case c == '"':
		_, _, _, ok := p.scanString()
		return ok
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || isDigit(c):
		_, _, _, ok := p.number()
		return ok
	}
	return p.syntax(p.off, "expected a JSON value")
}

// literal consumes lit at p.off.
func (p *parser) literal(lit string) bool {
	if avail := p.end - p.off; avail < len(lit) {
		if string(p.src[p.off:p.end]) != lit[:avail] {
			return p.syntax(p.off, "invalid literal")
		}
		return p.short(p.end)
	}
	if string(p.src[p.off:p.off+len(lit)]) != lit {
		return p.syntax(p.off, "invalid literal")
	}
	p.off += len(lit)
	return true
}

// number scans a JSON number at p.off. simple reports an integer without
// fraction or exponent.
func (p *parser) number() (s, e int, simple, ok bool) {
	src := p.src[:p.end]
	s = p.off
	i := s
	if src[i] == '-' {
		i++
		if i >= len(src) {
			return 0, 0, false, p.short(i)
		}
	}
	switch c := src[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	default:
		return 0, 0, false, p.syntax(i, "invalid number")
	}
	simple = true
	if i < len(src) && src[i] == '.' {
		simple = false
		i++
		if i >= len(src) {
			return 0, 0, false, p.short(i)
		}
		if !isDigit(src[i]) {
			return 0, 0, false, p.syntax(i, "invalid number")
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		simple = false
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) {
			return 0, 0, false, p.short(i)
		}
		if !isDigit(src[i]) {
			return 0, 0, false, p.syntax(i, "invalid number")
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i >= len(src) && !p.final {
		// The number may continue in data not read yet.
		return 0, 0, false, p.short(i)
	}
	p.off = i
	return s, i, simple, true
}

// plain marks the bytes a string holds as themselves: not '"', '\\', a
// control character or non-ASCII.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString scans the string at p.off, validating escapes and UTF-8, and
// returns the bounds of its raw content.
func (p *parser) scanString() (s, e int, esc, ok bool) {
	src := p.src[:p.end]
	i := p.off + 1
	nonASCII := false
	for {
		for i < len(src) && plain[src[i]] {
			i++
		}
		if i >= len(src) {
			return 0, 0, false, p.short(i)
		}
		switch c := src[i]; {
		case c == '"':
			s, e = p.off+1, i
			if nonASCII && !utf8.Valid(src[s:e]) {
				return 0, 0, false, p.syntax(s+firstInvalidUTF8(src[s:e]), "invalid UTF-8 in a string")
			}
			p.off = i + 1
			return s, e, esc, true
		case c == '\\':
			esc = true
			n, ok := p.escape(src, i)
			if !ok {
				return 0, 0, false, false
			}
			i += n
		case c < 0x20:
			return 0, 0, false, p.syntax(i, "control character in a string")
		default:
			nonASCII = true
			i++
		}
	}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

// escape validates the escape sequence at src[i] ('\\') and returns its
// length. A \u escape of a surrogate must be a valid pair.
func (p *parser) escape(src []byte, i int) (int, bool) {
	if i+1 >= len(src) {
		return 0, p.short(i)
	}
	switch src[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
	default:
		return 0, p.syntax(i, "invalid escape sequence in a string")
	}
	if i+6 > len(src) {
		return 0, p.short(i)
	}
	r, ok := hex4(src[i+2 : i+6])
	if !ok {
		return 0, p.syntax(i, "invalid \\u escape in a string")
	}
	if !utf16.IsSurrogate(r) {
		return 6, true
	}
	if r >= 0xDC00 {
		return 0, p.syntax(i, "lone surrogate in a \\u escape")
	}
	if i+12 > len(src) {
		if (i+6 < len(src) && src[i+6] != '\\') || (i+7 < len(src) && src[i+7] != 'u') {
			return 0, p.syntax(i, "lone surrogate in a \\u escape")
		}
		return 0, p.short(i)
	}
	if src[i+6] != '\\' || src[i+7] != 'u' {
		return 0, p.syntax(i, "lone surrogate in a \\u escape")
	}
	r2, ok := hex4(src[i+8 : i+12])
	if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
		return 0, p.syntax(i, "lone surrogate in a \\u escape")
	}
	return 12, true
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		v := hexVal[c]
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

var hexVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

var unescapeByte = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unescape appends the decoded content of validated string content s.
func unescape(dst, s []byte) []byte {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if s[1] != 'u' {
			dst = append(dst, unescapeByte[s[1]])
			s = s[2:]
			continue
		}
		r, _ := hex4(s[2:6])
		n := 6
		if utf16.IsSurrogate(r) {
			r2, _ := hex4(s[8:12])
			r = utf16.DecodeRune(r, r2)
			n = 12
		}
		dst = utf8.AppendRune(dst, r)
		s = s[n:]
	}
	return dst
}

// str scans the string at p.off and returns its content: a slice of the
// body without escapes, else unescaped into the record's scratch space.
func (p *parser) str() ([]byte, bool) {
	s, e, esc, ok := p.scanString()
	if !ok {
		return nil, false
	}
	if !esc {
		return p.src[s:e], true
	}
	n := len(p.scratch)
	p.scratch = unescape(p.scratch, p.src[s:e])
	return p.scratch[n:len(p.scratch):len(p.scratch)], true
}

// key scans an object key; an unescaped key is valid until the next key.
func (p *parser) key() ([]byte, bool) {
	s, e, esc, ok := p.scanString()
	if !ok {
		return nil, false
	}
	if !esc {
		return p.src[s:e], true
	}
	p.keybuf = unescape(p.keybuf[:0], p.src[s:e])
	return p.keybuf, true
}

// bstr views b as a string without copying; the string must not outlive
// the bytes nor be used after they change.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// setNumber stores a JSON number into an int, long, float or double column.
func (p *parser) setNumber(n *colNode, slot int32, text []byte, simple bool) {
	v := &p.arena[slot]
	switch n.kind {
	case kInt, kLong:
		x, rule, reason := parseInteger(text, simple)
		if rule == "" && n.kind == kInt && (x < math.MinInt32 || x > math.MaxInt32) {
			rule = RuleSchemaRange
		}
		if rule != "" {
			if rule == RuleSchemaRange {
				reason = n.rangeReason
			}
			p.invalid(n, slot, rule, reason)
			return
		}
		v.i = x
	case kDouble:
		f, err := strconv.ParseFloat(bstr(text), 64)
		if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			p.invalid(n, slot, RuleSchemaRange, n.rangeReason)
			return
		}
		v.i = int64(math.Float64bits(f))
	case kFloat:
		f32, err := strconv.ParseFloat(bstr(text), 32)
		if err != nil && (math.IsInf(f32, 0) || math.IsNaN(f32)) {
			p.invalid(n, slot, RuleSchemaRange, n.rangeReason)
			return
		}
		f, _ := strconv.ParseFloat(bstr(text), 64)
		v.i = int64(math.Float64bits(f))
		v.hi = int64(math.Float32bits(float32(f32)))
	}
	v.b = text
	v.st = stSet
}

// setDecimal stores decimal text into a decimal column.
func (p *parser) setDecimal(n *colNode, slot int32, text []byte) {
	d := parseDecText(text)
	hi, lo, rule := d.toDecimal128(n.prec, n.scale)
	switch rule {
	case RuleSchemaRange:
		p.invalid(n, slot, rule, n.rangeReason)
		return
	case RuleSchemaPrecision:
		p.invalid(n, slot, rule, n.precisionReason)
		return
	}
	v := &p.arena[slot]
	v.hi, v.i, v.b, v.st = hi, int64(lo), text, stSet
}

// setEpochMillis stores a JSON number of epoch milliseconds into a
// timestamp column.
func (p *parser) setEpochMillis(n *colNode, slot int32, text []byte, simple bool) {
	ms, rule, _ := parseInteger(text, simple)
	switch {
	case rule == RuleSchemaType:
		p.invalid(n, slot, rule, reasonEpochInteger)
		return
	case rule != "" || ms > math.MaxInt64/1000 || ms < math.MinInt64/1000:
		p.invalid(n, slot, RuleSchemaRange, reasonTSRange)
		return
	}
	v := &p.arena[slot]
	v.i, v.st = ms*1000, stSet
}

// setString stores the content of a JSON string into a column read from
// strings: string, binary, date, time, timestamp, timestamptz, uuid.
func (p *parser) setString(n *colNode, slot int32, s []byte) {
	v := &p.arena[slot]
	switch n.kind {
	case kString:
		v.b = s
	case kBinary:
		m := len(p.scratch)
		out, ok := appendBase64(p.scratch, s)
		if !ok {
			p.invalid(n, slot, RuleSchemaType, n.typeReason)
			return
		}
		p.scratch = out
		v.b = out[m:len(out):len(out)]
	case kUUID:
		u, ok := parseUUID(s)
		if !ok {
			p.invalid(n, slot, RuleSchemaType, n.typeReason)
			return
		}
		m := len(p.scratch)
		p.scratch = append(p.scratch, u[:]...)
		v.b = p.scratch[m:len(p.scratch):len(p.scratch)]
	case kDate:
		days, ok := parseDate(s)
		if !ok || len(s) != 10 {
			p.invalid(n, slot, RuleSchemaType, n.typeReason)
			return
		}
		v.i = days
	case kTime:
		us, used, status := parseTime(s)
		if status == timeOK && used != len(s) {
			status = timeBad
		}
		if status != timeOK {
			p.timeProblem(n, slot, status)
			return
		}
		v.i = us
	case kTimestamp, kTimestampTZ:
		us, status := parseTimestamp(s, n.kind == kTimestampTZ)
		if status != timeOK {
			p.timeProblem(n, slot, status)
			return
		}
		v.i = us
	}
	v.st = stSet
}

func (p *parser) timeProblem(n *colNode, slot int32, status timeStatus) {
	switch status {
	case timeSubMicro:
		p.invalid(n, slot, RuleSchemaPrecision, reasonSubMicro)
	case timeOffset:
		p.invalid(n, slot, RuleSchemaType, reasonTSOffset)
	case timeNoOffset:
		p.invalid(n, slot, RuleSchemaType, reasonTSNoOffset)
	default:
		p.invalid(n, slot, RuleSchemaType, n.typeReason)
	}
}

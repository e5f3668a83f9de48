package quality

import (
	"encoding/base64"
	"math"
	"math/bits"
	"slices"
)

// parseInteger converts a JSON number to an int64 when its value is an
// integer. simple reports integer syntax (no fraction, no exponent). On
// failure rule is RuleSchemaType (not an integer) or RuleSchemaRange.
func parseInteger(text []byte, simple bool) (x int64, rule, reason string) {
	if simple {
		neg := text[0] == '-'
		digits := text
		if neg {
			digits = text[1:]
		}
		if len(digits) <= 18 {
			for _, c := range digits {
				x = x*10 + int64(c-'0')
			}
			if neg {
				x = -x
			}
			return x, "", ""
		}
	}
	x, rule = parseDecText(text).toInt64()
	if rule == RuleSchemaType {
		return 0, rule, reasonNotInteger
	}
	return x, rule, ""
}

// decText is exact decimal text: the value is ±D × 10^exp, D being the
// significant digits mant[first..last] (skipping a '.').
type decText struct {
	neg   bool
	mant  []byte // digits with an optional '.', without sign or exponent
	first int    // index in mant of the first nonzero digit, -1 for zero
	last  int    // index in mant of the last nonzero digit
	nsig  int    // number of significant digits
	exp   int64
}

// maxExp saturates exponents, far beyond any representable value but
// small enough that exponent arithmetic cannot overflow.
const maxExp = 1 << 40

// parseDecText parses decimal text: a JSON number, or text accepted by
// isDecimal.
func parseDecText(s []byte) decText {
	var d decText
	i := 0
	if s[0] == '+' || s[0] == '-' {
		d.neg = s[0] == '-'
		i = 1
	}
	m := s[i:]
	var exp int64
	for j, c := range m {
		if c == 'e' || c == 'E' {
			exp = parseExpSat(m[j+1:])
			m = m[:j]
			break
		}
	}
	d.mant = m
	d.first, d.last = -1, -1
	frac := 0
	afterPoint := false
	for j, c := range m {
		if c == '.' {
			afterPoint = true
			continue
		}
		if afterPoint {
			frac++
		}
		if c != '0' {
			if d.first < 0 {
				d.first = j
			}
			d.last = j
		}
	}
	if d.first < 0 {
		return d
	}
	trailing := 0
	for _, c := range m[d.last+1:] {
		if c != '.' {
			trailing++
		}
	}
	for _, c := range m[d.first : d.last+1] {
		if c != '.' {
			d.nsig++
		}
	}
	d.exp = exp + int64(trailing) - int64(frac)
	return d
}

func parseExpSat(s []byte) int64 {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var e int64
	for _, c := range s {
		if e < maxExp {
			e = e*10 + int64(c-'0')
		}
	}
	e = min(e, maxExp)
	if neg {
		return -e
	}
	return e
}

// toInt64 returns the value as an int64. rule is RuleSchemaType when the
// value is not an integer and RuleSchemaRange when it is out of range.
func (d decText) toInt64() (int64, string) {
	if d.first < 0 {
		return 0, ""
	}
	if d.exp < 0 {
		return 0, RuleSchemaType
	}
	if int64(d.nsig)+d.exp > 19 {
		return 0, RuleSchemaRange
	}
	var u uint64
	for _, c := range d.mant[d.first : d.last+1] {
		if c != '.' {
			u = u*10 + uint64(c-'0')
		}
	}
	for range d.exp {
		if u > math.MaxUint64/10 {
			return 0, RuleSchemaRange
		}
		u *= 10
	}
	if d.neg {
		if u > 1<<63 {
			return 0, RuleSchemaRange
		}
		return -int64(u), ""
	}
	if u > math.MaxInt64 {
		return 0, RuleSchemaRange
	}
	return int64(u), ""
}

// toDecimal128 returns the unscaled value at scale s as a 128-bit two's
// complement integer. rule is RuleSchemaPrecision when the value has more
// than s fractional digits and RuleSchemaRange when it needs more than p
// digits.
func (d decText) toDecimal128(p, s int) (hi int64, lo uint64, rule string) {
	if d.first < 0 {
		return 0, 0, ""
	}
	e := d.exp + int64(s)
	if e < 0 {
		return 0, 0, RuleSchemaPrecision
	}
	if int64(d.nsig)+e > int64(p) {
		return 0, 0, RuleSchemaRange
	}
	var h, l uint64
	for _, c := range d.mant[d.first : d.last+1] {
		if c != '.' {
			h, l = mul10Add(h, l, uint64(c-'0'))
		}
	}
	for range e {
		h, l = mul10Add(h, l, 0)
	}
	if d.neg {
		l = ^l + 1
		h = ^h
		if l == 0 {
			h++
		}
	}
	return int64(h), l, ""
}

func mul10Add(h, l, c uint64) (uint64, uint64) {
	carry, low := bits.Mul64(l, 10)
	low, add := bits.Add64(low, c, 0)
	return h*10 + carry + add, low
}

// isDecimalText reports whether a string holds a decimal number: an
// optional sign, digits with an optional point, an optional exponent.
func isDecimalText(s []byte) bool { return isDecimal(bstr(s)) }

// appendBase64 appends the bytes of base64 text, standard or URL alphabet,
// padded or not.
func appendBase64(dst, s []byte) ([]byte, bool) {
	url, std, padded := false, false, false
	for _, c := range s {
		switch c {
		case '-', '_':
			url = true
		case '+', '/':
			std = true
		case '=':
			padded = true
		}
	}
	var enc *base64.Encoding
	switch {
	case url && std:
		return dst, false
	case url && padded:
		enc = base64.URLEncoding
	case url:
		enc = base64.RawURLEncoding
	case padded:
		enc = base64.StdEncoding
	default:
		enc = base64.RawStdEncoding
	}
	m := len(dst)
	n := enc.DecodedLen(len(s))
	dst = slices.Grow(dst, n)
	k, err := enc.Decode(dst[m:m+n], s)
	if err != nil {
		return dst[:m], false
	}
	return dst[:m+k], true
}

// parseUUID parses the canonical 8-4-4-4-12 hexadecimal form.
func parseUUID(s []byte) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		h, l := hexVal[s[i]], hexVal[s[i+1]]
		if h < 0 || l < 0 {
			return u, false
		}
		u[j] = byte(h)<<4 | byte(l)
		j++
		i += 2
	}
	return u, true
}

// digitsVal parses a fixed-width run of decimal digits.
func digitsVal(s []byte) (int, bool) {
	n := 0
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDate parses "YYYY-MM-DD" at the start of s.
func parseDate(s []byte) (int64, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digitsVal(s[0:4])
	m, ok2 := digitsVal(s[5:7])
	d, ok3 := digitsVal(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

type timeStatus uint8

const (
	timeOK       timeStatus = iota
	timeBad                 // not the expected syntax, or not a real time
	timeSubMicro            // nonzero digits beyond microseconds
	timeOffset              // an offset where none is allowed
	timeNoOffset            // no offset where one is required
)

// parseTime parses "HH:MM:SS[.fffffffff]" at the start of s and returns
// microseconds since midnight and the length parsed.
func parseTime(s []byte) (us int64, used int, status timeStatus) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, timeBad
	}
	h, ok1 := digitsVal(s[0:2])
	m, ok2 := digitsVal(s[3:5])
	sec, ok3 := digitsVal(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return 0, 0, timeBad
	}
	us = int64((h*60+m)*60+sec) * 1_000_000
	i := 8
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := int64(100_000)
		for i < len(s) && isDigit(s[i]) {
			c := int64(s[i] - '0')
			if i-start < 6 {
				us += c * scale
				scale /= 10
			} else if c != 0 {
				status = timeSubMicro
			}
			i++
		}
		if i == start {
			return 0, 0, timeBad
		}
	}
	return us, i, status
}

// parseTimestamp parses "YYYY-MM-DDTHH:MM:SS[.f]" followed by an offset
// ("Z" or ±HH:MM), required when tz is set and forbidden otherwise, and
// returns microseconds since the epoch, in UTC.
func parseTimestamp(s []byte, tz bool) (int64, timeStatus) {
	days, ok := parseDate(s)
	if !ok || len(s) < 11 || (s[10] != 'T' && s[10] != 't') {
		return 0, timeBad
	}
	us, used, status := parseTime(s[11:])
	if status == timeBad {
		return 0, timeBad
	}
	rest := s[11+used:]
	var offset int64 // seconds east of UTC
	hasOffset := true
	switch {
	case len(rest) == 0:
		hasOffset = false
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digitsVal(rest[1:3])
		om, ok2 := digitsVal(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, timeBad
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, timeBad
	}
	switch {
	case tz && !hasOffset:
		return 0, timeNoOffset
	case !tz && hasOffset:
		return 0, timeOffset
	case status != timeOK:
		return 0, status
	}
	return days*86_400_000_000 + us - offset*1_000_000, timeOK
}

package lineage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on what one audit row stores. The indexed columns (principal, action, resource)
// stay well under the 2,704-byte limit of a btree index entry.
const (
	maxIndexedText = 1024
	maxText        = 8 << 10
	maxDetailsJSON = 1 << 20
	maxRoles       = 256
)

// Storable returns s as text Postgres accepts as it is: valid UTF-8 without NUL. A NUL
// becomes `\x00` and each byte that is not part of valid UTF-8 becomes `\xNN` (upper-case
// hex); everything else is kept, so ordinary values are recorded exactly. Values are cut to
// limit bytes (on a character boundary, marked `…[+N bytes]`); limit <= 0 keeps the whole
// value.
func Storable(s string, limit int) string {
	if clean(s) && (limit <= 0 || len(s) <= limit) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0:
			b.WriteString(`\x00`)
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return clip(b.String(), limit)
}

// clean reports whether s is valid UTF-8 without NUL.
func clean(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// clip cuts the valid UTF-8 s to at most limit bytes on a character boundary, saying how much
// was cut.
func clip(s string, limit int) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	cut := max(limit-24, 0) // room for the marker
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[+" + strconv.Itoa(len(s)-cut) + " bytes]"
}

// storable returns e with every text field made storable (Storable) and the details
// re-encoded as JSON Postgres' jsonb accepts; changed reports whether anything had to be
// escaped or cut.
func (e AuditEntry) storable() (AuditEntry, bool) {
	changed := false
	text := func(s *string, limit int) {
		if t := Storable(*s, limit); t != *s {
			*s, changed = t, true
		}
	}
	text(&e.RequestID, 256)
	text(&e.Principal, maxIndexedText)
	text(&e.Action, maxIndexedText)
	text(&e.Resource, maxIndexedText)
	text(&e.Decision, 256)
	text(&e.PolicyRevision, maxText)
	text(&e.Reason, maxText)
	text(&e.Method, 256)
	text(&e.Path, maxText)
	text(&e.ClientAddr, maxText)
	text(&e.UserAgent, maxText)
	if len(e.Roles) > 0 {
		roles := make([]string, 0, min(len(e.Roles), maxRoles))
		for _, r := range e.Roles[:min(len(e.Roles), maxRoles)] {
			roles = append(roles, Storable(r, maxIndexedText))
		}
		if !slices.Equal(roles, e.Roles) {
			changed = true
		}
		e.Roles = roles
	}
	if len(e.Details) > 0 {
		d, dchanged := storableDetails(e.Details)
		e.Details, changed = d, changed || dchanged
	}
	return e, changed
}

// storableDetails returns details as plain JSON values (maps, slices, strings, numbers,
// booleans) whose strings and keys are storable, and reports whether anything changed.
// A value JSON cannot encode is recorded as its printed form.
func storableDetails(details map[string]any) (map[string]any, bool) {
	w := detailsWalker{}
	out, _ := w.value(details).(map[string]any)
	if b, err := json.Marshal(out); err != nil || len(b) > maxDetailsJSON {
		return map[string]any{"audit_details_truncated": true, "json_bytes": len(b)}, true
	}
	return out, w.changed
}

type detailsWalker struct{ changed bool }

func (w *detailsWalker) text(s string) string {
	t := Storable(s, maxText)
	if t != s {
		w.changed = true
	}
	return t
}

func (w *detailsWalker) value(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int32, int64, uint32, uint64:
		return v
	case string:
		return w.text(v)
	case json.Number:
		return w.number(v)
	case float64:
		if _, err := json.Marshal(v); err != nil { // NaN, ±Inf
			w.changed = true
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return v
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = w.text(s)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = w.value(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out[w.key(k, out)] = w.value(v[k])
		}
		return out
	}
	// Anything else (structs, raw JSON, other maps and slices) goes through its JSON form,
	// decoded again so that its strings are checked too.
	b, err := json.Marshal(v)
	if err != nil {
		w.changed = true
		return w.text(fmt.Sprintf("%v", v))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		w.changed = true
		return w.text(string(b))
	}
	return w.value(x)
}

// key makes a map key storable without colliding with a key already in out.
func (w *detailsWalker) key(k string, out map[string]any) string {
	t := Storable(k, maxIndexedText)
	if t == k {
		if _, dup := out[t]; !dup {
			return t
		}
	}
	w.changed = true
	for base, i := t, 2; ; i++ {
		if _, dup := out[t]; !dup {
			return t
		}
		t = base + "#" + strconv.Itoa(i)
	}
}

// number keeps a JSON number that Postgres' numeric type holds; others become strings.
func (w *detailsWalker) number(n json.Number) any {
	s := string(n)
	if len(s) <= 1000 && !strings.ContainsAny(s, "eE") {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f // the same number, in a form numeric holds
	}
	w.changed = true
	return w.text(s)
}

// isolated is the form of a row Postgres refused even once made storable: every text
// escaped to printable ASCII and cut short, the details replaced by why and a short escaped
// copy of them.
func (e AuditEntry) isolated(cause string) AuditEntry {
	ascii := func(s string, limit int) string {
		q := strconv.QuoteToASCII(clip(Storable(s, 0), limit))
		return q[1 : len(q)-1]
	}
	out := AuditEntry{
		At: e.At, RequestID: ascii(e.RequestID, 128), Principal: ascii(e.Principal, 256), Action: ascii(e.Action, 256),
		Resource: ascii(e.Resource, 256), Decision: ascii(e.Decision, 64), PolicyRevision: ascii(e.PolicyRevision, 256),
		Reason: ascii(e.Reason, 256), Status: e.Status, LatencyMS: e.LatencyMS, Method: ascii(e.Method, 64),
		Path: ascii(e.Path, 512), ClientAddr: ascii(e.ClientAddr, 256), UserAgent: ascii(e.UserAgent, 256),
	}
	for _, r := range e.Roles[:min(len(e.Roles), 32)] {
		out.Roles = append(out.Roles, ascii(r, 128))
	}
	details := map[string]any{"audit_isolated": ascii(cause, 512)}
	if len(e.Details) > 0 {
		b, _ := json.Marshal(e.Details)
		details["details"] = ascii(string(b), 4096)
	}
	out.Details = details
	return out
}

package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Postgres stores text only as valid UTF-8 without NUL. What a request asks to store is
// refused at the edge when it is not (400 naming the field); what is only recorded about a
// request (its audit row) is escaped by the audit log instead.

// storableText reports whether Postgres can store s as text.
func storableText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// checkRequestText refuses a path or query parameter Postgres could not store (lookups and
// filters pass them to queries).
func checkRequestText(r *http.Request) error {
	if !storableText(r.URL.Path) {
		return errBadRequest("the request path must be valid UTF-8 without NUL characters")
	}
	for name, values := range r.URL.Query() {
		if !storableText(name) {
			return errBadRequest("query parameter names must be valid UTF-8 without NUL characters")
		}
		for _, v := range values {
			if !storableText(v) {
				return errBadRequest("query parameter %s must be valid UTF-8 without NUL characters", strconv.Quote(name))
			}
		}
	}
	return nil
}

// checkJSONText refuses a JSON body holding a string (member name or value) that is not
// valid UTF-8 or has a NUL (\u0000), naming the first such field. The JSON decoder would
// silently replace invalid UTF-8 with U+FFFD, and Postgres refuses NUL in text and jsonb.
func checkJSONText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	if field, ok := unstorableField(body); ok {
		if field == "" {
			field = "body"
		}
		return errBadRequest("field %s: text must be valid UTF-8 without NUL (\\u0000) characters", field)
	}
	return nil
}

// unstorableField walks the tokens of body and returns the path (e.g. "schema.fields[1].doc")
// of the first string that holds a NUL or an invalid UTF-8 byte.
func unstorableField(body []byte) (string, bool) {
	bad := int64(-1) // offset of the first invalid UTF-8 byte
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size == 1 {
			bad = int64(i)
			break
		}
		i += size
	}
	type frame struct {
		object, wantKey bool
		key             string
		index           int
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.object && b.Len() == 0:
				b.WriteString(f.key)
			case f.object:
				b.WriteString("." + f.key)
			default:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // malformed JSON is the decoder's to report
		}
		hit := bad >= 0 && dec.InputOffset() > bad
		if s, ok := tok.(string); ok && strings.IndexByte(s, 0) >= 0 {
			hit = true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		switch {
		case top != nil && top.wantKey:
			top.key, top.wantKey = tok.(string), false
		case top != nil && top.object:
			top.wantKey = true
		case top != nil:
			top.index++
		}
		if hit {
			return path(), true
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{object: d == '{', wantKey: d == '{', index: -1})
		}
	}
}

// checkName refuses control characters in a name-like field (owner, tag, principal ...).
func checkName(field, v string) error {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return errBadRequest("field %s: must not contain control characters", field)
		}
	}
	return nil
}

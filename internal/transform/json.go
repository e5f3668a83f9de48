package transform

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// redacted replaces a raw record the plan cannot be applied to (it is not a JSON object).
var redacted = []byte(`"[redacted: the policy transforms fields of this dataset and the record is not a JSON object]"`)

// ApplyJSON returns the raw JSON record with the plan's fields transformed as Apply would
// store them: hashed strings as hex, hashed binary (base64) as the base64 MAC, masked strings
// replaced, dropped and masked non-string fields removed. A record that is not a JSON object
// is replaced whole: nothing the policy protects is kept in clear.
func (p *Plan) ApplyJSON(raw []byte) []byte {
	if p.Empty() {
		return raw
	}
	if !json.Valid(raw) {
		return redacted
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return redacted
	}
	changed := false
	for _, s := range p.specs {
		if p.applyPath(obj, s, strings.Split(s.Field, ".")) {
			changed = true
		}
	}
	if !changed {
		return raw
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return redacted
	}
	return out
}

func (p *Plan) applyPath(obj map[string]any, s bound, path []string) bool {
	v, ok := obj[path[0]]
	if !ok {
		return false
	}
	if len(path) > 1 {
		child, ok := v.(map[string]any)
		return ok && p.applyPath(child, s, path[1:])
	}
	if v == nil {
		return false
	}
	switch {
	case s.Op == Drop, s.Op == Mask && s.typ.ID() != arrow.STRING:
		delete(obj, path[0])
		return true
	}
	str, isString := v.(string)
	if !isString { // a wrong type (why it was rejected): keep no trace of the value
		delete(obj, path[0])
		return true
	}
	mac := hmac.New(sha256.New, p.key)
	switch {
	case s.Op == Hash && s.typ.ID() == arrow.BINARY:
		if b, err := base64.StdEncoding.DecodeString(str); err == nil {
			obj[path[0]] = base64.StdEncoding.EncodeToString(sum(mac, b))
		} else {
			obj[path[0]] = hex.EncodeToString(sum(mac, []byte(str)))
		}
	default:
		obj[path[0]] = p.transformString(mac, s.Spec, str)
	}
	return true
}

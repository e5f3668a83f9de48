// Package transform applies the field transformations an authorization decision returns for
// records.write to every record of a batch before it is stored: mask (replace the value),
// hash (keyed HMAC-SHA256, hex) and drop (remove the value). They apply to the accepted
// records (Arrow, as decoded) and to the raw JSON of rejected records kept in the quarantine
// table, so a value the policy protects is stored in clear nowhere.
package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Op is a transformation.
type Op string

// The transformations.
const (
	Mask Op = "mask" // replace the value: strings by Value or "****" (keeping KeepLast characters), other types by null
	Hash Op = "hash" // keyed HMAC-SHA256: strings become 64 hex digits, binary values the 32-byte MAC
	Drop Op = "drop" // remove the value (null); the field must be optional
)

// DefaultMask replaces masked strings when a spec names no value.
const DefaultMask = "****"

// Spec is one transformation of one field, as a policy decision returns it.
type Spec struct {
	// Field is the field's dotted path through structs, e.g. "email" or "customer.phone".
	Field string `json:"field"`
	Op    Op     `json:"op"`
	// Value replaces a masked string (default DefaultMask).
	Value *string `json:"value,omitempty"`
	// KeepLast keeps this many trailing characters of a masked string, e.g. 4 for a card number.
	KeepLast int `json:"keep_last,omitempty"`
}

// Validate checks the spec's own shape.
func (s Spec) Validate() error {
	switch {
	case s.Field == "":
		return fmt.Errorf("transform %q: no field", s.Op)
	case s.Op != Mask && s.Op != Hash && s.Op != Drop:
		return fmt.Errorf("transform of %s: unknown op %q (mask, hash or drop)", s.Field, s.Op)
	case s.KeepLast < 0 || s.KeepLast > 64:
		return fmt.Errorf("transform of %s: keep_last must be from 0 to 64", s.Field)
	case s.Op != Mask && (s.Value != nil || s.KeepLast != 0):
		return fmt.Errorf("transform of %s: value and keep_last belong to mask", s.Field)
	}
	return nil
}

// Error is a transformation that cannot apply to the dataset's schema: the request is refused
// rather than the value stored untransformed.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("policy transformation of field %s: %s", e.Field, e.Msg)
}

// Plan is a set of specs bound to a batch schema.
type Plan struct {
	specs []bound
	key   []byte
}

type bound struct {
	Spec
	path []int // column index, then child indexes through structs
	typ  arrow.DataType
}

// Compile binds specs to the Arrow schema of the batches it will transform, with key for
// hash. Several specs of one field apply in order. It fails with *Error when a field does
// not exist or the transformation does not fit its type: hash needs a string or binary field,
// drop an optional one, mask of a non-string field an optional one.
func Compile(specs []Spec, sc *arrow.Schema, key []byte) (*Plan, error) {
	p := &Plan{key: key}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return nil, &Error{Field: s.Field, Msg: err.Error()}
		}
		b := bound{Spec: s}
		fields := sc.Fields()
		var f arrow.Field
		for i, name := range strings.Split(s.Field, ".") {
			idx := -1
			for j, c := range fields {
				if c.Name == name {
					idx = j
				}
			}
			if idx < 0 {
				return nil, &Error{Field: s.Field, Msg: "no such field in the dataset's schema"}
			}
			f = fields[idx]
			b.path = append(b.path, idx)
			if st, ok := f.Type.(*arrow.StructType); ok {
				fields = st.Fields()
			} else if i < len(strings.Split(s.Field, "."))-1 {
				return nil, &Error{Field: s.Field, Msg: fmt.Sprintf("%s is not a struct", name)}
			}
		}
		b.typ = f.Type
		isString, isBinary := f.Type.ID() == arrow.STRING, f.Type.ID() == arrow.BINARY
		switch {
		case s.Op == Hash && !isString && !isBinary:
			return nil, &Error{Field: s.Field, Msg: fmt.Sprintf("hash needs a string or binary field, not %s", f.Type)}
		case s.Op == Drop && !f.Nullable:
			return nil, &Error{Field: s.Field, Msg: "drop needs an optional field; this one is required"}
		case s.Op == Mask && !isString && !f.Nullable:
			return nil, &Error{Field: s.Field, Msg: fmt.Sprintf("mask of a %s field removes the value, which a required field cannot lose", f.Type)}
		}
		p.specs = append(p.specs, b)
	}
	return p, nil
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return p == nil || len(p.specs) == 0 }

// Apply returns rec with the plan's fields transformed (rec itself, retained, for an empty
// plan). The caller releases the result.
func (p *Plan) Apply(rec arrow.Record, mem memory.Allocator) arrow.Record {
	if p.Empty() {
		rec.Retain()
		return rec
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = rec.Column(i)
		cols[i].Retain()
	}
	for _, s := range p.specs {
		old := cols[s.path[0]]
		cols[s.path[0]] = p.rewrite(old, s, s.path[1:], mem)
		old.Release()
	}
	out := array.NewRecord(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// rewrite returns a new array: arr with the field at path (below arr) transformed.
func (p *Plan) rewrite(arr arrow.Array, s bound, path []int, mem memory.Allocator) arrow.Array {
	if len(path) == 0 {
		return p.leaf(arr, s, mem)
	}
	st := arr.(*array.Struct)
	children := make([]arrow.ArrayData, st.NumField())
	for i := range children {
		if i == path[0] {
			c := p.rewrite(st.Field(i), s, path[1:], mem)
			defer c.Release()
			children[i] = c.Data()
		} else {
			children[i] = st.Field(i).Data()
		}
	}
	d := array.NewData(st.DataType(), st.Len(), st.Data().Buffers(), children, st.NullN(), st.Data().Offset())
	defer d.Release()
	return array.MakeFromData(d)
}

func (p *Plan) leaf(arr arrow.Array, s bound, mem memory.Allocator) arrow.Array {
	switch {
	case s.Op == Drop, s.Op == Mask && s.typ.ID() != arrow.STRING:
		return array.MakeArrayOfNull(mem, s.typ, arr.Len())
	case s.Op == Hash && s.typ.ID() == arrow.BINARY:
		in := arr.(*array.Binary)
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		defer b.Release()
		mac := hmac.New(sha256.New, p.key)
		for i := range in.Len() {
			if in.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(sum(mac, in.Value(i)))
		}
		return b.NewArray()
	}
	in := arr.(*array.String)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	mac := hmac.New(sha256.New, p.key)
	for i := range in.Len() {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(p.transformString(mac, s.Spec, in.Value(i)))
	}
	return b.NewArray()
}

func (p *Plan) transformString(mac hash.Hash, s Spec, v string) string {
	if s.Op == Hash {
		return hex.EncodeToString(sum(mac, []byte(v)))
	}
	return maskString(s, v)
}

func sum(mac hash.Hash, v []byte) []byte {
	mac.Reset()
	mac.Write(v)
	return mac.Sum(nil)
}

func maskString(s Spec, v string) string {
	if s.KeepLast > 0 {
		n := utf8.RuneCountInString(v)
		if n <= s.KeepLast {
			return strings.Repeat("*", n)
		}
		cut := len(v)
		for range s.KeepLast {
			_, size := utf8.DecodeLastRuneInString(v[:cut])
			cut -= size
		}
		return strings.Repeat("*", n-s.KeepLast) + v[cut:]
	}
	if s.Value != nil {
		return *s.Value
	}
	return DefaultMask
}

package transform_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/transform"
)

var key = []byte("transform-test-key-of-32-bytes!!")

func mac(v string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(v))
	return m.Sum(nil)
}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "card", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "customer", Type: arrow.StructOf(
		arrow.Field{Name: "phone", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	), Nullable: true},
	{Name: "photo", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func record(t *testing.T) arrow.Record {
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(`[
		{"id": 1, "email": "ann@example.com", "card": "4111111111111111", "customer": {"phone": "+33 1 23", "age": 41}, "photo": "AQID", "score": 0.5},
		{"id": 2, "email": null, "card": "12", "customer": null, "photo": null, "score": null}
	]`))
	require.NoError(t, err)
	return rec
}

func strPtr(s string) *string { return &s }

// Every op on strings, binary, nested struct members and other types; nulls stay null.
func TestApply(t *testing.T) {
	rec := record(t)
	defer rec.Release()
	plan, err := transform.Compile([]transform.Spec{
		{Field: "email", Op: transform.Hash},
		{Field: "card", Op: transform.Mask, KeepLast: 4},
		{Field: "customer.phone", Op: transform.Mask, Value: strPtr("hidden")},
		{Field: "customer.age", Op: transform.Drop},
		{Field: "photo", Op: transform.Hash},
		{Field: "score", Op: transform.Mask},
	}, schema, key)
	require.NoError(t, err)
	out := plan.Apply(rec, memory.DefaultAllocator)
	defer out.Release()

	email := out.Column(1).(*array.String)
	require.Equal(t, hex.EncodeToString(mac("ann@example.com")), email.Value(0))
	require.True(t, email.IsNull(1))
	card := out.Column(2).(*array.String)
	require.Equal(t, "************1111", card.Value(0))
	require.Equal(t, "**", card.Value(1), "shorter than keep_last: all masked")
	cust := out.Column(3).(*array.Struct)
	require.Equal(t, "hidden", cust.Field(0).(*array.String).Value(0))
	require.True(t, cust.Field(1).IsNull(0), "dropped")
	require.True(t, cust.IsNull(1), "a null struct stays null")
	photo := out.Column(4).(*array.Binary)
	require.Equal(t, mac("\x01\x02\x03"), photo.Value(0))
	require.True(t, out.Column(5).IsNull(0), "mask of a number removes it")
	require.EqualValues(t, 1, out.Column(0).(*array.Int64).Value(0), "other columns untouched")
	require.Equal(t, "ann@example.com", rec.Column(1).(*array.String).Value(0), "the input is not modified")
}

// A transformation that does not fit the schema is an error naming the field.
func TestCompileRefusesMisfits(t *testing.T) {
	required := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	for _, tc := range []struct {
		spec transform.Spec
		sc   *arrow.Schema
		want string
	}{
		{transform.Spec{Field: "nope", Op: transform.Hash}, schema, "no such field"},
		{transform.Spec{Field: "email.x", Op: transform.Hash}, schema, "not a struct"},
		{transform.Spec{Field: "score", Op: transform.Hash}, schema, "string or binary"},
		{transform.Spec{Field: "name", Op: transform.Drop}, required, "optional"},
		{transform.Spec{Field: "id", Op: transform.Mask}, required, "required field"},
		{transform.Spec{Field: "email", Op: "encrypt"}, schema, "unknown op"},
		{transform.Spec{Field: "email", Op: transform.Hash, KeepLast: 2}, schema, "belong to mask"},
	} {
		_, err := transform.Compile([]transform.Spec{tc.spec}, tc.sc, key)
		var te *transform.Error
		require.ErrorAs(t, err, &te, tc.want)
		require.Contains(t, err.Error(), tc.want)
		require.Equal(t, tc.spec.Field, te.Field)
	}
	plan, err := transform.Compile([]transform.Spec{{Field: "name", Op: transform.Mask}, {Field: "name", Op: transform.Hash}}, required, key)
	require.NoError(t, err, "masking or hashing a required string keeps a value")
	require.False(t, plan.Empty())
}

// Raw quarantine records get the same treatment: nothing protected stays in clear.
func TestApplyJSON(t *testing.T) {
	plan, err := transform.Compile([]transform.Spec{
		{Field: "email", Op: transform.Hash},
		{Field: "card", Op: transform.Mask, KeepLast: 4},
		{Field: "customer.age", Op: transform.Drop},
		{Field: "photo", Op: transform.Hash},
	}, schema, key)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(plan.ApplyJSON([]byte(`{"id":1,"email":"ann@example.com","card":"4111111111111111","customer":{"phone":"x","age":41},"photo":"AQID","big":12345678901234567890}`)), &got))
	require.Equal(t, hex.EncodeToString(mac("ann@example.com")), got["email"])
	require.Equal(t, "************1111", got["card"])
	require.Equal(t, map[string]any{"phone": "x"}, got["customer"])
	require.Equal(t, base64.StdEncoding.EncodeToString(mac("\x01\x02\x03")), got["photo"])

	wrongType := string(plan.ApplyJSON([]byte(`{"email": 42}`)))
	require.NotContains(t, wrongType, "42", "a value of the wrong type is removed, not kept")
	require.Equal(t, `{"id":1}`, string(plan.ApplyJSON([]byte(`{"id":1}`))), "untouched records keep their bytes")
	require.NotContains(t, string(plan.ApplyJSON([]byte(`["ann@example.com"]`))), "ann")
	require.Contains(t, string(plan.ApplyJSON([]byte(`{"big":12345678901234567890,"email":"a"}`))), "12345678901234567890", "numbers keep their digits")
}

// FuzzApplyJSON: any raw record (quarantined records are producer input) is turned into
// valid JSON without the protected value, and never panics.
func FuzzApplyJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@b","customer":{"age":3}}`, `{"email":{"x":1}}`, `[]`, `null`, `{"card":"ab\u00e9cd"}`, `{`} {
		f.Add([]byte(s))
	}
	plan, err := transform.Compile([]transform.Spec{
		{Field: "email", Op: transform.Hash}, {Field: "card", Op: transform.Mask, KeepLast: 2}, {Field: "customer.age", Op: transform.Drop},
	}, schema, key)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := plan.ApplyJSON(raw)
		if !json.Valid(raw) {
			require.True(t, json.Valid(out), "%q", out)
			return
		}
		require.True(t, json.Valid(out), "%q -> %q", raw, out)
		var obj map[string]any
		if json.Unmarshal(out, &obj) == nil && obj != nil {
			if e, ok := obj["email"].(string); ok {
				require.Len(t, e, 64, "a kept email is a hash")
			}
		}
	})
}

package catalog

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"
)

// exampleSchemaJSON is the schema of the datasets API example.
const exampleSchemaJSON = `{"fields":[
 {"name":"id","type":"long","required":true},
 {"name":"ts","type":"timestamptz","required":true},
 {"name":"email","type":"string","doc":"contact"},
 {"name":"amount","type":"decimal(10,2)"},
 {"name":"address","type":{"type":"struct","fields":[{"name":"city","type":"string"}]}},
 {"name":"tags","type":{"type":"list","element":"string","element_required":false}},
 {"name":"attrs","type":{"type":"map","key":"string","value":"long","value_required":false}}]}`

func exampleSchema(t testing.TB) Schema {
	t.Helper()
	var s Schema
	require.NoError(t, json.Unmarshal([]byte(exampleSchemaJSON), &s))

	return s
}

func prim(name string) Type { return Type{Primitive: name} }

func primPtr(name string) *Type {
	t := prim(name)

	return &t
}

func TestSchemaPrimitiveTypesToIceberg(t *testing.T) {
	tests := []struct {
		name string
		want iceberg.Type
	}{
		{"boolean", iceberg.PrimitiveTypes.Bool},
		{"int", iceberg.PrimitiveTypes.Int32},
		{"long", iceberg.PrimitiveTypes.Int64},
		{"float", iceberg.PrimitiveTypes.Float32},
		{"double", iceberg.PrimitiveTypes.Float64},
		{"decimal(10,2)", iceberg.DecimalTypeOf(10, 2)},
		{"decimal(38,0)", iceberg.DecimalTypeOf(38, 0)},
		{"decimal(1,1)", iceberg.DecimalTypeOf(1, 1)},
		{"decimal(12, 4)", iceberg.DecimalTypeOf(12, 4)},
		{"string", iceberg.PrimitiveTypes.String},
		{"binary", iceberg.PrimitiveTypes.Binary},
		{"date", iceberg.PrimitiveTypes.Date},
		{"time", iceberg.PrimitiveTypes.Time},
		{"timestamp", iceberg.PrimitiveTypes.Timestamp},
		{"timestamptz", iceberg.PrimitiveTypes.TimestampTz},
		{"uuid", iceberg.PrimitiveTypes.UUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Schema{Fields: []Field{{Name: "c", Type: prim(tt.name), Required: true, Doc: "d"}}}
			sc, err := s.ToIceberg()
			require.NoError(t, err)
			require.Equal(t, 0, sc.ID)
			require.Equal(t, 1, sc.NumFields())
			f := sc.Field(0)
			require.Equal(t, 1, f.ID)
			require.Equal(t, "c", f.Name)
			require.True(t, f.Required)
			require.Equal(t, "d", f.Doc)
			require.True(t, tt.want.Equals(f.Type), "got %s", f.Type)

			back := SchemaFromIceberg(sc)
			require.Len(t, back.Fields, 1)
			wantName := strings.ReplaceAll(tt.name, " ", "")
			require.Equal(t, wantName, back.Fields[0].Type.Primitive)
		})
	}
}

func TestSchemaToIcebergExampleIDs(t *testing.T) {
	sc, err := exampleSchema(t).ToIceberg()
	require.NoError(t, err)
	require.Equal(t, 0, sc.ID)
	require.Empty(t, sc.IdentifierFieldIDs)

	want := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz, Required: true},
		iceberg.NestedField{ID: 3, Name: "email", Type: iceberg.PrimitiveTypes.String, Doc: "contact"},
		iceberg.NestedField{ID: 4, Name: "amount", Type: iceberg.DecimalTypeOf(10, 2)},
		iceberg.NestedField{ID: 5, Name: "address", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 6, Name: "city", Type: iceberg.PrimitiveTypes.String},
		}}},
		iceberg.NestedField{ID: 7, Name: "tags", Type: &iceberg.ListType{
			ElementID: 8, Element: iceberg.PrimitiveTypes.String, ElementRequired: false,
		}},
		iceberg.NestedField{ID: 9, Name: "attrs", Type: &iceberg.MapType{
			KeyID: 10, KeyType: iceberg.PrimitiveTypes.String,
			ValueID: 11, ValueType: iceberg.PrimitiveTypes.Int64, ValueRequired: false,
		}},
	)
	require.Equal(t, want.NumFields(), sc.NumFields())
	for i := range want.NumFields() {
		w, g := want.Field(i), sc.Field(i)
		require.True(t, w.Equals(g), "field %d: want %s, got %s", i, w, g)
	}
	require.True(t, want.Equals(sc))
	require.Equal(t, 11, sc.HighestFieldID())
}

func TestSchemaToIcebergDeepNestingIDs(t *testing.T) {
	// a: list<struct<x: int, y: list<string>>>, b: map<string, struct<z: long>>, c: int
	s := Schema{Fields: []Field{
		{Name: "a", Type: Type{Element: &Type{Fields: []Field{
			{Name: "x", Type: prim("int"), Required: true},
			{Name: "y", Type: Type{Element: primPtr("string"), ElementRequired: true}},
		}}}},
		{Name: "b", Type: Type{Key: primPtr("string"), Value: &Type{Fields: []Field{
			{Name: "z", Type: prim("long")},
		}}, ValueRequired: true}},
		{Name: "c", Type: prim("int")},
	}}
	sc, err := s.ToIceberg()
	require.NoError(t, err)

	a := sc.Field(0)
	require.Equal(t, 1, a.ID)
	aList := a.Type.(*iceberg.ListType)
	require.Equal(t, 2, aList.ElementID)
	aStruct := aList.Element.(*iceberg.StructType)
	require.Equal(t, 3, aStruct.FieldList[0].ID)
	require.True(t, aStruct.FieldList[0].Required)
	require.Equal(t, 4, aStruct.FieldList[1].ID)
	yList := aStruct.FieldList[1].Type.(*iceberg.ListType)
	require.Equal(t, 5, yList.ElementID)
	require.True(t, yList.ElementRequired)

	b := sc.Field(1)
	require.Equal(t, 6, b.ID)
	bMap := b.Type.(*iceberg.MapType)
	require.Equal(t, 7, bMap.KeyID)
	require.Equal(t, 8, bMap.ValueID)
	require.True(t, bMap.ValueRequired)
	require.Equal(t, 9, bMap.ValueType.(*iceberg.StructType).FieldList[0].ID)

	require.Equal(t, 10, sc.Field(2).ID)

	// The order matches iceberg-go's own fresh id assignment, which
	// table.NewMetadata applies to every new table.
	fresh, err := iceberg.AssignFreshSchemaIDs(sc, nil)
	require.NoError(t, err)
	require.True(t, fresh.Equals(sc), "fresh: %s\nours: %s", fresh, sc)
}

func TestSchemaFromIcebergInverse(t *testing.T) {
	s := exampleSchema(t)
	sc, err := s.ToIceberg()
	require.NoError(t, err)

	back := SchemaFromIceberg(sc)
	require.Equal(t, s, back)

	again, err := back.ToIceberg()
	require.NoError(t, err)
	require.True(t, sc.Equals(again))

	// A hand-built Iceberg schema whose ids follow our order round-trips, and
	// Iceberg's "decimal(10, 2)" spelling comes back as "decimal(10,2)".
	x := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "m", Type: &iceberg.MapType{
			KeyID: 2, KeyType: iceberg.PrimitiveTypes.Date,
			ValueID: 3, ValueType: &iceberg.ListType{ElementID: 4, Element: iceberg.DecimalTypeOf(10, 2), ElementRequired: true},
		}, Required: true, Doc: "m doc"},
		iceberg.NestedField{ID: 5, Name: "u", Type: iceberg.PrimitiveTypes.UUID},
	)
	api := SchemaFromIceberg(x)
	require.Equal(t, "decimal(10,2)", api.Fields[0].Type.Value.Element.Primitive)
	require.True(t, api.Fields[0].Type.Value.ElementRequired)
	require.Equal(t, "m doc", api.Fields[0].Doc)
	y, err := api.ToIceberg()
	require.NoError(t, err)
	require.True(t, x.Equals(y), "want %s, got %s", x, y)
}

func TestSchemaFromIcebergUnsupportedType(t *testing.T) {
	x := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "f", Type: iceberg.FixedTypeOf(16)})
	api := SchemaFromIceberg(x)
	require.Equal(t, "fixed[16]", api.Fields[0].Type.Primitive)

	var verr *ValidationError
	require.ErrorAs(t, api.Validate(), &verr)
	require.Equal(t, "schema.fields[0].type", verr.Problems[0].Field)

	require.Equal(t, Schema{Fields: []Field{}}, SchemaFromIceberg(nil))
}

func TestSchemaTypeJSONRoundTrip(t *testing.T) {
	docs := []string{
		`"long"`,
		`"decimal(38,0)"`,
		`"varchar"`,
		`null`,
		`{"type":"struct","fields":[{"name":"city","type":"string","required":true,"doc":"where"}]}`,
		`{"type":"struct","fields":[]}`,
		`{"type":"list","element":"string","element_required":false}`,
		`{"type":"list","element":{"type":"list","element":"int","element_required":true},"element_required":true}`,
		`{"type":"map","key":"string","value":"long","value_required":false}`,
		`{"type":"map","key":"uuid","value":{"type":"struct","fields":[{"name":"a","type":"date"}]},"value_required":true}`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			var typ Type
			require.NoError(t, json.Unmarshal([]byte(doc), &typ))
			out, err := json.Marshal(typ)
			require.NoError(t, err)
			require.JSONEq(t, doc, string(out))

			var again Type
			require.NoError(t, json.Unmarshal(out, &again))
			require.Equal(t, typ, again)
		})
	}
}

func TestSchemaTypeJSONDecodesShapes(t *testing.T) {
	tests := []struct {
		doc  string
		want Type
	}{
		{`"timestamptz"`, prim("timestamptz")},
		{`{"type":"list","element":"string"}`, Type{Element: primPtr("string")}},
		{`{"type":"map","key":"string","value":"long"}`, Type{Key: primPtr("string"), Value: primPtr("long")}},
		{`{"type":"struct"}`, Type{Fields: []Field{}}},
		{`{"type":"struct","fields":[{"name":"a","type":"int","required":true}]}`,
			Type{Fields: []Field{{Name: "a", Type: prim("int"), Required: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var got Type
			require.NoError(t, json.Unmarshal([]byte(tt.doc), &got))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSchemaTypeJSONErrors(t *testing.T) {
	tests := []struct {
		doc     string
		wantErr string
	}{
		{`42`, "type must be a string or an object"},
		{`["long"]`, "type must be a string or an object"},
		{`{"type":"varchar"}`, `unknown nested type "varchar"`},
		{`{"fields":[]}`, `requires "type"`},
		{`{"type":"list"}`, `list type requires "element"`},
		{`{"type":"list","element":null}`, `list type requires "element"`},
		{`{"type":"map","key":"string"}`, `map type requires "key" and "value"`},
		{`{"type":"list","element":"string","key":"string"}`, `list type allows only`},
		{`{"type":"struct","fields":[],"element":"string"}`, `struct type allows only`},
		{`{"type":"map","key":"string","value":"long","element_required":true}`, `map type allows only`},
		{`{"type":"list","element":"string","elements":"x"}`, `unknown field "elements"`},
		{`{"type":"struct","fields":[{"name":"a","type":"int","requried":true}]}`, `unknown field "requried"`},
		{`{"type":"list","element":{"type":"bogus"}}`, `unknown nested type "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var got Type
			err := json.Unmarshal([]byte(tt.doc), &got)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSchemaTypeJSONDepthLimit(t *testing.T) {
	deepLists := strings.Repeat(`{"type":"list","element":`, 1000) + `"int"` + strings.Repeat(`}`, 1000)
	var typ Type
	err := json.Unmarshal([]byte(deepLists), &typ)
	require.ErrorContains(t, err, "type is nested too deeply: 1000 JSON levels, at most 64 allowed")

	// Brackets inside strings do not count.
	braces := strings.Repeat(`{[`, 100)
	doc := `{"type":"struct","fields":[{"name":"a","type":"int","doc":"\"` + braces + `\\"}]}`
	require.NoError(t, json.Unmarshal([]byte(doc), &typ))
	require.Equal(t, `"`+braces+`\`, typ.Fields[0].Doc)

	// Seventeen nested structs still decode, so Validate can name the path.
	var s Schema
	inner := `"int"`
	for range 17 {
		inner = `{"type":"struct","fields":[{"name":"n","type":` + inner + `}]}`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"fields":[{"name":"deep","type":`+inner+`}]}`), &s))
	var verr *ValidationError
	require.ErrorAs(t, s.Validate(), &verr)
	require.Len(t, verr.Problems, 1)
	require.Contains(t, verr.Problems[0].Message, "nesting depth exceeds the maximum of 16")
}

func TestSchemaTypeMarshalInvalid(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
	}{
		{"primitive and struct", Type{Primitive: "long", Fields: []Field{}}},
		{"stray element_required", Type{Primitive: "long", ElementRequired: true}},
		{"list without element", Type{ElementRequired: true}},
		{"map without value", Type{Key: primPtr("string")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := json.Marshal(tt.typ)
			require.Error(t, err)
		})
	}
}

func TestSchemaTypeString(t *testing.T) {
	require.Equal(t, "long", prim("long").String())
	require.Equal(t, "list<string>", Type{Element: primPtr("string")}.String())
	require.Equal(t, "map<string, long>", Type{Key: primPtr("string"), Value: primPtr("long")}.String())
	require.Equal(t, "struct<a: int, b: list<date>>", Type{Fields: []Field{
		{Name: "a", Type: prim("int")}, {Name: "b", Type: Type{Element: primPtr("date")}},
	}}.String())
	require.Equal(t, "none", Type{}.String())
}

// nestedStructs returns a field whose type nests depth structs.
func nestedStructs(depth int) Field {
	typ := prim("int")
	for range depth {
		typ = Type{Fields: []Field{{Name: "n", Type: typ}}}
	}

	return Field{Name: "deep", Type: typ}
}

func TestSchemaValidateProblems(t *testing.T) {
	tests := []struct {
		name   string
		schema Schema
		want   []Problem // Message holds a substring of the expected message
	}{
		{
			name:   "empty schema",
			schema: Schema{},
			want:   []Problem{{Field: "schema.fields", Message: "at least one field"}},
		},
		{
			name:   "bad name",
			schema: Schema{Fields: []Field{{Name: "1abc", Type: prim("long")}}},
			want:   []Problem{{Field: "schema.fields[0].name", Message: `invalid name "1abc"`}},
		},
		{
			name:   "dash in name",
			schema: Schema{Fields: []Field{{Name: "ok", Type: prim("long")}, {Name: "first-name", Type: prim("string")}}},
			want:   []Problem{{Field: "schema.fields[1].name", Message: `invalid name "first-name"`}},
		},
		{
			name:   "missing name",
			schema: Schema{Fields: []Field{{Type: prim("long")}}},
			want:   []Problem{{Field: "schema.fields[0].name", Message: "name is required"}},
		},
		{
			name:   "name too long",
			schema: Schema{Fields: []Field{{Name: strings.Repeat("a", 129), Type: prim("long")}}},
			want:   []Problem{{Field: "schema.fields[0].name", Message: "at most 128 characters"}},
		},
		{
			name:   "duplicate name case-insensitive",
			schema: Schema{Fields: []Field{{Name: "id", Type: prim("long")}, {Name: "x", Type: prim("int")}, {Name: "ID", Type: prim("int")}}},
			want:   []Problem{{Field: "schema.fields[2].name", Message: `duplicate column name "ID"`}},
		},
		{
			name: "duplicate name in struct",
			schema: Schema{Fields: []Field{{Name: "address", Type: Type{Fields: []Field{
				{Name: "city", Type: prim("string")}, {Name: "City", Type: prim("string")},
			}}}}},
			want: []Problem{{Field: "schema.fields[0].type.fields[1].name", Message: `duplicate column name "City"`}},
		},
		{
			name: "same name at different levels is fine",
			schema: Schema{Fields: []Field{{Name: "city", Type: prim("string")}, {Name: "address", Type: Type{Fields: []Field{
				{Name: "city", Type: prim("string")},
			}}}}},
			want: nil,
		},
		{
			name:   "unknown type varchar",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("long")}, {Name: "b", Type: prim("long")}, {Name: "c", Type: prim("varchar")}}},
			want:   []Problem{{Field: "schema.fields[2].type", Message: `unknown type "varchar"; valid types are boolean, int, long`}},
		},
		{
			name:   "decimal precision too large",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(40,2)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "decimal precision must be between 1 and 38, got 40"}},
		},
		{
			name:   "decimal precision zero",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(0,0)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "decimal precision must be between 1 and 38, got 0"}},
		},
		{
			name:   "decimal scale above precision",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(5,6)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "decimal scale must be between 0 and the precision (5), got 6"}},
		},
		{
			name:   "decimal malformed",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(10)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "malformed decimal type"}},
		},
		{
			name:   "decimal negative scale",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(10,-1)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "malformed decimal type"}},
		},
		{
			name:   "decimal huge precision",
			schema: Schema{Fields: []Field{{Name: "a", Type: prim("decimal(99999999999999999999,2)")}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "decimal precision must be between 1 and 38"}},
		},
		{
			name: "map with struct key",
			schema: Schema{Fields: []Field{{Name: "m", Type: Type{
				Key: &Type{Fields: []Field{{Name: "k", Type: prim("string")}}}, Value: primPtr("long"),
			}}}},
			want: []Problem{{Field: "schema.fields[0].type.key", Message: "map key must be a primitive type, got struct<k: string>"}},
		},
		{
			name:   "map with unknown key type",
			schema: Schema{Fields: []Field{{Name: "m", Type: Type{Key: primPtr("text"), Value: primPtr("long")}}}},
			want:   []Problem{{Field: "schema.fields[0].type.key", Message: `unknown type "text"`}},
		},
		{
			name:   "map value unknown",
			schema: Schema{Fields: []Field{{Name: "m", Type: Type{Key: primPtr("string"), Value: primPtr("number")}}}},
			want:   []Problem{{Field: "schema.fields[0].type.value", Message: `unknown type "number"`}},
		},
		{
			name:   "list element unknown",
			schema: Schema{Fields: []Field{{Name: "l", Type: Type{Element: primPtr("decimal(50,1)")}}}},
			want:   []Problem{{Field: "schema.fields[0].type.element", Message: "decimal precision"}},
		},
		{
			name:   "missing type",
			schema: Schema{Fields: []Field{{Name: "a"}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "type is required"}},
		},
		{
			name:   "ambiguous type",
			schema: Schema{Fields: []Field{{Name: "a", Type: Type{Primitive: "long", Element: primPtr("long")}}}},
			want:   []Problem{{Field: "schema.fields[0].type", Message: "exactly one of"}},
		},
		{
			name:   "empty struct",
			schema: Schema{Fields: []Field{{Name: "s", Type: Type{Fields: []Field{}}}}},
			want:   []Problem{{Field: "schema.fields[0].type.fields", Message: "at least one field"}},
		},
		{
			name:   "nesting depth 16 is allowed",
			schema: Schema{Fields: []Field{nestedStructs(16)}},
			want:   nil,
		},
		{
			name:   "nesting depth 17 is rejected",
			schema: Schema{Fields: []Field{nestedStructs(17)}},
			want: []Problem{{Field: "schema.fields[0]" + strings.Repeat(".type.fields[0]", 16) + ".type",
				Message: "nesting depth exceeds the maximum of 16"}},
		},
		{
			name: "every problem is reported",
			schema: Schema{Fields: []Field{
				{Name: "bad name", Type: prim("varchar")},
				{Name: "ok", Type: prim("decimal(5,6)")},
				{Name: "OK", Type: Type{Element: primPtr("nope")}},
			}},
			want: []Problem{
				{Field: "schema.fields[0].name", Message: "invalid name"},
				{Field: "schema.fields[0].type", Message: `unknown type "varchar"`},
				{Field: "schema.fields[1].type", Message: "decimal scale"},
				{Field: "schema.fields[2].name", Message: "duplicate column name"},
				{Field: "schema.fields[2].type.element", Message: `unknown type "nope"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Validate()
			if tt.want == nil {
				require.NoError(t, err)

				return
			}
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Problems, len(tt.want), "problems: %v", verr.Problems)
			for i, want := range tt.want {
				require.Equal(t, want.Field, verr.Problems[i].Field)
				require.Contains(t, verr.Problems[i].Message, want.Message)
				require.Contains(t, verr.Error(), want.Field+": ")
			}

			sc, toErr := tt.schema.ToIceberg()
			require.Nil(t, sc)
			var toVerr *ValidationError
			require.True(t, errors.As(toErr, &toVerr))
			require.Equal(t, verr.Problems, toVerr.Problems)
		})
	}
}

func TestSchemaValidateFromJSON(t *testing.T) {
	doc := `{"fields":[{"name":"id","type":"long","required":true},
	  {"name":"s","type":{"type":"struct","fields":[{"name":"v","type":"varchar"}]}},
	  {"name":"m","type":{"type":"map","key":{"type":"list","element":"string"},"value":"long"}}]}`
	var s Schema
	require.NoError(t, json.Unmarshal([]byte(doc), &s))
	var verr *ValidationError
	require.ErrorAs(t, s.Validate(), &verr)
	require.Equal(t, []string{"schema.fields[1].type.fields[0].type", "schema.fields[2].type.key"},
		[]string{verr.Problems[0].Field, verr.Problems[1].Field})
}

func TestSchemaJSONRoundTrip(t *testing.T) {
	s := exampleSchema(t)
	out, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, exampleSchemaJSON, string(out))
}

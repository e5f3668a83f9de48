package catalog

import (
	"slices"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"
)

// evolveBase returns the example schema as current Iceberg schema (ids 1..11)
// and a fresh API copy to edit into a proposal.
func evolveBase(t *testing.T) (*iceberg.Schema, Schema) {
	t.Helper()
	current, err := exampleSchema(t).ToIceberg()
	require.NoError(t, err)

	return current, exampleSchema(t)
}

func fieldIndex(t *testing.T, s Schema, name string) int {
	t.Helper()
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	require.FailNow(t, "no field "+name)

	return -1
}

// requireKeptIDs checks that every field id of current still names a field
// with the same name and type in next, apart from the ids listed in changed.
func requireKeptIDs(t *testing.T, current, next *iceberg.Schema, changed ...int) {
	t.Helper()
	currentByID, err := iceberg.IndexByID(current)
	require.NoError(t, err)
	for id, f := range currentByID {
		if slices.Contains(changed, id) {
			continue
		}
		got, ok := next.FindFieldByID(id)
		require.True(t, ok, "field id %d lost", id)
		require.True(t, f.Equals(got), "field id %d: was %s, now %s", id, f, got)
	}
}

func changeKinds(changes []Change) [][2]string {
	out := make([][2]string, len(changes))
	for i, c := range changes {
		out[i] = [2]string{c.Field, c.Kind}
	}

	return out
}

func TestEvolveAddOptionalColumn(t *testing.T) {
	current, proposed := evolveBase(t)
	proposed.Fields = append(proposed.Fields, Field{Name: "country", Type: prim("string"), Doc: "ISO code"})

	next, last, changes, err := Evolve(current, 11, proposed)
	require.NoError(t, err)
	require.Equal(t, 12, last)
	require.Equal(t, 1, next.ID)
	require.Equal(t, [][2]string{{"country", ChangeAddOptionalColumn}}, changeKinds(changes))
	require.Equal(t, "new optional column of type string", changes[0].Detail)

	added, ok := next.FindFieldByName("country")
	require.True(t, ok)
	require.Equal(t, 12, added.ID)
	require.False(t, added.Required)
	require.Equal(t, "ISO code", added.Doc)
	require.Equal(t, current.NumFields()+1, next.NumFields())
	requireKeptIDs(t, current, next)
}

func TestEvolveAddColumnInTheMiddle(t *testing.T) {
	current, proposed := evolveBase(t)
	proposed.Fields = slices.Insert(proposed.Fields, 1, Field{Name: "country", Type: prim("string")})

	next, last, changes, err := Evolve(current, 11, proposed)
	require.NoError(t, err)
	require.Equal(t, 12, last)
	require.Equal(t, [][2]string{{"country", ChangeAddOptionalColumn}}, changeKinds(changes))
	require.Equal(t, "country", next.Field(1).Name)
	require.Equal(t, 12, next.Field(1).ID)
	require.Equal(t, "ts", next.Field(2).Name)
	requireKeptIDs(t, current, next)
}

func TestEvolveNewIDsStartAboveLastColumnID(t *testing.T) {
	current, proposed := evolveBase(t)
	proposed.Fields = append(proposed.Fields,
		Field{Name: "geo", Type: Type{Fields: []Field{
			{Name: "lat", Type: prim("double"), Required: true},
			{Name: "lon", Type: prim("double"), Required: true},
		}}},
		Field{Name: "labels", Type: Type{Key: primPtr("string"), Value: primPtr("string")}},
	)

	// A dropped column once used ids up to 20.
	next, last, changes, err := Evolve(current, 20, proposed)
	require.NoError(t, err)
	require.Equal(t, 26, last)
	require.Equal(t, [][2]string{{"geo", ChangeAddOptionalColumn}, {"labels", ChangeAddOptionalColumn}}, changeKinds(changes))

	geo, ok := next.FindFieldByName("geo")
	require.True(t, ok)
	require.Equal(t, 21, geo.ID)
	geoStruct := geo.Type.(*iceberg.StructType)
	require.Equal(t, []int{22, 23}, []int{geoStruct.FieldList[0].ID, geoStruct.FieldList[1].ID})
	labels, ok := next.FindFieldByName("labels")
	require.True(t, ok)
	require.Equal(t, 24, labels.ID)
	labelsMap := labels.Type.(*iceberg.MapType)
	require.Equal(t, []int{25, 26}, []int{labelsMap.KeyID, labelsMap.ValueID})
	requireKeptIDs(t, current, next)
}

func TestEvolveAllowedChanges(t *testing.T) {
	current, err := Schema{Fields: []Field{
		{Name: "a", Type: prim("int"), Required: true},
		{Name: "b", Type: prim("float")},
		{Name: "c", Type: prim("decimal(10,2)")},
		{Name: "d", Type: prim("string"), Doc: "old"},
	}}.ToIceberg()
	require.NoError(t, err)

	tests := []struct {
		name      string
		field     Field
		wantKinds [][2]string
		wantType  iceberg.Type
		wantReq   bool
		wantDoc   string
	}{
		{"widen int to long", Field{Name: "a", Type: prim("long"), Required: true},
			[][2]string{{"a", ChangeWidenType}}, iceberg.PrimitiveTypes.Int64, true, ""},
		{"make optional", Field{Name: "a", Type: prim("int")},
			[][2]string{{"a", ChangeMakeOptional}}, iceberg.PrimitiveTypes.Int32, false, ""},
		{"widen float to double", Field{Name: "b", Type: prim("double")},
			[][2]string{{"b", ChangeWidenType}}, iceberg.PrimitiveTypes.Float64, false, ""},
		{"widen decimal precision", Field{Name: "c", Type: prim("decimal(12,2)")},
			[][2]string{{"c", ChangeWidenType}}, iceberg.DecimalTypeOf(12, 2), false, ""},
		{"doc changed", Field{Name: "d", Type: prim("string"), Doc: "new"},
			[][2]string{{"d", ChangeDocChanged}}, iceberg.PrimitiveTypes.String, false, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proposed := SchemaFromIceberg(current)
			idx := fieldIndex(t, proposed, tt.field.Name)
			proposed.Fields[idx] = tt.field

			next, last, changes, err := Evolve(current, current.HighestFieldID(), proposed)
			require.NoError(t, err)
			require.Equal(t, 4, last)
			require.Equal(t, 1, next.ID)
			require.Equal(t, tt.wantKinds, changeKinds(changes))

			got := next.Field(idx)
			require.Equal(t, current.Field(idx).ID, got.ID)
			require.True(t, tt.wantType.Equals(got.Type), "got %s", got.Type)
			require.Equal(t, tt.wantReq, got.Required)
			require.Equal(t, tt.wantDoc, got.Doc)
			requireKeptIDs(t, current, next, got.ID)
		})
	}
}

func TestEvolveWidenDetail(t *testing.T) {
	current, err := Schema{Fields: []Field{{Name: "a", Type: prim("decimal(10,2)")}}}.ToIceberg()
	require.NoError(t, err)
	_, _, changes, err := Evolve(current, 1, Schema{Fields: []Field{{Name: "a", Type: prim("decimal(20,2)")}}})
	require.NoError(t, err)
	require.Equal(t, []Change{{Field: "a", Kind: ChangeWidenType, Detail: "decimal(10,2) -> decimal(20,2)"}}, changes)
}

func TestEvolveNoChange(t *testing.T) {
	current, proposed := evolveBase(t)
	next, last, changes, err := Evolve(current, 11, proposed)
	require.NoError(t, err)
	require.Same(t, current, next)
	require.Equal(t, 11, last)
	require.Empty(t, changes)
}

func TestEvolveReorder(t *testing.T) {
	current, proposed := evolveBase(t)
	proposed.Fields[0], proposed.Fields[1] = proposed.Fields[1], proposed.Fields[0]

	next, last, changes, err := Evolve(current, 11, proposed)
	require.NoError(t, err)
	require.Equal(t, 11, last)
	require.Equal(t, 1, next.ID)
	require.Equal(t, [][2]string{{"", ChangeReorderColumns}}, changeKinds(changes))
	require.Contains(t, changes[0].Detail, "[id, ts, email")
	require.Contains(t, changes[0].Detail, "[ts, id, email")
	require.Equal(t, []string{"ts", "id"}, []string{next.Field(0).Name, next.Field(1).Name})
	require.Equal(t, []int{2, 1}, []int{next.Field(0).ID, next.Field(1).ID})
	requireKeptIDs(t, current, next)
}

func TestEvolveNested(t *testing.T) {
	base := Schema{Fields: []Field{
		{Name: "s", Type: Type{Fields: []Field{{Name: "a", Type: prim("int")}}}},                        // 1, 2
		{Name: "l", Type: Type{Element: primPtr("int"), ElementRequired: true}},                         // 3, 4
		{Name: "m", Type: Type{Key: primPtr("string"), Value: primPtr("float"), ValueRequired: true}},   // 5, 6, 7
		{Name: "items", Type: Type{Element: &Type{Fields: []Field{{Name: "x", Type: prim("string")}}}}}, // 8, 9, 10
	}}
	current, err := base.ToIceberg()
	require.NoError(t, err)

	proposed := Schema{Fields: []Field{
		{Name: "s", Type: Type{Fields: []Field{{Name: "a", Type: prim("long")}, {Name: "b", Type: prim("string")}}}},
		{Name: "l", Type: Type{Element: primPtr("long")}},
		{Name: "m", Type: Type{Key: primPtr("string"), Value: primPtr("double")}},
		{Name: "items", Type: Type{Element: &Type{Fields: []Field{
			{Name: "x", Type: prim("string")},
			{Name: "y", Type: Type{Element: primPtr("int")}},
		}}}},
	}}
	next, last, changes, err := Evolve(current, 10, proposed)
	require.NoError(t, err)
	require.Equal(t, 13, last)
	require.Equal(t, [][2]string{
		{"s.a", ChangeWidenType},
		{"s.b", ChangeAddOptionalColumn},
		{"l.element", ChangeMakeOptional},
		{"l.element", ChangeWidenType},
		{"m.value", ChangeMakeOptional},
		{"m.value", ChangeWidenType},
		{"items.element.y", ChangeAddOptionalColumn},
	}, changeKinds(changes))

	s := next.Field(0).Type.(*iceberg.StructType)
	require.Equal(t, 2, s.FieldList[0].ID)
	require.True(t, iceberg.PrimitiveTypes.Int64.Equals(s.FieldList[0].Type))
	require.Equal(t, 11, s.FieldList[1].ID)

	l := next.Field(1).Type.(*iceberg.ListType)
	require.Equal(t, 4, l.ElementID)
	require.False(t, l.ElementRequired)
	require.True(t, iceberg.PrimitiveTypes.Int64.Equals(l.Element))

	m := next.Field(2).Type.(*iceberg.MapType)
	require.Equal(t, []int{6, 7}, []int{m.KeyID, m.ValueID})
	require.False(t, m.ValueRequired)
	require.True(t, iceberg.PrimitiveTypes.Float64.Equals(m.ValueType))

	items := next.Field(3).Type.(*iceberg.ListType)
	require.Equal(t, 9, items.ElementID)
	itemStruct := items.Element.(*iceberg.StructType)
	require.Equal(t, 10, itemStruct.FieldList[0].ID)
	require.Equal(t, 12, itemStruct.FieldList[1].ID)
	require.Equal(t, 13, itemStruct.FieldList[1].Type.(*iceberg.ListType).ElementID)
	require.Empty(t, CheckCompatible(current, next))
}

func TestEvolveAllBreakingChangesAtOnce(t *testing.T) {
	current, _ := evolveBase(t)
	proposed := Schema{Fields: []Field{
		{Name: "id", Type: prim("int"), Required: true},
		{Name: "ts", Type: prim("timestamp"), Required: true},
		{Name: "amount", Type: prim("decimal(8,2)")},
		{Name: "address", Type: prim("string")},
		{Name: "tags", Type: Type{Element: primPtr("string"), ElementRequired: true}, Required: true},
		{Name: "attrs", Type: Type{Key: primPtr("long"), Value: primPtr("long")}},
		{Name: "tenant", Type: prim("string"), Required: true},
		{Name: "note", Type: prim("string")},
	}}

	next, last, changes, err := Evolve(current, 11, proposed)
	require.Nil(t, next)
	require.Equal(t, 11, last)
	var berr *BreakingChangeError
	require.ErrorAs(t, err, &berr)
	wantBreaking := [][2]string{
		{"id", ChangeNarrowType},
		{"ts", ChangeChangeType},
		{"amount", ChangeNarrowType},
		{"address", ChangeChangeType},
		{"tags", ChangeMakeRequired},
		{"tags.element", ChangeMakeRequired},
		{"attrs.key", ChangeChangeType},
		{"tenant", ChangeAddRequiredColumn},
		{"email", ChangeDropColumn},
	}
	require.Equal(t, wantBreaking, changeKinds(berr.Changes))
	for _, c := range berr.Changes {
		require.Contains(t, berr.Error(), c.Field+": "+c.Kind)
	}
	// changes also carries the allowed ones.
	require.Contains(t, changeKinds(changes), [2]string{"note", ChangeAddOptionalColumn})
	require.Len(t, changes, len(wantBreaking)+1)
}

func TestEvolveEachBreakingKind(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Schema)
		want   [][2]string
	}{
		{"drop column", func(s *Schema) { s.Fields = slices.Delete(s.Fields, 2, 3) },
			[][2]string{{"email", ChangeDropColumn}}},
		{"rename is drop plus add", func(s *Schema) { s.Fields[2].Name = "mail" },
			[][2]string{{"mail", ChangeAddOptionalColumn}, {"email", ChangeDropColumn}}},
		{"narrow long to int", func(s *Schema) { s.Fields[0].Type = prim("int") },
			[][2]string{{"id", ChangeNarrowType}}},
		{"change string to long", func(s *Schema) { s.Fields[2].Type = prim("long") },
			[][2]string{{"email", ChangeChangeType}}},
		{"change decimal scale", func(s *Schema) { s.Fields[3].Type = prim("decimal(12,3)") },
			[][2]string{{"amount", ChangeChangeType}}},
		{"change list to map", func(s *Schema) {
			s.Fields[5].Type = Type{Key: primPtr("string"), Value: primPtr("string")}
		}, [][2]string{{"tags", ChangeChangeType}}},
		{"add required column", func(s *Schema) {
			s.Fields = append(s.Fields, Field{Name: "tenant", Type: prim("string"), Required: true})
		}, [][2]string{{"tenant", ChangeAddRequiredColumn}}},
		{"make required", func(s *Schema) { s.Fields[2].Required = true },
			[][2]string{{"email", ChangeMakeRequired}}},
		{"nested make required", func(s *Schema) { s.Fields[4].Type.Fields[0].Required = true },
			[][2]string{{"address.city", ChangeMakeRequired}}},
		{"nested add required", func(s *Schema) {
			s.Fields[4].Type.Fields = append(s.Fields[4].Type.Fields, Field{Name: "zip", Type: prim("string"), Required: true})
		}, [][2]string{{"address.zip", ChangeAddRequiredColumn}}},
		{"nested drop", func(s *Schema) {
			s.Fields[4].Type.Fields = []Field{{Name: "town", Type: prim("string")}}
		}, [][2]string{{"address.town", ChangeAddOptionalColumn}, {"address.city", ChangeDropColumn}}},
		{"list element made required", func(s *Schema) { s.Fields[5].Type.ElementRequired = true },
			[][2]string{{"tags.element", ChangeMakeRequired}}},
		{"list element changed", func(s *Schema) { s.Fields[5].Type.Element = primPtr("long") },
			[][2]string{{"tags.element", ChangeChangeType}}},
		{"map value made required", func(s *Schema) { s.Fields[6].Type.ValueRequired = true },
			[][2]string{{"attrs.value", ChangeMakeRequired}}},
		{"map value narrowed", func(s *Schema) { s.Fields[6].Type.Value = primPtr("int") },
			[][2]string{{"attrs.value", ChangeNarrowType}}},
		{"map key changed", func(s *Schema) { s.Fields[6].Type.Key = primPtr("uuid") },
			[][2]string{{"attrs.key", ChangeChangeType}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current, proposed := evolveBase(t)
			tt.mutate(&proposed)
			next, _, changes, err := Evolve(current, 11, proposed)
			require.Nil(t, next)
			var berr *BreakingChangeError
			require.ErrorAs(t, err, &berr)
			var wantBreaking [][2]string
			for _, w := range tt.want {
				if w[1] != ChangeAddOptionalColumn {
					wantBreaking = append(wantBreaking, w)
				}
			}
			require.Equal(t, wantBreaking, changeKinds(berr.Changes))
			require.Equal(t, tt.want, changeKinds(changes))
		})
	}
}

func TestEvolveIdentifierFieldMadeOptional(t *testing.T) {
	current := iceberg.NewSchemaWithIdentifiers(3, []int{1},
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "v", Type: iceberg.PrimitiveTypes.String},
	)

	_, _, _, err := Evolve(current, 2, Schema{Fields: []Field{
		{Name: "id", Type: prim("long")},
		{Name: "v", Type: prim("string")},
	}})
	var berr *BreakingChangeError
	require.ErrorAs(t, err, &berr)
	require.Equal(t, [][2]string{{"id", ChangeMakeOptional}}, changeKinds(berr.Changes))
	require.Contains(t, berr.Changes[0].Detail, "identifier field")

	next, last, _, err := Evolve(current, 2, Schema{Fields: []Field{
		{Name: "id", Type: prim("long"), Required: true},
		{Name: "v", Type: prim("string")},
		{Name: "w", Type: prim("string")},
	}})
	require.NoError(t, err)
	require.Equal(t, 3, last)
	require.Equal(t, 4, next.ID)
	require.Equal(t, []int{1}, next.IdentifierFieldIDs)
}

func TestEvolveInputErrors(t *testing.T) {
	current, proposed := evolveBase(t)

	proposed.Fields[0].Type = prim("varchar")
	_, last, _, err := Evolve(current, 11, proposed)
	require.Equal(t, 11, last)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "schema.fields[0].type", verr.Problems[0].Field)

	_, _, _, err = Evolve(current, 5, exampleSchema(t))
	require.ErrorContains(t, err, "last column id 5 is below the highest field id 11")

	_, _, _, err = Evolve(nil, 0, exampleSchema(t))
	require.ErrorContains(t, err, "current schema is nil")
}

// TestEvolveCommitsThroughTableMetadata checks that an evolved schema is
// accepted by iceberg-go's metadata builder.
func TestEvolveCommitsThroughTableMetadata(t *testing.T) {
	sc, err := exampleSchema(t).ToIceberg()
	require.NoError(t, err)
	spec, err := PartitionSpec(sc, []PartitionField{{Field: "ts", Transform: "day"}, {Field: "id", Transform: "bucket[16]"}})
	require.NoError(t, err)
	md, err := table.NewMetadata(sc, &spec, table.UnsortedSortOrder, "file:///tmp/lakegate-test/t", nil)
	require.NoError(t, err)
	require.True(t, sc.Equals(md.CurrentSchema()), "table.NewMetadata kept our ids")
	require.Equal(t, 11, md.LastColumnID())

	proposed := SchemaFromIceberg(md.CurrentSchema())
	proposed.Fields = append(proposed.Fields, Field{Name: "country", Type: prim("string")})
	proposed.Fields[0].Required = false
	next, last, _, err := Evolve(md.CurrentSchema(), md.LastColumnID(), proposed)
	require.NoError(t, err)
	require.Equal(t, 12, last)

	md2, err := table.UpdateTableMetadata(md, []table.Update{
		table.NewAddSchemaUpdate(next), table.NewSetCurrentSchemaUpdate(-1),
	}, "")
	require.NoError(t, err)
	require.Equal(t, 12, md2.LastColumnID())
	require.Equal(t, 1, md2.CurrentSchema().ID)
	country, ok := md2.CurrentSchema().FindFieldByName("country")
	require.True(t, ok)
	require.Equal(t, 12, country.ID)
	require.Equal(t, PartitionFieldsFromIceberg(md2.CurrentSchema(), md2.PartitionSpec()),
		[]PartitionField{{Field: "ts", Transform: "day"}, {Field: "id", Transform: "bucket[16]"}})
}

// withFields returns a copy of sc with its top-level fields replaced by edit's
// result.
func withFields(sc *iceberg.Schema, edit func(fields []iceberg.NestedField) []iceberg.NestedField) *iceberg.Schema {
	return iceberg.NewSchema(sc.ID+1, edit(sc.Fields())...)
}

func TestEvolveCheckCompatible(t *testing.T) {
	current, _ := evolveBase(t)
	tests := []struct {
		name string
		next *iceberg.Schema
		want [][2]string
	}{
		{"identical", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField { return f }), nil},
		{"make optional", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[0].Required = false

			return f
		}), nil},
		{"new optional column", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			return append(f, iceberg.NestedField{ID: 12, Name: "n", Type: iceberg.PrimitiveTypes.String})
		}), nil},
		{"reorder", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[0], f[1] = f[1], f[0]

			return f
		}), nil},
		{"widen map value", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[6].Type = &iceberg.MapType{KeyID: 10, KeyType: iceberg.PrimitiveTypes.String, ValueID: 11, ValueType: iceberg.PrimitiveTypes.Int64}
			f[3].Type = iceberg.DecimalTypeOf(20, 2)

			return f
		}), nil},
		{"rename keeps id", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[2].Name = "mail"

			return f
		}), [][2]string{{"email", ChangeRenameColumn}}},
		{"drop", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			return slices.Delete(f, 2, 3)
		}), [][2]string{{"email", ChangeDropColumn}}},
		{"drop and re-add under the same name", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[2].ID = 12

			return f
		}), [][2]string{{"email", ChangeDropColumn}}},
		{"narrow", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[0].Type = iceberg.PrimitiveTypes.Int32

			return f
		}), [][2]string{{"id", ChangeNarrowType}}},
		{"change type", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[2].Type = iceberg.PrimitiveTypes.Binary

			return f
		}), [][2]string{{"email", ChangeChangeType}}},
		{"make required", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[3].Required = true

			return f
		}), [][2]string{{"amount", ChangeMakeRequired}}},
		{"new required column", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			return append(f, iceberg.NestedField{ID: 12, Name: "tenant", Type: iceberg.PrimitiveTypes.String, Required: true})
		}), [][2]string{{"tenant", ChangeAddRequiredColumn}}},
		{"new required column with initial default", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			return append(f, iceberg.NestedField{ID: 12, Name: "tenant", Type: iceberg.PrimitiveTypes.String, Required: true,
				InitialDefault: "acme"})
		}), nil},
		{"nested drop and required add", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[4].Type = &iceberg.StructType{FieldList: []iceberg.NestedField{
				{ID: 12, Name: "zip", Type: iceberg.PrimitiveTypes.String, Required: true},
			}}

			return f
		}), [][2]string{{"address.city", ChangeDropColumn}, {"address.zip", ChangeAddRequiredColumn}}},
		{"list element required", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[5].Type = &iceberg.ListType{ElementID: 8, Element: iceberg.PrimitiveTypes.String, ElementRequired: true}

			return f
		}), [][2]string{{"tags.element", ChangeMakeRequired}}},
		{"list element replaced", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[5].Type = &iceberg.ListType{ElementID: 12, Element: iceberg.PrimitiveTypes.String}

			return f
		}), [][2]string{{"tags", ChangeChangeType}}},
		{"map key and value", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[6].Type = &iceberg.MapType{KeyID: 10, KeyType: iceberg.PrimitiveTypes.UUID, ValueID: 11, ValueType: iceberg.PrimitiveTypes.Int32, ValueRequired: true}

			return f
		}), [][2]string{{"attrs.key", ChangeChangeType}, {"attrs.value", ChangeMakeRequired}, {"attrs.value", ChangeNarrowType}}},
		{"struct to primitive", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[4].Type = iceberg.PrimitiveTypes.String

			return f
		}), [][2]string{{"address", ChangeChangeType}}},
		{"several at once", withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
			f[0].Name = "key"
			f[1].Type = iceberg.PrimitiveTypes.Timestamp
			f[3].Required = true

			return slices.Delete(f, 2, 3)
		}), [][2]string{{"id", ChangeRenameColumn}, {"ts", ChangeChangeType}, {"email", ChangeDropColumn}, {"amount", ChangeMakeRequired}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckCompatible(current, tt.next)
			if tt.want == nil {
				require.Empty(t, got)

				return
			}
			require.Equal(t, tt.want, changeKinds(got))
			for _, c := range got {
				require.NotEmpty(t, c.Detail)
			}
		})
	}
}

func TestEvolveCheckCompatibleNil(t *testing.T) {
	current, _ := evolveBase(t)
	require.Nil(t, CheckCompatible(nil, current))
	require.Nil(t, CheckCompatible(current, nil))
}

func TestEvolveCheckCompatibleRenameDetail(t *testing.T) {
	current, _ := evolveBase(t)
	next := withFields(current, func(f []iceberg.NestedField) []iceberg.NestedField {
		f[2].Name = "mail"

		return f
	})
	require.Equal(t, []Change{{Field: "email", Kind: ChangeRenameColumn, Detail: `column 3 renamed to "mail"`}},
		CheckCompatible(current, next))
}

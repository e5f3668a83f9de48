package catalog

import (
	"encoding/json"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/stretchr/testify/require"
)

// partitionTestSchema has one column of each primitive type plus nested ones.
func partitionTestSchema(t testing.TB) *iceberg.Schema {
	t.Helper()
	s := Schema{Fields: []Field{
		{Name: "id", Type: prim("long"), Required: true},                                     // 1
		{Name: "ts", Type: prim("timestamptz"), Required: true},                              // 2
		{Name: "d", Type: prim("date")},                                                      // 3
		{Name: "lts", Type: prim("timestamp")},                                               // 4
		{Name: "email", Type: prim("string")},                                                // 5
		{Name: "amount", Type: prim("decimal(10,2)")},                                        // 6
		{Name: "uid", Type: prim("uuid")},                                                    // 7
		{Name: "bin", Type: prim("binary")},                                                  // 8
		{Name: "tm", Type: prim("time")},                                                     // 9
		{Name: "flag", Type: prim("boolean")},                                                // 10
		{Name: "f", Type: prim("float")},                                                     // 11
		{Name: "i", Type: prim("int")},                                                       // 12
		{Name: "address", Type: Type{Fields: []Field{{Name: "city", Type: prim("string")}}}}, // 13, 14
		{Name: "tags", Type: Type{Element: primPtr("string")}},                               // 15, 16
		{Name: "ts_day", Type: prim("string")},                                               // 17
	}}
	sc, err := s.ToIceberg()
	require.NoError(t, err)

	return sc
}

func TestPartitionSpecTransforms(t *testing.T) {
	sc := partitionTestSchema(t)
	tests := []struct {
		part       PartitionField
		sourceID   int
		name       string
		resultType iceberg.Type
	}{
		{PartitionField{Field: "email", Transform: "identity"}, 5, "email", iceberg.PrimitiveTypes.String},
		{PartitionField{Field: "flag", Transform: "identity"}, 10, "flag", iceberg.PrimitiveTypes.Bool},
		{PartitionField{Field: "f", Transform: "identity"}, 11, "f", iceberg.PrimitiveTypes.Float32},
		{PartitionField{Field: "ts", Transform: "year"}, 2, "ts_year", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "ts", Transform: "month"}, 2, "ts_month", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "ts", Transform: "hour"}, 2, "ts_hour", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "d", Transform: "day"}, 3, "d_day", iceberg.PrimitiveTypes.Date},
		{PartitionField{Field: "d", Transform: "year"}, 3, "d_year", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "lts", Transform: "hour"}, 4, "lts_hour", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "id", Transform: "bucket[16]"}, 1, "id_bucket_16", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "uid", Transform: "bucket[2147483647]"}, 7, "uid_bucket_2147483647", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "tm", Transform: "bucket[1]"}, 9, "tm_bucket_1", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "bin", Transform: "bucket[8]"}, 8, "bin_bucket_8", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "email", Transform: "truncate[4]"}, 5, "email_trunc_4", iceberg.PrimitiveTypes.String},
		{PartitionField{Field: "amount", Transform: "truncate[100]"}, 6, "amount_trunc_100", iceberg.DecimalTypeOf(10, 2)},
		{PartitionField{Field: "i", Transform: "truncate[10]"}, 12, "i_trunc_10", iceberg.PrimitiveTypes.Int32},
		{PartitionField{Field: "ts", Transform: "day", Name: "event_day"}, 2, "event_day", iceberg.PrimitiveTypes.Date},
	}
	for _, tt := range tests {
		t.Run(tt.part.Field+"_"+tt.part.Transform, func(t *testing.T) {
			spec, err := PartitionSpec(sc, []PartitionField{tt.part})
			require.NoError(t, err)
			require.Equal(t, 0, spec.ID())
			require.Equal(t, 1, spec.NumFields())
			f := spec.Field(0)
			require.Equal(t, []int{tt.sourceID}, f.SourceIDs)
			require.Equal(t, 1000, f.FieldID)
			require.Equal(t, tt.name, f.Name)
			require.Equal(t, tt.part.Transform, f.Transform.String())
			partType := spec.PartitionType(sc)
			require.True(t, tt.resultType.Equals(partType.FieldList[0].Type), "got %s", partType.FieldList[0].Type)

			require.Equal(t, []PartitionField{tt.part}, PartitionFieldsFromIceberg(sc, spec))
		})
	}
}

func TestPartitionSpecExample(t *testing.T) {
	sc, err := exampleSchema(t).ToIceberg()
	require.NoError(t, err)
	var parts []PartitionField
	require.NoError(t, json.Unmarshal([]byte(`[{"field":"ts","transform":"day"},{"field":"id","transform":"bucket[16]"}]`), &parts))

	spec, err := PartitionSpec(sc, parts)
	require.NoError(t, err)
	want := iceberg.NewPartitionSpecID(0,
		iceberg.PartitionField{SourceIDs: []int{2}, FieldID: 1000, Name: "ts_day", Transform: iceberg.DayTransform{}},
		iceberg.PartitionField{SourceIDs: []int{1}, FieldID: 1001, Name: "id_bucket_16", Transform: iceberg.BucketTransform{NumBuckets: 16}},
	)
	require.True(t, want.Equals(spec), "want %s, got %s", want, spec)
	require.Equal(t, 1001, spec.LastAssignedFieldID())

	back := PartitionFieldsFromIceberg(sc, spec)
	require.Equal(t, parts, back)
	again, err := PartitionSpec(sc, back)
	require.NoError(t, err)
	require.True(t, spec.Equals(again))
}

func TestPartitionSpecUnpartitioned(t *testing.T) {
	sc := partitionTestSchema(t)
	for _, parts := range [][]PartitionField{nil, {}} {
		spec, err := PartitionSpec(sc, parts)
		require.NoError(t, err)
		require.True(t, spec.IsUnpartitioned())
		require.Equal(t, 0, spec.NumFields())
		require.Equal(t, 0, spec.ID())
		require.Empty(t, PartitionFieldsFromIceberg(sc, spec))
	}
}

func TestPartitionSpecNilSchema(t *testing.T) {
	_, err := PartitionSpec(nil, []PartitionField{{Field: "id", Transform: "identity"}})
	require.ErrorContains(t, err, "schema is nil")
}

func TestPartitionSpecErrors(t *testing.T) {
	sc := partitionTestSchema(t)
	tests := []struct {
		name  string
		parts []PartitionField
		want  []Problem // Message holds a substring of the expected message
	}{
		{
			name:  "unknown column",
			parts: []PartitionField{{Field: "nope", Transform: "identity"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: `unknown column "nope"`}},
		},
		{
			name:  "unknown column with other case",
			parts: []PartitionField{{Field: "EMAIL", Transform: "identity"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: `did you mean "email"`}},
		},
		{
			name:  "missing field",
			parts: []PartitionField{{Transform: "identity"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: "field is required"}},
		},
		{
			name:  "nested column",
			parts: []PartitionField{{Field: "address.city", Transform: "identity"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: "must be a top-level column"}},
		},
		{
			name:  "struct column",
			parts: []PartitionField{{Field: "address", Transform: "identity"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: "must be a primitive column, got struct<city: string>"}},
		},
		{
			name:  "list column",
			parts: []PartitionField{{Field: "tags", Transform: "bucket[4]"}},
			want:  []Problem{{Field: "partitioning[0].field", Message: "must be a primitive column, got list<string>"}},
		},
		{
			name:  "day on string",
			parts: []PartitionField{{Field: "email", Transform: "day"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `transform day cannot be applied to column "email" of type string; day applies to date, timestamp and timestamptz`}},
		},
		{
			name:  "hour on date",
			parts: []PartitionField{{Field: "d", Transform: "hour"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "hour applies to timestamp and timestamptz"}},
		},
		{
			name:  "truncate on uuid",
			parts: []PartitionField{{Field: "uid", Transform: "truncate[4]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "truncate[4] applies to int, long, decimal, string and binary"}},
		},
		{
			name:  "bucket on boolean",
			parts: []PartitionField{{Field: "flag", Transform: "bucket[4]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "cannot be applied to column \"flag\" of type boolean"}},
		},
		{
			name:  "bucket on float",
			parts: []PartitionField{{Field: "f", Transform: "bucket[4]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "of type float"}},
		},
		{
			name:  "bucket zero",
			parts: []PartitionField{{Field: "id", Transform: "bucket[0]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `invalid transform "bucket[0]": bucket[N] needs an integer N between 1 and 2147483647`}},
		},
		{
			name:  "bucket negative",
			parts: []PartitionField{{Field: "id", Transform: "bucket[-1]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "bucket[N] needs an integer N"}},
		},
		{
			name:  "bucket too large",
			parts: []PartitionField{{Field: "id", Transform: "bucket[2147483648]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "bucket[N] needs an integer N"}},
		},
		{
			name:  "bucket without width",
			parts: []PartitionField{{Field: "id", Transform: "bucket"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "bucket[N] needs an integer N"}},
		},
		{
			name:  "truncate not a number",
			parts: []PartitionField{{Field: "email", Transform: "truncate[x]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `invalid transform "truncate[x]": truncate[W] needs an integer width W`}},
		},
		{
			name:  "truncate zero",
			parts: []PartitionField{{Field: "email", Transform: "truncate[0]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "truncate[W] needs an integer width W"}},
		},
		{
			name:  "void",
			parts: []PartitionField{{Field: "id", Transform: "void"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "void transform is not allowed"}},
		},
		{
			name:  "unknown transform",
			parts: []PartitionField{{Field: "id", Transform: "weekly"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `unknown transform "weekly"; valid transforms are identity, year`}},
		},
		{
			name:  "missing transform",
			parts: []PartitionField{{Field: "id"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: "transform is required"}},
		},
		{
			name:  "non-canonical spelling",
			parts: []PartitionField{{Field: "ts", Transform: "DAY"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `transform "DAY" must be written "day"`}},
		},
		{
			name:  "leading zero width",
			parts: []PartitionField{{Field: "id", Transform: "bucket[016]"}},
			want:  []Problem{{Field: "partitioning[0].transform", Message: `must be written "bucket[16]"`}},
		},
		{
			name: "duplicate field and transform",
			parts: []PartitionField{
				{Field: "id", Transform: "bucket[16]"},
				{Field: "email", Transform: "identity"},
				{Field: "id", Transform: "bucket[16]", Name: "again"},
			},
			want: []Problem{{Field: "partitioning[2].transform", Message: "duplicate partition field: column \"id\" with transform bucket[16] is already used by partitioning[0]"}},
		},
		{
			name: "two time transforms on one column",
			parts: []PartitionField{
				{Field: "ts", Transform: "month"},
				{Field: "ts", Transform: "hour"},
			},
			want: []Problem{{Field: "partitioning[1].transform", Message: "already partitioned by time transform month at partitioning[0]"}},
		},
		{
			name: "duplicate partition name",
			parts: []PartitionField{
				{Field: "id", Transform: "bucket[16]", Name: "part"},
				{Field: "email", Transform: "identity", Name: "PART"},
			},
			want: []Problem{{Field: "partitioning[1].name", Message: `duplicate partition name "PART"`}},
		},
		{
			name:  "default name collides with column",
			parts: []PartitionField{{Field: "ts", Transform: "day"}},
			want:  []Problem{{Field: "partitioning[0].name", Message: `partition name "ts_day" collides with column "ts_day"; only an identity partition of that column may use its name; set a different "name"`}},
		},
		{
			name:  "custom name collides with other column",
			parts: []PartitionField{{Field: "email", Transform: "identity", Name: "id"}},
			want:  []Problem{{Field: "partitioning[0].name", Message: `partition name "id" collides with column "id"`}},
		},
		{
			name:  "non-identity named after its source",
			parts: []PartitionField{{Field: "ts", Transform: "hour", Name: "ts"}},
			want:  []Problem{{Field: "partitioning[0].name", Message: `partition name "ts" collides with column "ts"`}},
		},
		{
			name:  "invalid custom name",
			parts: []PartitionField{{Field: "id", Transform: "identity", Name: "a/b"}},
			want:  []Problem{{Field: "partitioning[0].name", Message: `invalid name "a/b"`}},
		},
		{
			name: "every problem is reported",
			parts: []PartitionField{
				{Field: "nope", Transform: "day"},
				{Field: "email", Transform: "day"},
				{Field: "id", Transform: "bucket[0]"},
				{Field: "email", Transform: "truncate[x]"},
				{Field: "id", Transform: "void"},
				{Field: "address.city", Transform: "identity"},
				{Field: "ts", Transform: "day", Name: "x"},
				{Field: "ts", Transform: "day", Name: "y"},
			},
			want: []Problem{
				{Field: "partitioning[0].field", Message: "unknown column"},
				{Field: "partitioning[1].transform", Message: "cannot be applied"},
				{Field: "partitioning[2].transform", Message: "bucket[N]"},
				{Field: "partitioning[3].transform", Message: "truncate[W]"},
				{Field: "partitioning[4].transform", Message: "void"},
				{Field: "partitioning[5].field", Message: "top-level"},
				{Field: "partitioning[7].transform", Message: "duplicate partition field"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PartitionSpec(sc, tt.parts)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Problems, len(tt.want), "problems: %v", verr.Problems)
			for i, want := range tt.want {
				require.Equal(t, want.Field, verr.Problems[i].Field)
				require.Contains(t, verr.Problems[i].Message, want.Message)
			}
		})
	}
}

func TestPartitionSpecIdentityNamedAfterSource(t *testing.T) {
	sc := partitionTestSchema(t)
	spec, err := PartitionSpec(sc, []PartitionField{
		{Field: "email", Transform: "identity", Name: "email"},
		{Field: "ts", Transform: "hour", Name: "hourly"},
		{Field: "id", Transform: "truncate[1000]"},
	})
	require.NoError(t, err)
	require.Equal(t, 3, spec.NumFields())
	require.Equal(t, []int{1000, 1001, 1002}, []int{spec.Field(0).FieldID, spec.Field(1).FieldID, spec.Field(2).FieldID})
	require.Equal(t, []PartitionField{
		{Field: "email", Transform: "identity"},
		{Field: "ts", Transform: "hour", Name: "hourly"},
		{Field: "id", Transform: "truncate[1000]"},
	}, PartitionFieldsFromIceberg(sc, spec))
}

func TestPartitionFieldsFromIcebergEdgeCases(t *testing.T) {
	sc := partitionTestSchema(t)
	spec := iceberg.NewPartitionSpecID(3,
		iceberg.PartitionField{SourceIDs: []int{2}, FieldID: 1000, Name: "ts_day_old", Transform: iceberg.VoidTransform{}},
		iceberg.PartitionField{SourceIDs: []int{1}, FieldID: 1001, Name: "id_bucket_8", Transform: iceberg.BucketTransform{NumBuckets: 8}},
		iceberg.PartitionField{SourceIDs: []int{99}, FieldID: 1002, Name: "gone", Transform: iceberg.IdentityTransform{}},
	)
	require.Equal(t, []PartitionField{
		{Field: "id", Transform: "bucket[8]"},
		{Field: "<missing field 99>", Transform: "identity", Name: "gone"},
	}, PartitionFieldsFromIceberg(sc, spec))
}

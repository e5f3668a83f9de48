package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzSchemaJSON(f *testing.F) {
	seeds := []string{
		exampleSchemaJSON,
		`{"fields":[]}`,
		`{"fields":null}`,
		`{}`,
		`{"fields":[{"name":"a","type":"varchar"}]}`,
		`{"fields":[{"name":"a","type":"decimal(40,2)"},{"name":"A","type":"decimal(5,6)"}]}`,
		`{"fields":[{"name":"a","type":"decimal( 10 , 2 )","doc":"x"}]}`,
		`{"fields":[{"name":"m","type":{"type":"map","key":{"type":"struct","fields":[{"name":"k","type":"int"}]},"value":"long"}}]}`,
		`{"fields":[{"name":"l","type":{"type":"list","element":{"type":"list","element":{"type":"map","key":"date","value":{"type":"struct","fields":[{"name":"z","type":"uuid","required":true}]},"value_required":true}},"element_required":true}}]}`,
		`{"fields":[{"name":"s","type":{"type":"struct","fields":[]}}]}`,
		`{"fields":[{"name":"a"},{"type":"int"}]}`,
		`{"fields":[{"name":"deep","type":` + strings.Repeat(`{"type":"list","element":`, 17) + `"int"` + strings.Repeat(`}`, 17) + `}]}`,
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var s Schema
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}

		// Whatever decoded re-encodes and decodes to the same value.
		encoded, err := json.Marshal(s)
		require.NoError(t, err)
		var decoded Schema
		require.NoError(t, json.Unmarshal(encoded, &decoded))
		require.Equal(t, s, decoded)

		validateErr := s.Validate()
		sc, err := s.ToIceberg()
		if validateErr != nil {
			require.Nil(t, sc)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.NotEmpty(t, verr.Problems)
			for _, p := range verr.Problems {
				require.True(t, strings.HasPrefix(p.Field, "schema.fields"), "problem path %q", p.Field)
				require.NotEmpty(t, p.Message)
			}

			return
		}
		require.NoError(t, err)
		require.Equal(t, 0, sc.ID)

		back := SchemaFromIceberg(sc)
		again, err := back.ToIceberg()
		require.NoError(t, err)
		require.True(t, sc.Equals(again), "round trip changed the schema:\n%s\n%s", sc, again)

		next, last, changes, err := Evolve(sc, sc.HighestFieldID(), s)
		require.NoError(t, err)
		require.Same(t, sc, next)
		require.Equal(t, sc.HighestFieldID(), last)
		require.Empty(t, changes)
		require.Empty(t, CheckCompatible(sc, again))
	})
}

func FuzzPartitionTransform(f *testing.F) {
	seeds := [][3]string{
		{"ts", "day", ""},
		{"ts", "hour", "hourly"},
		{"d", "month", ""},
		{"id", "bucket[16]", ""},
		{"uid", "bucket[2147483647]", ""},
		{"email", "truncate[4]", ""},
		{"email", "identity", "email"},
		{"id", "bucket[0]", ""},
		{"id", "bucket[-1]", ""},
		{"email", "truncate[x]", ""},
		{"id", "void", ""},
		{"address.city", "identity", ""},
		{"tags", "identity", ""},
		{"ts", "DAY", ""},
		{"ts", "day", "ts_day"},
		{"", "", ""},
	}
	for _, seed := range seeds {
		f.Add(seed[0], seed[1], seed[2])
	}
	sc := partitionTestSchema(f)

	f.Fuzz(func(t *testing.T, field, transform, name string) {
		parts := []PartitionField{{Field: field, Transform: transform, Name: name}}
		spec, err := PartitionSpec(sc, parts)
		if err != nil {
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.NotEmpty(t, verr.Problems)
			for _, p := range verr.Problems {
				require.True(t, strings.HasPrefix(p.Field, "partitioning[0]."), "problem path %q", p.Field)
				require.NotEmpty(t, p.Message)
			}

			return
		}
		require.Equal(t, 0, spec.ID())
		require.Equal(t, 1, spec.NumFields())
		pf := spec.Field(0)
		require.Equal(t, 1000, pf.FieldID)
		require.Equal(t, transform, pf.Transform.String())
		if name != "" {
			require.Equal(t, name, pf.Name)
		}
		source, ok := sc.FindFieldByID(pf.SourceID())
		require.True(t, ok)
		require.Equal(t, field, source.Name)
		require.True(t, pf.Transform.CanTransform(source.Type))

		back := PartitionFieldsFromIceberg(sc, spec)
		require.Len(t, back, 1)
		require.Equal(t, field, back[0].Field)
		require.Equal(t, transform, back[0].Transform)
		again, err := PartitionSpec(sc, back)
		require.NoError(t, err)
		require.True(t, spec.Equals(again))
	})
}

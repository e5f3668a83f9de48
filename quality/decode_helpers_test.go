package quality

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"
)

// icebergArrow derives the Arrow schema of cols the way the caller does:
// an Iceberg schema with field ids assigned depth first (as the catalog
// assigns them), converted by iceberg-go with field ids and small types.
func icebergArrow(t testing.TB, cols []Column) *arrow.Schema {
	t.Helper()
	id := 0
	next := func() int { id++; return id }
	var fieldsOf func([]Column) []iceberg.NestedField
	var typeOf func(Column) iceberg.Type
	typeOf = func(c Column) iceberg.Type {
		switch c.Type {
		case "struct":
			return &iceberg.StructType{FieldList: fieldsOf(c.Fields)}
		case "list":
			elemID := next()
			return &iceberg.ListType{ElementID: elemID, Element: typeOf(*c.Element), ElementRequired: c.Element.Required}
		case "map":
			keyID, valueID := next(), next()
			return &iceberg.MapType{KeyID: keyID, KeyType: typeOf(*c.Key), ValueID: valueID,
				ValueType: typeOf(*c.Value), ValueRequired: c.Value.Required}
		}
		switch c.Type {
		case "boolean":
			return iceberg.PrimitiveTypes.Bool
		case "int":
			return iceberg.PrimitiveTypes.Int32
		case "long":
			return iceberg.PrimitiveTypes.Int64
		case "float":
			return iceberg.PrimitiveTypes.Float32
		case "double":
			return iceberg.PrimitiveTypes.Float64
		case "string":
			return iceberg.PrimitiveTypes.String
		case "binary":
			return iceberg.PrimitiveTypes.Binary
		case "date":
			return iceberg.PrimitiveTypes.Date
		case "time":
			return iceberg.PrimitiveTypes.Time
		case "timestamp":
			return iceberg.PrimitiveTypes.Timestamp
		case "timestamptz":
			return iceberg.PrimitiveTypes.TimestampTz
		case "uuid":
			return iceberg.PrimitiveTypes.UUID
		}
		p, s, err := parseDecimalType(c.Type)
		require.NoError(t, err)
		return iceberg.DecimalTypeOf(p, s)
	}
	fieldsOf = func(cols []Column) []iceberg.NestedField {
		out := make([]iceberg.NestedField, len(cols))
		for i, c := range cols {
			fid := next()
			out[i] = iceberg.NestedField{ID: fid, Name: c.Name, Type: typeOf(c), Required: c.Required}
		}
		return out
	}
	sc := iceberg.NewSchema(0, fieldsOf(cols)...)
	as, err := table.SchemaToArrowSchema(sc, nil, true, false)
	require.NoError(t, err)
	return as
}

func newTestDecoder(t testing.TB, cols []Column, rules []Rule, opts DecodeOptions) *Decoder {
	t.Helper()
	d, err := NewDecoder(cols, icebergArrow(t, cols), rules, opts)
	require.NoError(t, err)
	return d
}

// decodeOK decodes body, which must not be refused, and checks the
// invariants of every batch. The record is released when the test ends.
func decodeOK(t testing.TB, d *Decoder, body, format string) *Batch {
	t.Helper()
	b, err := d.Decode(strings.NewReader(body), format)
	require.NoError(t, err)
	t.Cleanup(b.Record.Release)
	checkBatch(t, b)
	return b
}

func checkBatch(t testing.TB, b *Batch) {
	t.Helper()
	require.NotNil(t, b.Record)
	require.EqualValues(t, b.Accepted, b.Record.NumRows())
	for i, col := range b.Record.Columns() {
		require.NoError(t, array.ValidateFull(col), "column %d", i)
	}
	last := -1
	for _, r := range b.Rejections {
		require.Greater(t, r.Index, last)
		last = r.Index
		require.NotEmpty(t, r.Reasons)
		require.NotEmpty(t, r.Raw)
		for _, v := range r.Reasons {
			require.Equal(t, r.Index, v.Index)
			require.NotEmpty(t, v.Rule)
			require.NotEmpty(t, v.Reason)
		}
	}
}

// decodeErr decodes body, which must be refused, and returns the error.
func decodeErr(t testing.TB, d *Decoder, body, format string) error {
	t.Helper()
	b, err := d.Decode(strings.NewReader(body), format)
	require.Error(t, err)
	require.Nil(t, b)
	return err
}

// cell renders one value of an Arrow array as a Go value: decimals as
// strings at their scale, dates as "YYYY-MM-DD", times as durations,
// timestamps as UTC times, uuids in canonical form, structs as maps, lists
// as slices and maps as slices of [key, value] pairs.
func cell(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Binary:
		return append([]byte{}, a.Value(i)...)
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Time64:
		return time.Duration(a.Value(i)) * time.Microsecond
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	case array.ExtensionArray:
		return cell(a.Storage(), i)
	case *array.FixedSizeBinary:
		b := a.Value(i)
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := map[string]any{}
		for j := range st.NumFields() {
			m[st.Field(j).Name] = cell(a.Field(j), i)
		}
		return m
	case *array.Map:
		start, end := a.ValueOffsets(i)
		out := [][2]any{}
		for j := start; j < end; j++ {
			out = append(out, [2]any{cell(a.Keys(), int(j)), cell(a.Items(), int(j))})
		}
		return out
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for j := start; j < end; j++ {
			out = append(out, cell(a.ListValues(), int(j)))
		}
		return out
	}
	panic(fmt.Sprintf("cell: unsupported array %T", arr))
}

// rows renders every accepted record as a map of column name to cell.
func rows(rec arrow.Record) []map[string]any {
	out := make([]map[string]any, rec.NumRows())
	for i := range out {
		out[i] = map[string]any{}
		for j, col := range rec.Columns() {
			out[i][rec.ColumnName(j)] = cell(col, i)
		}
	}
	return out
}

// reasonsOf returns the (field, rule) pairs of a rejection.
func reasonsOf(r Rejection) [][2]string {
	out := make([][2]string, len(r.Reasons))
	for i, v := range r.Reasons {
		out[i] = [2]string{v.Field, v.Rule}
	}
	return out
}

// genReader produces head, then count copies of rec separated by sep, then
// tail, without holding the body in memory.
type genReader struct {
	head, rec, sep, tail string
	count                int
	pending              string
	emitted              int
	read                 int64
	done                 bool
}

func (g *genReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.pending == "" {
			switch {
			case g.head != "":
				g.pending, g.head = g.head, ""
			case g.emitted < g.count:
				g.pending = g.rec
				if g.emitted < g.count-1 {
					g.pending += g.sep
				}
				g.emitted++
			case !g.done:
				g.pending, g.done = g.tail, true
			}
			if g.pending == "" {
				if n == 0 {
					return 0, io.EOF
				}
				break
			}
		}
		k := copy(p[n:], g.pending)
		g.pending = g.pending[k:]
		n += k
	}
	g.read += int64(n)
	return n, nil
}

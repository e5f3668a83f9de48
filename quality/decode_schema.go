package quality

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

type colKind uint8

const (
	kBool colKind = iota + 1
	kInt
	kLong
	kFloat
	kDouble
	kDecimal
	kString
	kBinary
	kDate
	kTime
	kTimestamp
	kTimestampTZ
	kUUID
	kStruct
	kList
	kMap
)

var primitiveKinds = map[string]colKind{
	"boolean": kBool, "int": kInt, "long": kLong, "float": kFloat, "double": kDouble,
	"string": kString, "binary": kBinary, "date": kDate, "time": kTime,
	"timestamp": kTimestamp, "timestamptz": kTimestampTZ, "uuid": kUUID,
}

// maxColumnDepth bounds the nesting of the column tree.
const maxColumnDepth = 64

// colNode is a compiled Column.
type colNode struct {
	name        string
	typ         string
	kind        colKind
	required    bool
	prec, scale int // decimal

	// path names the column in violations; "[]" marks the position in an
	// enclosing list or map, filled in when reporting. marks counts them.
	path  string
	marks int

	fields []*colNode // struct; a map's entry struct holds key and value
	byName map[string]int
	elem   *colNode // list
	entry  *colNode // map: the {"key","value"} entry struct
	key    *colNode // map
	value  *colNode // map

	typeReason      string
	rangeReason     string
	precisionReason string
}

// lookup returns the index of the field named key, trying hint first, or -1.
func (n *colNode) lookup(key []byte, hint int) int {
	if hint < len(n.fields) && n.fields[hint].name == string(key) {
		return hint
	}
	if n.byName != nil {
		if i, ok := n.byName[string(key)]; ok {
			return i
		}
		return -1
	}
	for i, f := range n.fields {
		if f.name == string(key) {
			return i
		}
	}
	return -1
}

func compileColumns(cols []Column) (*colNode, error) {
	if len(cols) == 0 {
		return nil, errors.New("no columns")
	}
	fields, err := compileFields(cols, "", 0, 1)
	if err != nil {
		return nil, err
	}
	root := &colNode{kind: kStruct, typ: "struct", required: true, fields: fields}
	root.index()
	return root, nil
}

func (n *colNode) index() {
	if len(n.fields) > 8 {
		n.byName = make(map[string]int, len(n.fields))
		for i, f := range n.fields {
			n.byName[f.name] = i
		}
	}
}

func compileFields(cols []Column, prefix string, marks, depth int) ([]*colNode, error) {
	out := make([]*colNode, len(cols))
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		path := c.Name
		if prefix != "" {
			path = prefix + "." + c.Name
		}
		if c.Name == "" || strings.ContainsAny(c.Name, ".[]") {
			return nil, fmt.Errorf("column %q: invalid name", path)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("column %q: duplicate name", path)
		}
		seen[c.Name] = true
		n, err := compileColumn(c, path, marks, depth)
		if err != nil {
			return nil, err
		}
		n.name = c.Name
		out[i] = n
	}
	return out, nil
}

func compileColumn(c Column, path string, marks, depth int) (*colNode, error) {
	if depth > maxColumnDepth {
		return nil, fmt.Errorf("column %q: nested more than %d levels", path, maxColumnDepth)
	}
	n := &colNode{typ: c.Type, required: c.Required, path: path, marks: marks}
	if c.Type != "struct" && len(c.Fields) > 0 || c.Type != "list" && c.Element != nil ||
		c.Type != "map" && (c.Key != nil || c.Value != nil) {
		return nil, fmt.Errorf("column %q: nested columns do not fit type %q", path, c.Type)
	}
	switch c.Type {
	case "struct":
		if len(c.Fields) == 0 {
			return nil, fmt.Errorf("column %q: struct without fields", path)
		}
		fields, err := compileFields(c.Fields, path, marks, depth+1)
		if err != nil {
			return nil, err
		}
		n.kind, n.fields = kStruct, fields
		n.index()
		n.typeReason = "value must be a JSON object"
	case "list":
		if c.Element == nil {
			return nil, fmt.Errorf("column %q: list without element", path)
		}
		elem, err := compileColumn(*c.Element, path+"[]", marks+1, depth+1)
		if err != nil {
			return nil, err
		}
		elem.name = "element"
		n.kind, n.elem = kList, elem
		n.typeReason = "value must be a JSON array"
	case "map":
		if c.Key == nil || c.Value == nil {
			return nil, fmt.Errorf("column %q: map without key or value", path)
		}
		if _, ok := primitiveKinds[c.Key.Type]; !ok && !strings.HasPrefix(c.Key.Type, "decimal") {
			return nil, fmt.Errorf("column %q: map key must be a primitive type, got %q", path, c.Key.Type)
		}
		key, err := compileColumn(*c.Key, path+"[].key", marks+1, depth+1)
		if err != nil {
			return nil, err
		}
		value, err := compileColumn(*c.Value, path+"[].value", marks+1, depth+1)
		if err != nil {
			return nil, err
		}
		key.name, key.required, value.name = "key", true, "value"
		n.kind, n.key, n.value = kMap, key, value
		n.entry = &colNode{typ: "struct", kind: kStruct, required: true, path: path + "[]", marks: marks + 1,
			fields: []*colNode{key, value}}
		if key.kind == kString {
			n.typeReason = `value must be a JSON object, or an array of {"key": ..., "value": ...} objects`
		} else {
			n.typeReason = `value must be a JSON array of {"key": ..., "value": ...} objects (map keys of type ` +
				key.typ + ` are not JSON object keys)`
		}
	default:
		if err := n.setPrimitive(c.Type); err != nil {
			return nil, fmt.Errorf("column %q: %w", path, err)
		}
	}
	return n, nil
}

func (n *colNode) setPrimitive(typ string) error {
	kind, ok := primitiveKinds[typ]
	if !ok {
		p, s, err := parseDecimalType(typ)
		if err != nil {
			return err
		}
		kind, n.prec, n.scale = kDecimal, p, s
	}
	n.kind = kind
	switch kind {
	case kBool:
		n.typeReason = "value must be true or false"
	case kInt:
		n.typeReason = "value must be an integer (a JSON number)"
		n.rangeReason = "value is outside the int range (-2147483648 to 2147483647)"
	case kLong:
		n.typeReason = "value must be an integer (a JSON number)"
		n.rangeReason = "value is outside the long range (-9223372036854775808 to 9223372036854775807)"
	case kFloat:
		n.typeReason = "value must be a JSON number"
		n.rangeReason = "value is beyond the float range"
	case kDouble:
		n.typeReason = "value must be a JSON number"
		n.rangeReason = "value is beyond the double range"
	case kDecimal:
		n.typeReason = "value must be a decimal number (a JSON number or a numeric string)"
		n.rangeReason = fmt.Sprintf("value has more than %d integer digits (%s)", n.prec-n.scale, typ)
		n.precisionReason = fmt.Sprintf("value has more than %d fractional digits (%s)", n.scale, typ)
	case kString:
		n.typeReason = "value must be a JSON string"
	case kBinary:
		n.typeReason = "value must be a base64 string"
	case kDate:
		n.typeReason = "value must be a date string YYYY-MM-DD"
	case kTime:
		n.typeReason = "value must be a time string HH:MM:SS[.ffffff]"
	case kTimestamp:
		n.typeReason = "value must be a timestamp string YYYY-MM-DDTHH:MM:SS[.ffffff] without offset, or epoch milliseconds"
	case kTimestampTZ:
		n.typeReason = "value must be an RFC 3339 timestamp string with a UTC offset, or epoch milliseconds"
	case kUUID:
		n.typeReason = "value must be a UUID string (8-4-4-4-12 hex digits)"
	}
	return nil
}

// parseDecimalType parses "decimal(p,s)", spaces around p and s allowed.
func parseDecimalType(typ string) (p, s int, err error) {
	bad := fmt.Errorf("unknown type %q", typ)
	inner, ok := strings.CutPrefix(typ, "decimal(")
	if !ok {
		return 0, 0, bad
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return 0, 0, bad
	}
	ps, ss, ok := strings.Cut(inner, ",")
	if !ok {
		return 0, 0, bad
	}
	p, err1 := strconv.Atoi(strings.TrimSpace(ps))
	s, err2 := strconv.Atoi(strings.TrimSpace(ss))
	if err1 != nil || err2 != nil || p < 1 || p > 38 || s < 0 || s > p {
		return 0, 0, fmt.Errorf("invalid decimal type %q: precision must be 1 to 38 and scale 0 to the precision", typ)
	}
	return p, s, nil
}

// columnFieldType resolves dotted paths through struct columns, as the
// catalog's Schema.FieldType does, for Validate.
func columnFieldType(cols []Column) FieldType {
	return func(path string) (string, bool) {
		fields := cols
		parts := strings.Split(path, ".")
		for i, part := range parts {
			var found *Column
			for j := range fields {
				if fields[j].Name == part {
					found = &fields[j]
					break
				}
			}
			if found == nil {
				return "", false
			}
			if i == len(parts)-1 {
				return found.Type, true
			}
			if found.Type != "struct" {
				return "", false
			}
			fields = found.Fields
		}
		return "", false
	}
}

// checkArrowSchema checks that the Arrow schema holds the columns.
func checkArrowSchema(root *colNode, sc *arrow.Schema) error {
	if sc.NumFields() != len(root.fields) {
		return fmt.Errorf("%d arrow fields for %d columns", sc.NumFields(), len(root.fields))
	}
	for i, n := range root.fields {
		if err := checkField(n, sc.Field(i), true); err != nil {
			return err
		}
	}
	return nil
}

func checkField(n *colNode, f arrow.Field, checkName bool) error {
	if checkName && f.Name != n.name {
		return fmt.Errorf("column %q: arrow field is named %q", n.path, f.Name)
	}
	if !f.Nullable && !n.required {
		return fmt.Errorf("column %q: optional, but the arrow field is not nullable", n.path)
	}
	dt := f.Type
	ok := false
	switch n.kind {
	case kBool:
		ok = dt.ID() == arrow.BOOL
	case kInt:
		ok = dt.ID() == arrow.INT32
	case kLong:
		ok = dt.ID() == arrow.INT64
	case kFloat:
		ok = dt.ID() == arrow.FLOAT32
	case kDouble:
		ok = dt.ID() == arrow.FLOAT64
	case kDecimal:
		t, is := dt.(*arrow.Decimal128Type)
		ok = is && int(t.Precision) == n.prec && int(t.Scale) == n.scale
	case kString:
		ok = dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
	case kBinary:
		ok = dt.ID() == arrow.BINARY || dt.ID() == arrow.LARGE_BINARY
	case kDate:
		ok = dt.ID() == arrow.DATE32
	case kTime:
		t, is := dt.(*arrow.Time64Type)
		ok = is && t.Unit == arrow.Microsecond
	case kTimestamp, kTimestampTZ:
		t, is := dt.(*arrow.TimestampType)
		ok = is && t.Unit == arrow.Microsecond && (t.TimeZone != "") == (n.kind == kTimestampTZ)
	case kUUID:
		if ext, is := dt.(arrow.ExtensionType); is {
			dt = ext.StorageType()
		}
		t, is := dt.(*arrow.FixedSizeBinaryType)
		ok = is && t.ByteWidth == 16
	case kStruct:
		t, is := dt.(*arrow.StructType)
		if ok = is && t.NumFields() == len(n.fields); ok {
			for j, c := range n.fields {
				if err := checkField(c, t.Field(j), true); err != nil {
					return err
				}
			}
		}
	case kList:
		var elem arrow.Field
		switch t := dt.(type) {
		case *arrow.ListType:
			elem, ok = t.ElemField(), true
		case *arrow.LargeListType:
			elem, ok = t.ElemField(), true
		}
		if ok {
			if err := checkField(n.elem, elem, false); err != nil {
				return err
			}
		}
	case kMap:
		t, is := dt.(*arrow.MapType)
		if ok = is; ok {
			if err := checkField(n.key, t.KeyField(), false); err != nil {
				return err
			}
			if err := checkField(n.value, t.ItemField(), false); err != nil {
				return err
			}
		}
	}
	if !ok {
		return fmt.Errorf("column %q of type %s: arrow type %s does not match", n.path, n.typ, dt)
	}
	return nil
}

// deriveArrowSchema builds the Arrow schema iceberg-go would derive for the
// columns, without field ids. A uuid column is of the arrow.uuid extension
// type when it is registered (iceberg-go's table package imports it), else
// fixed_size_binary(16).
func deriveArrowSchema(root *colNode) *arrow.Schema {
	fields := make([]arrow.Field, len(root.fields))
	for i, n := range root.fields {
		fields[i] = arrowField(n)
	}
	return arrow.NewSchema(fields, nil)
}

func arrowField(n *colNode) arrow.Field {
	return arrow.Field{Name: n.name, Type: arrowType(n), Nullable: !n.required}
}

func arrowType(n *colNode) arrow.DataType {
	switch n.kind {
	case kBool:
		return arrow.FixedWidthTypes.Boolean
	case kInt:
		return arrow.PrimitiveTypes.Int32
	case kLong:
		return arrow.PrimitiveTypes.Int64
	case kFloat:
		return arrow.PrimitiveTypes.Float32
	case kDouble:
		return arrow.PrimitiveTypes.Float64
	case kDecimal:
		return &arrow.Decimal128Type{Precision: int32(n.prec), Scale: int32(n.scale)}
	case kString:
		return arrow.BinaryTypes.String
	case kBinary:
		return arrow.BinaryTypes.Binary
	case kDate:
		return arrow.FixedWidthTypes.Date32
	case kTime:
		return arrow.FixedWidthTypes.Time64us
	case kTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case kTimestampTZ:
		return arrow.FixedWidthTypes.Timestamp_us
	case kUUID:
		// The arrow.uuid extension type iceberg-go uses, registered by
		// arrow's extensions package. It is looked up rather than imported:
		// that package links Parquet and Thrift, and with them net/http.
		if t := arrow.GetExtensionType("arrow.uuid"); t != nil {
			return t
		}
		return &arrow.FixedSizeBinaryType{ByteWidth: 16}
	case kStruct:
		fields := make([]arrow.Field, len(n.fields))
		for i, c := range n.fields {
			fields[i] = arrowField(c)
		}
		return arrow.StructOf(fields...)
	case kList:
		return arrow.ListOfField(arrowField(n.elem))
	case kMap:
		return arrow.MapOfFields(arrowField(n.key), arrowField(n.value))
	}
	panic("unreachable")
}

// sink appends decoded values of one column to its Arrow builder.
type sink struct {
	kind colKind
	b    array.Builder

	boolB *array.BooleanBuilder
	i32   *array.Int32Builder
	i64   *array.Int64Builder
	f32   *array.Float32Builder
	f64   *array.Float64Builder
	dec   *array.Decimal128Builder
	bin   *array.BinaryBuilder
	fsb   *array.FixedSizeBinaryBuilder
	date  *array.Date32Builder
	tm    *array.Time64Builder
	ts    *array.TimestampBuilder
	st    *array.StructBuilder
	list  array.ListLikeBuilder
	mp    *array.MapBuilder

	children   []*sink
	elem       *sink
	key, value *sink
}

func newSink(n *colNode, b array.Builder) *sink {
	s := &sink{kind: n.kind, b: b}
	switch n.kind {
	case kBool:
		s.boolB = b.(*array.BooleanBuilder)
	case kInt:
		s.i32 = b.(*array.Int32Builder)
	case kLong:
		s.i64 = b.(*array.Int64Builder)
	case kFloat:
		s.f32 = b.(*array.Float32Builder)
	case kDouble:
		s.f64 = b.(*array.Float64Builder)
	case kDecimal:
		s.dec = b.(*array.Decimal128Builder)
	case kString:
		switch x := b.(type) {
		case *array.StringBuilder:
			s.bin = x.BinaryBuilder
		case *array.LargeStringBuilder:
			s.bin = x.BinaryBuilder
		}
	case kBinary:
		s.bin = b.(*array.BinaryBuilder)
	case kUUID:
		switch x := b.(type) {
		case *array.FixedSizeBinaryBuilder:
			s.fsb = x
		case interface{ StorageBuilder() array.Builder }:
			s.fsb = x.StorageBuilder().(*array.FixedSizeBinaryBuilder)
		}
	case kDate:
		s.date = b.(*array.Date32Builder)
	case kTime:
		s.tm = b.(*array.Time64Builder)
	case kTimestamp, kTimestampTZ:
		s.ts = b.(*array.TimestampBuilder)
	case kStruct:
		s.st = b.(*array.StructBuilder)
		s.children = make([]*sink, len(n.fields))
		for i, c := range n.fields {
			s.children[i] = newSink(c, s.st.FieldBuilder(i))
		}
	case kList:
		s.list = b.(array.ListLikeBuilder)
		s.elem = newSink(n.elem, s.list.ValueBuilder())
	case kMap:
		s.mp = b.(*array.MapBuilder)
		s.key = newSink(n.key, s.mp.KeyBuilder())
		s.value = newSink(n.value, s.mp.ItemBuilder())
	}
	return s
}

func (s *sink) append(arena []val, v *val) {
	if v.st != stSet {
		s.b.AppendNull()
		return
	}
	switch s.kind {
	case kBool:
		s.boolB.Append(v.i != 0)
	case kInt:
		s.i32.Append(int32(v.i))
	case kLong:
		s.i64.Append(v.i)
	case kFloat:
		s.f32.Append(math.Float32frombits(uint32(v.hi)))
	case kDouble:
		s.f64.Append(math.Float64frombits(uint64(v.i)))
	case kDecimal:
		s.dec.Append(decimal128.New(v.hi, uint64(v.i)))
	case kString, kBinary:
		s.bin.Append(v.b)
	case kUUID:
		s.fsb.Append(v.b)
	case kDate:
		s.date.Append(arrow.Date32(v.i))
	case kTime:
		s.tm.Append(arrow.Time64(v.i))
	case kTimestamp, kTimestampTZ:
		s.ts.Append(arrow.Timestamp(v.i))
	case kStruct:
		s.st.Append(true)
		for j, c := range s.children {
			c.append(arena, &arena[v.first+int32(j)])
		}
	case kList:
		s.list.Append(true)
		e := v.first
		for range v.n {
			s.elem.append(arena, &arena[e])
			e = arena[e].next
		}
	case kMap:
		s.mp.Append(true)
		e := v.first
		for range v.n {
			s.key.append(arena, &arena[e])
			s.value.append(arena, &arena[e+1])
			e = arena[e].next
		}
	}
}

// appendRecord appends the decoded record, whose top-level values are the
// first slots of the arena.
func (st *run) appendRecord() {
	for i, s := range st.sinks {
		s.append(st.arena, &st.arena[i])
	}
}

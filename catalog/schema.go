package catalog

import (
	"github.com/lakegate/lakegate/internal/problem"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
)

// MaxSchemaNestingDepth is the deepest chain of nested struct/list/map types a
// dataset schema may contain.
const MaxSchemaNestingDepth = 16

// schMaxNameLength is the longest column name accepted.
const schMaxNameLength = 128

// schMaxJSONDepth bounds the JSON nesting of one type value. Each nested type
// is decoded again by its parent, so decoding costs depth times size; the
// bound keeps that linear. A struct level takes three JSON levels, so the
// bound leaves room for Validate to report MaxSchemaNestingDepth violations with
// their path.
const schMaxJSONDepth = 4 * MaxSchemaNestingDepth

// schValidTypes is the list of type spellings shown when a type is unknown.
const schValidTypes = `boolean, int, long, float, double, decimal(p,s), string, binary, date, time, ` +
	`timestamp, timestamptz, uuid, or an object {"type":"struct"|"list"|"map", ...}`

// Field is one column of a dataset schema as our API spells it.
type Field struct {
	Name     string `json:"name"`
	Type     Type   `json:"type"`
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc,omitempty"`
	// Tags classify the field for policies, e.g. "pii"; they are not part of the Iceberg
	// schema (see FieldTags).
	Tags []string `json:"tags,omitempty"`
}

// Type is a primitive name ("boolean", "int", "long", "float", "double",
// "decimal(p,s)", "string", "binary", "date", "time", "timestamp",
// "timestamptz", "uuid") or a nested struct, list or map.
//
// Exactly one shape must be set: Primitive for a primitive, a non-nil Fields
// for a struct, Element for a list, Key and Value for a map. The zero Type
// means "no type" and encodes as JSON null.
//
// JSON: a string for primitives and an object for nested types:
//
//	{"type":"struct","fields":[...]}
//	{"type":"list","element":<Type>,"element_required":bool}
//	{"type":"map","key":<Type>,"value":<Type>,"value_required":bool}
type Type struct {
	Primitive       string
	Fields          []Field // struct
	Element         *Type   // list
	ElementRequired bool
	Key, Value      *Type // map
	ValueRequired   bool
}

// Schema is the column list of a dataset.
type Schema struct {
	Fields []Field `json:"fields"`
}

// Problem names one invalid piece of input by its JSON path.
type Problem = problem.Problem

// ValidationError lists every problem found in the input, not just the first.
type ValidationError = problem.List

type schTypeKind int

const (
	schKindNone schTypeKind = iota
	schKindPrimitive
	schKindStruct
	schKindList
	schKindMap
	schKindAmbiguous
)

// kind reports which shape t has. Setting parts of more than one shape
// (including a stray ElementRequired or ValueRequired) is ambiguous.
func (t Type) kind() schTypeKind {
	count := 0
	kind := schKindNone
	if t.Primitive != "" {
		count++
		kind = schKindPrimitive
	}
	if t.Fields != nil {
		count++
		kind = schKindStruct
	}
	if t.Element != nil || t.ElementRequired {
		count++
		kind = schKindList
	}
	if t.Key != nil || t.Value != nil || t.ValueRequired {
		count++
		kind = schKindMap
	}
	if count > 1 {
		return schKindAmbiguous
	}

	return kind
}

// String renders t compactly, e.g. "long", "list<string>",
// "map<string, long>" or "struct<city: string>".
func (t Type) String() string {
	switch t.kind() {
	case schKindPrimitive:
		return t.Primitive
	case schKindStruct:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = f.Name + ": " + f.Type.String()
		}

		return "struct<" + strings.Join(parts, ", ") + ">"
	case schKindList:
		if t.Element == nil {
			return "list<invalid>"
		}

		return "list<" + t.Element.String() + ">"
	case schKindMap:
		if t.Key == nil || t.Value == nil {
			return "map<invalid>"
		}

		return "map<" + t.Key.String() + ", " + t.Value.String() + ">"
	case schKindAmbiguous:
		return "invalid"
	default:
		return "none"
	}
}

type schStructJSON struct {
	Type   string  `json:"type"`
	Fields []Field `json:"fields"`
}

type schListJSON struct {
	Type            string `json:"type"`
	Element         *Type  `json:"element"`
	ElementRequired bool   `json:"element_required"`
}

type schMapJSON struct {
	Type          string `json:"type"`
	Key           *Type  `json:"key"`
	Value         *Type  `json:"value"`
	ValueRequired bool   `json:"value_required"`
}

// schNestedJSON accepts every key a nested type object may carry.
type schNestedJSON struct {
	Type            *string         `json:"type"`
	Fields          json.RawMessage `json:"fields"`
	Element         *Type           `json:"element"`
	ElementRequired *bool           `json:"element_required"`
	Key             *Type           `json:"key"`
	Value           *Type           `json:"value"`
	ValueRequired   *bool           `json:"value_required"`
}

// MarshalJSON encodes a primitive as a string, a nested type as an object and
// the zero Type as null.
func (t Type) MarshalJSON() ([]byte, error) {
	switch t.kind() {
	case schKindNone:
		return []byte("null"), nil
	case schKindPrimitive:
		return json.Marshal(t.Primitive)
	case schKindStruct:
		return json.Marshal(schStructJSON{Type: "struct", Fields: t.Fields})
	case schKindList:
		if t.Element == nil {
			return nil, errors.New("marshal list type: element type is missing")
		}

		return json.Marshal(schListJSON{Type: "list", Element: t.Element, ElementRequired: t.ElementRequired})
	case schKindMap:
		if t.Key == nil || t.Value == nil {
			return nil, errors.New("marshal map type: key or value type is missing")
		}

		return json.Marshal(schMapJSON{Type: "map", Key: t.Key, Value: t.Value, ValueRequired: t.ValueRequired})
	default:
		return nil, errors.New("marshal type: more than one of primitive, struct, list and map is set")
	}
}

// UnmarshalJSON decodes a primitive name or a nested type object. Primitive
// names are not checked here (Schema.Validate reports unknown ones with their
// path); nested objects are decoded strictly: unknown keys, keys of another
// nested kind and missing element/key/value types are errors.
func (t *Type) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var name string
		if err := json.Unmarshal(trimmed, &name); err != nil {
			return fmt.Errorf("decode primitive type name: %w", err)
		}
		*t = Type{Primitive: name}

		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("type must be a string or an object, got %s", schSnippet(trimmed))
	}

	if depth := schJSONDepth(trimmed); depth > schMaxJSONDepth {
		return fmt.Errorf("type is nested too deeply: %d JSON levels, at most %d allowed", depth, schMaxJSONDepth)
	}

	var raw schNestedJSON
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("decode nested type: %w", err)
	}
	if raw.Type == nil {
		return errors.New(`nested type object requires "type": one of "struct", "list", "map"`)
	}

	switch *raw.Type {
	case "struct":
		return t.unmarshalStruct(raw)
	case "list":
		return t.unmarshalList(raw)
	case "map":
		return t.unmarshalMap(raw)
	default:
		return fmt.Errorf(`unknown nested type %q: must be one of "struct", "list", "map"`, *raw.Type)
	}
}

func (t *Type) unmarshalStruct(raw schNestedJSON) error {
	if raw.Element != nil || raw.ElementRequired != nil || raw.Key != nil || raw.Value != nil || raw.ValueRequired != nil {
		return errors.New(`struct type allows only "type" and "fields"`)
	}
	fields := []Field{}
	fieldsJSON := bytes.TrimSpace(raw.Fields)
	if len(fieldsJSON) > 0 && !bytes.Equal(fieldsJSON, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(fieldsJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fields); err != nil {
			return fmt.Errorf("decode struct fields: %w", err)
		}
		if fields == nil {
			fields = []Field{}
		}
	}
	*t = Type{Fields: fields}

	return nil
}

func (t *Type) unmarshalList(raw schNestedJSON) error {
	if raw.Fields != nil || raw.Key != nil || raw.Value != nil || raw.ValueRequired != nil {
		return errors.New(`list type allows only "type", "element" and "element_required"`)
	}
	if raw.Element == nil {
		return errors.New(`list type requires "element"`)
	}
	next := Type{Element: raw.Element}
	if raw.ElementRequired != nil {
		next.ElementRequired = *raw.ElementRequired
	}
	*t = next

	return nil
}

func (t *Type) unmarshalMap(raw schNestedJSON) error {
	if raw.Fields != nil || raw.Element != nil || raw.ElementRequired != nil {
		return errors.New(`map type allows only "type", "key", "value" and "value_required"`)
	}
	if raw.Key == nil || raw.Value == nil {
		return errors.New(`map type requires "key" and "value"`)
	}
	next := Type{Key: raw.Key, Value: raw.Value}
	if raw.ValueRequired != nil {
		next.ValueRequired = *raw.ValueRequired
	}
	*t = next

	return nil
}

// schJSONDepth returns the deepest nesting of objects and arrays in b,
// skipping string contents.
func schJSONDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}

	return deepest
}

// schSnippet shortens raw JSON for error messages.
func schSnippet(b []byte) string {
	const limit = 32
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}

	return string(b)
}

// Validate checks the schema and returns a *ValidationError listing every
// problem, or nil. Paths start with "schema.fields".
func (s Schema) Validate() error {
	verr := &ValidationError{}
	if len(s.Fields) == 0 {
		verr.Add("schema.fields", "schema must have at least one field")

		return verr
	}
	schValidateFields(verr, "schema.fields", s.Fields, 0)

	return verr.Err()
}

// schValidateFields checks one struct level. depth is the number of nested
// types enclosing the fields (0 at the top level).
func schValidateFields(verr *ValidationError, path string, fields []Field, depth int) {
	seen := make(map[string]int, len(fields))
	for i, f := range fields {
		fieldPath := fmt.Sprintf("%s[%d]", path, i)
		if msg := schCheckName(f.Name); msg != "" {
			verr.Add(fieldPath+".name", "%s", msg)
		} else {
			folded := strings.ToLower(f.Name)
			if first, dup := seen[folded]; dup {
				verr.Add(fieldPath+".name", "duplicate column name %q (names are case-insensitive): already used by %s[%d]",
					f.Name, path, first)
			} else {
				seen[folded] = i
			}
		}
		schValidateType(verr, fieldPath+".type", f.Type, depth)
	}
}

// schValidateType checks t found at path, inside depth enclosing nested types.
func schValidateType(verr *ValidationError, path string, t Type, depth int) {
	kind := t.kind()
	if kind == schKindStruct || kind == schKindList || kind == schKindMap {
		if depth+1 > MaxSchemaNestingDepth {
			verr.Add(path, "nesting depth exceeds the maximum of %d nested types", MaxSchemaNestingDepth)

			return
		}
	}

	switch kind {
	case schKindNone:
		verr.Add(path, "type is required")
	case schKindAmbiguous:
		verr.Add(path, "type must be exactly one of a primitive name, a struct, a list or a map")
	case schKindPrimitive:
		schValidatePrimitive(verr, path, t.Primitive)
	case schKindStruct:
		if len(t.Fields) == 0 {
			verr.Add(path+".fields", "struct type must have at least one field")

			return
		}
		schValidateFields(verr, path+".fields", t.Fields, depth+1)
	case schKindList:
		if t.Element == nil {
			verr.Add(path+".element", "list type requires an element type")

			return
		}
		schValidateType(verr, path+".element", *t.Element, depth+1)
	case schKindMap:
		if t.Key == nil {
			verr.Add(path+".key", "map type requires a key type")
		} else if t.Key.kind() != schKindPrimitive {
			verr.Add(path+".key", "map key must be a primitive type, got %s", t.Key.String())
		} else {
			schValidatePrimitive(verr, path+".key", t.Key.Primitive)
		}
		if t.Value == nil {
			verr.Add(path+".value", "map type requires a value type")
		} else {
			schValidateType(verr, path+".value", *t.Value, depth+1)
		}
	}
}

func schValidatePrimitive(verr *ValidationError, path, name string) {
	if _, ok := schSimplePrimitive(name); ok {
		return
	}
	if !strings.HasPrefix(name, "decimal") {
		verr.Add(path, "unknown type %q; valid types are %s", name, schValidTypes)

		return
	}
	if _, _, msgs := schParseDecimal(name); len(msgs) > 0 {
		for _, msg := range msgs {
			verr.Add(path, "%s", msg)
		}
	}
}

// schCheckName returns an empty string when name is a valid column name and a
// message otherwise. Valid names match ^[A-Za-z_][A-Za-z0-9_]{0,127}$.
func schCheckName(name string) string {
	if name == "" {
		return "name is required"
	}
	if len(name) > schMaxNameLength {
		return fmt.Sprintf("name must be at most %d characters, got %d", schMaxNameLength, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
		digit := c >= '0' && c <= '9'
		if letter || (digit && i > 0) {
			continue
		}

		return fmt.Sprintf("invalid name %q: must start with a letter or underscore and contain only letters, digits and underscores",
			name)
	}

	return ""
}

// schSimplePrimitive maps a non-decimal primitive name to its Iceberg type.
func schSimplePrimitive(name string) (iceberg.Type, bool) {
	switch name {
	case "boolean":
		return iceberg.PrimitiveTypes.Bool, true
	case "int":
		return iceberg.PrimitiveTypes.Int32, true
	case "long":
		return iceberg.PrimitiveTypes.Int64, true
	case "float":
		return iceberg.PrimitiveTypes.Float32, true
	case "double":
		return iceberg.PrimitiveTypes.Float64, true
	case "string":
		return iceberg.PrimitiveTypes.String, true
	case "binary":
		return iceberg.PrimitiveTypes.Binary, true
	case "date":
		return iceberg.PrimitiveTypes.Date, true
	case "time":
		return iceberg.PrimitiveTypes.Time, true
	case "timestamp":
		return iceberg.PrimitiveTypes.Timestamp, true
	case "timestamptz":
		return iceberg.PrimitiveTypes.TimestampTz, true
	case "uuid":
		return iceberg.PrimitiveTypes.UUID, true
	default:
		return nil, false
	}
}

// schParseDecimal parses "decimal(p,s)" (spaces around p and s allowed) and
// returns the problems found, if any.
func schParseDecimal(name string) (precision, scale int, problems []string) {
	malformed := []string{fmt.Sprintf("malformed decimal type %q: expected decimal(p,s), e.g. decimal(10,2)", name)}
	inner, ok := strings.CutPrefix(name, "decimal(")
	if !ok {
		return 0, 0, malformed
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok {
		return 0, 0, malformed
	}
	precText, scaleText, ok := strings.Cut(inner, ",")
	if !ok {
		return 0, 0, malformed
	}
	precText = strings.TrimSpace(precText)
	scaleText = strings.TrimSpace(scaleText)
	if !schAllDigits(precText) || !schAllDigits(scaleText) {
		return 0, 0, malformed
	}

	precision, precErr := strconv.Atoi(precText)
	if precErr != nil || precision < 1 || precision > 38 {
		problems = append(problems, fmt.Sprintf("decimal precision must be between 1 and 38, got %s", precText))
	}
	scale, scaleErr := strconv.Atoi(scaleText)
	if scaleErr != nil || (precErr == nil && scale > precision) {
		problems = append(problems, fmt.Sprintf("decimal scale must be between 0 and the precision (%s), got %s",
			precText, scaleText))
	}

	return precision, scale, problems
}

func schAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}

	return true
}

// schPrimitiveToIceberg converts a primitive name to its Iceberg type.
func schPrimitiveToIceberg(name string) (iceberg.Type, error) {
	if t, ok := schSimplePrimitive(name); ok {
		return t, nil
	}
	if !strings.HasPrefix(name, "decimal") {
		return nil, fmt.Errorf("unknown type %q", name)
	}
	precision, scale, problems := schParseDecimal(name)
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid decimal type %q: %s", name, strings.Join(problems, "; "))
	}

	return iceberg.DecimalTypeOf(precision, scale), nil
}

// schIDAllocator hands out increasing field ids after last.
type schIDAllocator struct {
	last int
}

func (a *schIDAllocator) next() int {
	a.last++

	return a.last
}

// schBuildFields converts fields to Iceberg fields with fresh ids, depth
// first: a field takes the next id, then its nested type takes the following
// ones before the next sibling. This is the order iceberg.AssignFreshSchemaIDs
// uses.
func schBuildFields(fields []Field, ids *schIDAllocator) ([]iceberg.NestedField, error) {
	out := make([]iceberg.NestedField, len(fields))
	for i, f := range fields {
		id := ids.next()
		typ, err := schBuildType(f.Type, ids)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
		out[i] = iceberg.NestedField{ID: id, Name: f.Name, Type: typ, Required: f.Required, Doc: f.Doc}
	}

	return out, nil
}

// schBuildType converts t to an Iceberg type with fresh ids. A list takes
// one id for its element, a map two ids (key, then value), before the ids of
// their nested types.
func schBuildType(t Type, ids *schIDAllocator) (iceberg.Type, error) {
	switch t.kind() {
	case schKindPrimitive:
		return schPrimitiveToIceberg(t.Primitive)
	case schKindStruct:
		fields, err := schBuildFields(t.Fields, ids)
		if err != nil {
			return nil, err
		}

		return &iceberg.StructType{FieldList: fields}, nil
	case schKindList:
		if t.Element == nil {
			return nil, errors.New("list type has no element type")
		}
		elementID := ids.next()
		element, err := schBuildType(*t.Element, ids)
		if err != nil {
			return nil, fmt.Errorf("list element: %w", err)
		}

		return &iceberg.ListType{ElementID: elementID, Element: element, ElementRequired: t.ElementRequired}, nil
	case schKindMap:
		if t.Key == nil || t.Value == nil {
			return nil, errors.New("map type needs a key and a value type")
		}
		keyID := ids.next()
		valueID := ids.next()
		key, err := schBuildType(*t.Key, ids)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		value, err := schBuildType(*t.Value, ids)
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}

		return &iceberg.MapType{KeyID: keyID, KeyType: key, ValueID: valueID, ValueType: value, ValueRequired: t.ValueRequired}, nil
	case schKindNone:
		return nil, errors.New("type is missing")
	default:
		return nil, errors.New("type sets more than one of primitive, struct, list and map")
	}
}

// ToIceberg validates the schema and converts it to an Iceberg schema with
// schema id 0 and field ids 1..N assigned depth first (see schBuildFields).
// Identifier field ids are left empty. Validation failures are returned as
// *ValidationError.
func (s Schema) ToIceberg() (*iceberg.Schema, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	fields, err := schBuildFields(s.Fields, &schIDAllocator{})
	if err != nil {
		return nil, fmt.Errorf("convert schema to iceberg: %w", err)
	}

	return iceberg.NewSchema(0, fields...), nil
}

// SchemaFromIceberg converts an Iceberg schema to the API form, dropping ids,
// identifier fields and default values. Iceberg types the API does not offer
// (fixed[n], timestamp_ns, variant, ...) keep their Iceberg spelling and fail
// Validate.
func SchemaFromIceberg(sc *iceberg.Schema) Schema {
	if sc == nil {
		return Schema{Fields: []Field{}}
	}

	return Schema{Fields: schFieldsFromIceberg(sc.Fields())}
}

func schFieldsFromIceberg(fields []iceberg.NestedField) []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		out[i] = Field{Name: f.Name, Type: schTypeFromIceberg(f.Type), Required: f.Required, Doc: f.Doc}
	}

	return out
}

func schTypeFromIceberg(t iceberg.Type) Type {
	switch v := t.(type) {
	case nil:
		return Type{}
	case *iceberg.StructType:
		return Type{Fields: schFieldsFromIceberg(v.FieldList)}
	case *iceberg.ListType:
		element := schTypeFromIceberg(v.Element)

		return Type{Element: &element, ElementRequired: v.ElementRequired}
	case *iceberg.MapType:
		key := schTypeFromIceberg(v.KeyType)
		value := schTypeFromIceberg(v.ValueType)

		return Type{Key: &key, Value: &value, ValueRequired: v.ValueRequired}
	case iceberg.DecimalType:
		return Type{Primitive: fmt.Sprintf("decimal(%d,%d)", v.Precision(), v.Scale())}
	default:
		return Type{Primitive: t.Type()}
	}
}

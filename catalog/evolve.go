package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
)

// Change kinds that Evolve accepts.
const (
	ChangeAddOptionalColumn = "add_optional_column"
	ChangeWidenType         = "widen_type"
	ChangeMakeOptional      = "make_optional"
	ChangeDocChanged        = "doc_changed"
	ChangeReorderColumns    = "reorder_columns"
)

// Change kinds that break readers or writers of existing data.
const (
	ChangeDropColumn        = "drop_column"
	ChangeRenameColumn      = "rename_column"
	ChangeNarrowType        = "narrow_type"
	ChangeChangeType        = "change_type"
	ChangeAddRequiredColumn = "add_required_column"
	ChangeMakeRequired      = "make_required"
)

// Change describes one difference between the current and the proposed
// schema. Field is the dotted column path ("address.city", "tags.element",
// "attrs.value"); for ChangeReorderColumns it is the path of the struct whose
// columns moved, the empty string for the top level.
type Change struct {
	Field  string `json:"field"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// BreakingChangeError lists every breaking change of a proposed schema.
type BreakingChangeError struct {
	Changes []Change
}

// Error lists the breaking changes.
func (e *BreakingChangeError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = fmt.Sprintf("%s: %s (%s)", c.Field, c.Kind, c.Detail)
	}

	return "breaking schema changes: " + strings.Join(parts, "; ")
}

// evoState collects changes while Evolve walks both schemas.
type evoState struct {
	ids         schIDAllocator
	identifiers []int
	changes     []Change
	breaking    []Change
}

func (e *evoState) allowed(field, kind, detail string) {
	e.changes = append(e.changes, Change{Field: field, Kind: kind, Detail: detail})
}

func (e *evoState) broken(field, kind, detail string) {
	c := Change{Field: field, Kind: kind, Detail: detail}
	e.changes = append(e.changes, c)
	e.breaking = append(e.breaking, c)
}

// Evolve compares current with proposed, matching fields by exact name at
// each struct level, and builds the next Iceberg schema.
//
// Existing fields keep their field ids, defaults and identifier status; new
// fields get ids above lastColumnID, depth first. Fields follow the order of
// proposed. The next schema has id current.ID+1. When nothing differs Evolve
// returns current itself, lastColumnID and no changes.
//
// An invalid proposed schema yields a *ValidationError. Breaking changes
// yield a *BreakingChangeError listing all of them; changes then holds every
// change found (allowed and breaking) and next is nil.
func Evolve(current *iceberg.Schema, lastColumnID int, proposed Schema) (next *iceberg.Schema, newLastColumnID int, changes []Change, err error) {
	if current == nil {
		return nil, lastColumnID, nil, errors.New("evolve schema: current schema is nil")
	}
	if highest := current.HighestFieldID(); lastColumnID < highest {
		return nil, lastColumnID, nil, fmt.Errorf("evolve schema: last column id %d is below the highest field id %d of schema %d",
			lastColumnID, highest, current.ID)
	}
	if err := proposed.Validate(); err != nil {
		return nil, lastColumnID, nil, err
	}

	state := &evoState{ids: schIDAllocator{last: lastColumnID}, identifiers: current.IdentifierFieldIDs}
	fields, err := state.evolveFields("", current.Fields(), proposed.Fields)
	if err != nil {
		return nil, lastColumnID, nil, fmt.Errorf("evolve schema: %w", err)
	}
	if len(state.breaking) > 0 {
		return nil, lastColumnID, state.changes, &BreakingChangeError{Changes: state.breaking}
	}
	if len(state.changes) == 0 {
		return current, lastColumnID, nil, nil
	}
	next = iceberg.NewSchemaWithIdentifiers(current.ID+1, slices.Clone(current.IdentifierFieldIDs), fields...)

	return next, state.ids.last, state.changes, nil
}

func evoJoin(parent, name string) string {
	if parent == "" {
		return name
	}

	return parent + "." + name
}

// evolveFields evolves one struct level.
func (e *evoState) evolveFields(parent string, current []iceberg.NestedField, proposed []Field) ([]iceberg.NestedField, error) {
	byName := make(map[string]int, len(current))
	for i, f := range current {
		if _, dup := byName[f.Name]; !dup {
			byName[f.Name] = i
		}
	}

	out := make([]iceberg.NestedField, len(proposed))
	matched := make([]bool, len(current))
	var order []int
	for i, p := range proposed {
		path := evoJoin(parent, p.Name)
		idx, exists := byName[p.Name]
		if !exists {
			field, err := e.addField(path, p)
			if err != nil {
				return nil, err
			}
			out[i] = field

			continue
		}
		matched[idx] = true
		order = append(order, idx)
		field, err := e.evolveField(path, current[idx], p)
		if err != nil {
			return nil, err
		}
		out[i] = field
	}

	for i, f := range current {
		if !matched[i] {
			e.broken(evoJoin(parent, f.Name), ChangeDropColumn,
				fmt.Sprintf("column of type %s removed", evoTypeString(f.Type)))
		}
	}
	if !slices.IsSorted(order) {
		before := make([]string, 0, len(order))
		after := make([]string, 0, len(order))
		for i, f := range current {
			if matched[i] {
				before = append(before, f.Name)
			}
		}
		for _, idx := range order {
			after = append(after, current[idx].Name)
		}
		e.allowed(parent, ChangeReorderColumns, fmt.Sprintf("column order changed from [%s] to [%s]",
			strings.Join(before, ", "), strings.Join(after, ", ")))
	}

	return out, nil
}

// addField builds a field that does not exist yet, with fresh ids.
func (e *evoState) addField(path string, p Field) (iceberg.NestedField, error) {
	id := e.ids.next()
	typ, err := schBuildType(p.Type, &e.ids)
	if err != nil {
		return iceberg.NestedField{}, fmt.Errorf("column %s: %w", path, err)
	}
	if p.Required {
		e.broken(path, ChangeAddRequiredColumn,
			fmt.Sprintf("new required column of type %s has no value in existing rows", p.Type.String()))
	} else {
		e.allowed(path, ChangeAddOptionalColumn, fmt.Sprintf("new optional column of type %s", p.Type.String()))
	}

	return iceberg.NestedField{ID: id, Name: p.Name, Type: typ, Required: p.Required, Doc: p.Doc}, nil
}

// evolveField evolves a field present in both schemas.
func (e *evoState) evolveField(path string, current iceberg.NestedField, p Field) (iceberg.NestedField, error) {
	switch {
	case !current.Required && p.Required:
		e.broken(path, ChangeMakeRequired, "optional -> required")
	case current.Required && !p.Required:
		if slices.Contains(e.identifiers, current.ID) {
			e.broken(path, ChangeMakeOptional, "required -> optional, but the column is an identifier field and must stay required")
		} else {
			e.allowed(path, ChangeMakeOptional, "required -> optional")
		}
	}
	if current.Doc != p.Doc {
		e.allowed(path, ChangeDocChanged, fmt.Sprintf("%q -> %q", current.Doc, p.Doc))
	}
	typ, err := e.evolveType(path, current.Type, p.Type)
	if err != nil {
		return iceberg.NestedField{}, err
	}

	return iceberg.NestedField{
		ID:             current.ID,
		Name:           current.Name,
		Type:           typ,
		Required:       p.Required,
		Doc:            p.Doc,
		InitialDefault: current.InitialDefault,
		WriteDefault:   current.WriteDefault,
	}, nil
}

// evolveType evolves the type of an existing field. When the change is
// breaking the returned type is only a placeholder: Evolve then fails.
func (e *evoState) evolveType(path string, current iceberg.Type, p Type) (iceberg.Type, error) {
	switch p.kind() {
	case schKindStruct:
		cur, ok := current.(*iceberg.StructType)
		if !ok {
			e.changeType(path, current, p)

			return current, nil
		}
		fields, err := e.evolveFields(path, cur.FieldList, p.Fields)
		if err != nil {
			return nil, err
		}

		return &iceberg.StructType{FieldList: fields}, nil
	case schKindList:
		cur, ok := current.(*iceberg.ListType)
		if !ok {
			e.changeType(path, current, p)

			return current, nil
		}
		elementPath := path + ".element"
		e.requiredness(elementPath, cur.ElementRequired, p.ElementRequired)
		element, err := e.evolveType(elementPath, cur.Element, *p.Element)
		if err != nil {
			return nil, err
		}

		return &iceberg.ListType{ElementID: cur.ElementID, Element: element, ElementRequired: p.ElementRequired}, nil
	case schKindMap:
		cur, ok := current.(*iceberg.MapType)
		if !ok {
			e.changeType(path, current, p)

			return current, nil
		}
		key, err := schPrimitiveToIceberg(p.Key.Primitive)
		if err != nil {
			return nil, fmt.Errorf("column %s: map key: %w", path, err)
		}
		if !key.Equals(cur.KeyType) {
			e.broken(path+".key", ChangeChangeType, fmt.Sprintf("map key type cannot change: %s -> %s",
				evoTypeString(cur.KeyType), p.Key.String()))
		}
		valuePath := path + ".value"
		e.requiredness(valuePath, cur.ValueRequired, p.ValueRequired)
		value, err := e.evolveType(valuePath, cur.ValueType, *p.Value)
		if err != nil {
			return nil, err
		}

		return &iceberg.MapType{
			KeyID: cur.KeyID, KeyType: cur.KeyType,
			ValueID: cur.ValueID, ValueType: value, ValueRequired: p.ValueRequired,
		}, nil
	default:
		next, err := schPrimitiveToIceberg(p.Primitive)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", path, err)
		}
		switch kind := evoClassifyType(current, next); kind {
		case "":
			return current, nil
		case ChangeWidenType:
			e.allowed(path, ChangeWidenType, fmt.Sprintf("%s -> %s", evoTypeString(current), p.Primitive))
		default:
			e.broken(path, kind, fmt.Sprintf("%s -> %s", evoTypeString(current), p.Primitive))
		}

		return next, nil
	}
}

func (e *evoState) changeType(path string, current iceberg.Type, p Type) {
	e.broken(path, ChangeChangeType, fmt.Sprintf("%s -> %s", evoTypeString(current), p.String()))
}

// requiredness records a list element or map value becoming required
// (breaking) or optional (allowed).
func (e *evoState) requiredness(path string, currentRequired, nextRequired bool) {
	switch {
	case !currentRequired && nextRequired:
		e.broken(path, ChangeMakeRequired, "optional -> required")
	case currentRequired && !nextRequired:
		e.allowed(path, ChangeMakeOptional, "required -> optional")
	}
}

// evoClassifyType compares two types that are not both structs, lists or
// maps. It returns "" when they are equal, ChangeWidenType for an allowed
// promotion (int -> long, float -> double, decimal(p,s) -> decimal(p2,s) with
// p2 > p), ChangeNarrowType for the reverse and ChangeChangeType otherwise.
func evoClassifyType(current, next iceberg.Type) string {
	if current == nil || next == nil {
		if current == nil && next == nil {
			return ""
		}

		return ChangeChangeType
	}
	if current.Equals(next) {
		return ""
	}
	switch cur := current.(type) {
	case iceberg.Int32Type:
		if _, ok := next.(iceberg.Int64Type); ok {
			return ChangeWidenType
		}
	case iceberg.Int64Type:
		if _, ok := next.(iceberg.Int32Type); ok {
			return ChangeNarrowType
		}
	case iceberg.Float32Type:
		if _, ok := next.(iceberg.Float64Type); ok {
			return ChangeWidenType
		}
	case iceberg.Float64Type:
		if _, ok := next.(iceberg.Float32Type); ok {
			return ChangeNarrowType
		}
	case iceberg.DecimalType:
		nxt, ok := next.(iceberg.DecimalType)
		if ok && nxt.Scale() == cur.Scale() {
			if nxt.Precision() > cur.Precision() {
				return ChangeWidenType
			}

			return ChangeNarrowType
		}
	}

	return ChangeChangeType
}

// evoTypeString renders an Iceberg type in the API spelling.
func evoTypeString(t iceberg.Type) string {
	return schTypeFromIceberg(t).String()
}

// CheckCompatible compares two Iceberg schemas by field id, the way an
// external engine's commit changes them (renames keep ids), and returns the
// breaking changes: dropped columns, renames, narrowed or changed types,
// optional -> required, and new required columns without an initial default
// (format v3). Allowed changes are not reported. Either schema being nil
// yields no changes.
func CheckCompatible(current, next *iceberg.Schema) []Change {
	if current == nil || next == nil {
		return nil
	}
	state := &evoState{}
	state.compareStructs("", current.Fields(), next.Fields())

	return state.breaking
}

// compareStructs matches the fields of one struct level by id.
func (e *evoState) compareStructs(parent string, current, next []iceberg.NestedField) {
	nextByID := make(map[int]iceberg.NestedField, len(next))
	for _, f := range next {
		nextByID[f.ID] = f
	}
	currentIDs := make(map[int]bool, len(current))
	for _, f := range current {
		currentIDs[f.ID] = true
		path := evoJoin(parent, f.Name)
		n, ok := nextByID[f.ID]
		if !ok {
			e.broken(path, ChangeDropColumn, fmt.Sprintf("column %d of type %s removed", f.ID, evoTypeString(f.Type)))

			continue
		}
		if n.Name != f.Name {
			e.broken(path, ChangeRenameColumn, fmt.Sprintf("column %d renamed to %q", f.ID, n.Name))
		}
		if !f.Required && n.Required {
			e.broken(path, ChangeMakeRequired, "optional -> required")
		}
		e.compareTypes(path, f.Type, n.Type)
	}
	for _, n := range next {
		if !currentIDs[n.ID] && n.Required && n.InitialDefault == nil {
			e.broken(evoJoin(parent, n.Name), ChangeAddRequiredColumn,
				fmt.Sprintf("new required column %d of type %s has no value in existing rows", n.ID, evoTypeString(n.Type)))
		}
	}
}

// compareTypes compares the types of two fields with the same id.
func (e *evoState) compareTypes(path string, current, next iceberg.Type) {
	switch cur := current.(type) {
	case *iceberg.StructType:
		nxt, ok := next.(*iceberg.StructType)
		if !ok {
			e.broken(path, ChangeChangeType, fmt.Sprintf("%s -> %s", evoTypeString(current), evoTypeString(next)))

			return
		}
		e.compareStructs(path, cur.FieldList, nxt.FieldList)
	case *iceberg.ListType:
		nxt, ok := next.(*iceberg.ListType)
		if !ok || nxt.ElementID != cur.ElementID {
			e.broken(path, ChangeChangeType, fmt.Sprintf("%s -> %s", evoTypeString(current), evoTypeString(next)))

			return
		}
		elementPath := path + ".element"
		if !cur.ElementRequired && nxt.ElementRequired {
			e.broken(elementPath, ChangeMakeRequired, "optional -> required")
		}
		e.compareTypes(elementPath, cur.Element, nxt.Element)
	case *iceberg.MapType:
		nxt, ok := next.(*iceberg.MapType)
		if !ok || nxt.KeyID != cur.KeyID || nxt.ValueID != cur.ValueID {
			e.broken(path, ChangeChangeType, fmt.Sprintf("%s -> %s", evoTypeString(current), evoTypeString(next)))

			return
		}
		if cur.KeyType == nil || nxt.KeyType == nil || !cur.KeyType.Equals(nxt.KeyType) {
			e.broken(path+".key", ChangeChangeType, fmt.Sprintf("map key type cannot change: %s -> %s",
				evoTypeString(cur.KeyType), evoTypeString(nxt.KeyType)))
		}
		valuePath := path + ".value"
		if !cur.ValueRequired && nxt.ValueRequired {
			e.broken(valuePath, ChangeMakeRequired, "optional -> required")
		}
		e.compareTypes(valuePath, cur.ValueType, nxt.ValueType)
	default:
		kind := evoClassifyType(current, next)
		if kind == ChangeNarrowType || kind == ChangeChangeType {
			e.broken(path, kind, fmt.Sprintf("%s -> %s", evoTypeString(current), evoTypeString(next)))
		}
	}
}

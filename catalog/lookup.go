package catalog

import "strings"

// FieldType returns the type name of the field at a dotted path ("address.city"): the
// primitive's name, or "struct", "list" or "map"; ok is false when there is no such field.
func (s Schema) FieldType(path string) (typ string, ok bool) {
	fields := s.Fields
	parts := strings.Split(path, ".")
	for i, part := range parts {
		var found *Field
		for j := range fields {
			if fields[j].Name == part {
				found = &fields[j]
				break
			}
		}
		if found == nil {
			return "", false
		}
		t := found.Type
		if i == len(parts)-1 {
			switch {
			case t.Primitive != "":
				return t.Primitive, true
			case t.Element != nil:
				return "list", true
			case t.Key != nil:
				return "map", true
			default:
				return "struct", true
			}
		}
		if t.Primitive != "" || t.Element != nil || t.Key != nil {
			return "", false
		}
		fields = t.Fields
	}
	return "", false
}

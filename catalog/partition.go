package catalog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
)

// PartitionField is one partition column as our API spells it: a top-level
// source column, a transform ("identity", "year", "month", "day", "hour",
// "bucket[N]", "truncate[W]") and an optional partition field name.
type PartitionField struct {
	Field     string `json:"field"`
	Transform string `json:"transform"`
	Name      string `json:"name,omitempty"`
}

// partResolved is one partition field after its source column and transform
// were looked up. ok is true when both are usable.
type partResolved struct {
	source    iceberg.NestedField
	transform iceberg.Transform
	name      string
	ok        bool
}

// PartitionSpec validates parts against sc and builds the Iceberg partition
// spec: spec id 0, partition field ids 1000, 1001, ... in the order given.
// Empty parts yield the unpartitioned spec. Invalid input is reported as a
// *ValidationError whose problems name partitioning[i].field, .transform or
// .name.
func PartitionSpec(sc *iceberg.Schema, parts []PartitionField) (iceberg.PartitionSpec, error) {
	if sc == nil {
		return iceberg.PartitionSpec{}, errors.New("build partition spec: schema is nil")
	}
	verr := &ValidationError{}
	columns := sc.Fields()
	resolved := make([]partResolved, len(parts))
	for i, part := range parts {
		resolved[i] = partResolve(verr, sc, columns, i, part)
	}
	partCheckCombinations(verr, columns, parts, resolved)
	if err := verr.Err(); err != nil {
		return iceberg.PartitionSpec{}, err
	}

	opts := make([]iceberg.PartitionOption, 0, len(resolved)+1)
	opts = append(opts, iceberg.WithSpecID(iceberg.InitialPartitionSpecID))
	for i, r := range resolved {
		fieldID := iceberg.PartitionDataIDStart + i
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(r.source.ID, r.name, r.transform, sc, &fieldID))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return iceberg.PartitionSpec{}, fmt.Errorf("build partition spec: %w", err)
	}

	return spec, nil
}

// partResolve looks up the source column and transform of part i, checks
// that they fit together and works out the partition field name.
func partResolve(verr *ValidationError, sc *iceberg.Schema, columns []iceberg.NestedField, i int, part PartitionField) partResolved {
	fieldPath := fmt.Sprintf("partitioning[%d].field", i)
	transformPath := fmt.Sprintf("partitioning[%d].transform", i)
	namePath := fmt.Sprintf("partitioning[%d].name", i)

	source, sourceOK := partFindSource(verr, fieldPath, sc, columns, part.Field)
	transform, transformOK := partParseTransform(verr, transformPath, part.Transform)
	nameOK := true
	if part.Name != "" {
		if msg := schCheckName(part.Name); msg != "" {
			verr.Add(namePath, "%s", msg)
			nameOK = false
		}
	}
	if !sourceOK || !transformOK {
		return partResolved{}
	}
	if !transform.CanTransform(source.Type) {
		verr.Add(transformPath, "transform %s cannot be applied to column %q of type %s; %s applies to %s",
			transform, source.Name, schTypeFromIceberg(source.Type).String(), transform, partApplicableTypes(transform))

		return partResolved{}
	}
	if !nameOK {
		return partResolved{}
	}

	name := part.Name
	if name == "" {
		generated, err := iceberg.GeneratePartitionFieldName(sc,
			iceberg.PartitionField{SourceIDs: []int{source.ID}, Transform: transform})
		if err != nil {
			verr.Add(namePath, "cannot derive a partition field name, set \"name\": %v", err)

			return partResolved{}
		}
		name = generated
	}

	return partResolved{source: source, transform: transform, name: name, ok: true}
}

// partFindSource finds the top-level primitive column called name.
func partFindSource(verr *ValidationError, path string, sc *iceberg.Schema, columns []iceberg.NestedField, name string) (iceberg.NestedField, bool) {
	if name == "" {
		verr.Add(path, "field is required")

		return iceberg.NestedField{}, false
	}
	for _, column := range columns {
		if column.Name != name {
			continue
		}
		if _, primitive := column.Type.(iceberg.PrimitiveType); !primitive {
			verr.Add(path, "partition source %q must be a primitive column, got %s",
				name, schTypeFromIceberg(column.Type).String())

			return iceberg.NestedField{}, false
		}

		return column, true
	}
	if _, nested := sc.FindFieldByName(name); nested {
		verr.Add(path, "partition source %q must be a top-level column, not a nested field", name)

		return iceberg.NestedField{}, false
	}
	for _, column := range columns {
		if strings.EqualFold(column.Name, name) {
			verr.Add(path, "unknown column %q; did you mean %q?", name, column.Name)

			return iceberg.NestedField{}, false
		}
	}
	verr.Add(path, "unknown column %q", name)

	return iceberg.NestedField{}, false
}

// partParseTransform parses text with iceberg.ParseTransform and accepts only
// the canonical spelling of identity, year, month, day, hour, bucket[N] and
// truncate[W].
func partParseTransform(verr *ValidationError, path, text string) (iceberg.Transform, bool) {
	if text == "" {
		verr.Add(path, "transform is required")

		return nil, false
	}
	transform, err := iceberg.ParseTransform(text)
	_, unknown := transform.(iceberg.UnknownTransform)
	lower := strings.ToLower(text)
	if err != nil || unknown {
		switch {
		case strings.HasPrefix(lower, "bucket"):
			verr.Add(path, "invalid transform %q: bucket[N] needs an integer N between 1 and 2147483647", text)
		case strings.HasPrefix(lower, "truncate"):
			verr.Add(path, "invalid transform %q: truncate[W] needs an integer width W between 1 and 2147483647", text)
		case err != nil:
			verr.Add(path, "invalid transform %q: %v", text, err)
		default:
			verr.Add(path, "unknown transform %q; valid transforms are identity, year, month, day, hour, bucket[N], truncate[W]",
				text)
		}

		return nil, false
	}
	if _, void := transform.(iceberg.VoidTransform); void {
		verr.Add(path, "the void transform is not allowed; leave the column out of the partitioning instead")

		return nil, false
	}
	if canonical := transform.String(); canonical != text {
		verr.Add(path, "transform %q must be written %q", text, canonical)

		return nil, false
	}

	return transform, true
}

// partApplicableTypes describes the column types a transform accepts.
func partApplicableTypes(t iceberg.Transform) string {
	switch t.(type) {
	case iceberg.IdentityTransform:
		return "any primitive type"
	case iceberg.YearTransform, iceberg.MonthTransform, iceberg.DayTransform:
		return "date, timestamp and timestamptz"
	case iceberg.HourTransform:
		return "timestamp and timestamptz"
	case iceberg.BucketTransform:
		return "int, long, decimal, date, time, timestamp, timestamptz, string, uuid and binary"
	case iceberg.TruncateTransform:
		return "int, long, decimal, string and binary"
	default:
		return "no column type"
	}
}

// partCheckCombinations reports duplicate (column, transform) pairs, more
// than one time transform per column, duplicate partition names and names
// that collide with schema columns.
func partCheckCombinations(verr *ValidationError, columns []iceberg.NestedField, parts []PartitionField, resolved []partResolved) {
	pairs := make(map[string]int, len(resolved))
	timeBySource := make(map[int]int, len(resolved))
	names := make(map[string]int, len(resolved))
	for i, r := range resolved {
		if !r.ok {
			continue
		}
		transformPath := fmt.Sprintf("partitioning[%d].transform", i)
		namePath := fmt.Sprintf("partitioning[%d].name", i)

		pair := fmt.Sprintf("%d|%s", r.source.ID, r.transform)
		if first, dup := pairs[pair]; dup {
			verr.Add(transformPath, "duplicate partition field: column %q with transform %s is already used by partitioning[%d]",
				r.source.Name, r.transform, first)
		} else {
			pairs[pair] = i
			if _, isTime := r.transform.(iceberg.TimeTransform); isTime {
				if first, seen := timeBySource[r.source.ID]; seen {
					verr.Add(transformPath,
						"column %q is already partitioned by time transform %s at partitioning[%d]; use only one of year, month, day, hour per column",
						r.source.Name, resolved[first].transform, first)
				} else {
					timeBySource[r.source.ID] = i
				}
			}
		}

		hint := ""
		if parts[i].Name == "" {
			hint = "; set a different \"name\""
		}
		folded := strings.ToLower(r.name)
		if first, dup := names[folded]; dup {
			verr.Add(namePath, "duplicate partition name %q (names are case-insensitive): already used by partitioning[%d]%s",
				r.name, first, hint)
		} else {
			names[folded] = i
		}
		_, identity := r.transform.(iceberg.IdentityTransform)
		for _, column := range columns {
			if !strings.EqualFold(column.Name, r.name) {
				continue
			}
			if identity && column.ID == r.source.ID {
				continue
			}
			verr.Add(namePath, "partition name %q collides with column %q; only an identity partition of that column may use its name%s",
				r.name, column.Name, hint)
		}
	}
}

// PartitionFieldsFromIceberg converts spec back to the API form. Name is set
// only when it differs from the default Iceberg would generate. Void
// (dropped) partition fields are left out; a source column missing from sc is
// shown as "<missing field ID>".
func PartitionFieldsFromIceberg(sc *iceberg.Schema, spec iceberg.PartitionSpec) []PartitionField {
	out := make([]PartitionField, 0, spec.NumFields())
	for _, field := range spec.Fields() {
		if _, void := field.Transform.(iceberg.VoidTransform); void {
			continue
		}
		part := PartitionField{Transform: field.Transform.String(), Name: field.Name}
		source, found := "", false
		if sc != nil {
			source, found = sc.FindColumnName(field.SourceID())
		}
		if !found {
			part.Field = fmt.Sprintf("<missing field %d>", field.SourceID())
			out = append(out, part)

			continue
		}
		part.Field = source
		generated, err := iceberg.GeneratePartitionFieldName(sc,
			iceberg.PartitionField{SourceIDs: []int{field.SourceID()}, Transform: field.Transform})
		if err == nil && generated == field.Name {
			part.Name = ""
		}
		out = append(out, part)
	}

	return out
}

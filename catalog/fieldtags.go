package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxFieldTags bounds the tags of one field.
const MaxFieldTags = 16

// FieldTags maps a field's dotted path through structs ("customer.email") to its tags. They
// live beside the schema rather than in it: the Iceberg schema has no place for them.
type FieldTags map[string][]string

// fieldTagsOf collects the tags of sc's fields, checking them; problems name the field.
func fieldTagsOf(sc Schema) (FieldTags, []Problem) {
	tags := FieldTags{}
	var problems []Problem
	var walk func(prefix, jsonPath string, fields []Field)
	walk = func(prefix, jsonPath string, fields []Field) {
		for i, f := range fields {
			path, at := prefix+f.Name, fmt.Sprintf("%s[%d]", jsonPath, i)
			if len(f.Tags) > MaxFieldTags {
				problems = append(problems, Problem{Field: at + ".tags", Message: fmt.Sprintf("at most %d tags", MaxFieldTags)})
			}
			for j, t := range f.Tags {
				if t == "" || len(t) > 64 || strings.ContainsAny(t, " \t\r\n,") {
					problems = append(problems, Problem{Field: fmt.Sprintf("%s.tags[%d]", at, j), Message: "a tag is 1 to 64 characters without spaces or commas"})
				}
			}
			if len(f.Tags) > 0 {
				tags[path] = slices.Compact(slices.Sorted(slices.Values(f.Tags)))
			}
			if f.Type.Fields != nil {
				walk(path+".", at+".type.fields", f.Type.Fields)
			}
		}
	}
	walk("", "schema.fields", sc.Fields)
	return tags, problems
}

// withFieldTags returns sc with tags set on the fields they name (fields no longer in the
// schema keep nothing).
func withFieldTags(sc Schema, tags FieldTags) Schema {
	var apply func(prefix string, fields []Field) []Field
	apply = func(prefix string, fields []Field) []Field {
		out := slices.Clone(fields)
		for i := range out {
			path := prefix + out[i].Name
			out[i].Tags = tags[path]
			if out[i].Type.Fields != nil {
				out[i].Type.Fields = apply(path+".", out[i].Type.Fields)
			}
		}
		return out
	}
	return Schema{Fields: apply("", sc.Fields)}
}

// Tagged returns the paths of the dataset's fields that carry tags, with their tags, in path
// order: what an authorization decision for records.write sees of the schema.
func (d Dataset) Tagged() []TaggedField {
	var out []TaggedField
	for _, path := range slices.Sorted(maps.Keys(d.FieldTags)) {
		out = append(out, TaggedField{Path: path, Tags: d.FieldTags[path]})
	}
	return out
}

// TaggedField is a field's path and tags.
type TaggedField struct {
	Path string
	Tags []string
}

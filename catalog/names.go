package catalog

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Namespace is a multi-level namespace, e.g. {"sales", "eu"}.
type Namespace []string

// ParseNamespace parses a dotted namespace ("sales.eu") and validates each level.
func ParseNamespace(s string) (Namespace, error) {
	if s == "" {
		return nil, &ValidationError{Problems: []Problem{{Field: "namespace", Message: "namespace is required"}}}
	}
	ns := Namespace(strings.Split(s, "."))
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	return ns, nil
}

// String returns the dotted form.
func (ns Namespace) String() string { return strings.Join(ns, ".") }

// MaxNamespaceDepth bounds namespace nesting.
const MaxNamespaceDepth = 8

// maxNameLength bounds a namespace level's or a table's name, in bytes.
const maxNameLength = 128

// nameProblem says what is wrong with a namespace level or a table or view name, or "". The
// catalog accepts the names Iceberg accepts — mixed case, '-', spaces, Unicode — and refuses
// only what is unsafe or ambiguous: the empty name, invalid UTF-8, control characters (the
// 0x1F level separator of the REST API among them), '.' (lakegate writes namespaces dotted),
// '/' (a path separator in URLs) and '*' (a wildcard in grants), and names over 128 bytes. Locations never paste a
// name: see segment.Escape.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNameLength:
		return fmt.Sprintf("is %d bytes long; at most %d are allowed", len(name), maxNameLength)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return "contains a control character"
		case r == '.':
			return "contains '.', which separates namespace levels"
		case r == '/':
			return "contains '/'"
		case r == '*':
			return "contains '*', which grants use as a wildcard"
		}
	}
	return ""
}

// Validate checks every level of the namespace.
func (ns Namespace) Validate() error {
	if len(ns) == 0 {
		return &ValidationError{Problems: []Problem{{Field: "namespace", Message: "namespace is required"}}}
	}
	if len(ns) > MaxNamespaceDepth {
		return &ValidationError{Problems: []Problem{{Field: "namespace", Message: fmt.Sprintf("namespace has %d levels; at most %d are allowed", len(ns), MaxNamespaceDepth)}}}
	}
	for i, level := range ns {
		if p := nameProblem(level); p != "" {
			return &ValidationError{Problems: []Problem{{Field: "namespace", Message: fmt.Sprintf("level %d %q %s", i+1, level, p)}}}
		}
	}
	return nil
}

// ValidateTableName checks a table, view or dataset name.
func ValidateTableName(name string) error {
	if p := nameProblem(name); p != "" {
		return &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("%q %s", name, p)}}}
	}
	return nil
}

package catalog

import (
	"fmt"
	"regexp"
	"strings"
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

// maxNameLength bounds a namespace level's or a table's name.
const maxNameLength = 128

var nameRE = regexp.MustCompile(fmt.Sprintf(`^[a-z_][a-z0-9_]{0,%d}$`, maxNameLength-1))

// Validate checks every level of the namespace.
func (ns Namespace) Validate() error {
	if len(ns) == 0 {
		return &ValidationError{Problems: []Problem{{Field: "namespace", Message: "namespace is required"}}}
	}
	if len(ns) > MaxNamespaceDepth {
		return &ValidationError{Problems: []Problem{{Field: "namespace", Message: fmt.Sprintf("namespace has %d levels; at most %d are allowed", len(ns), MaxNamespaceDepth)}}}
	}
	for i, level := range ns {
		if !nameRE.MatchString(level) {
			return &ValidationError{Problems: []Problem{{Field: "namespace", Message: fmt.Sprintf("level %d %q is not a valid name: use lower-case letters, digits and '_', starting with a letter or '_', at most 128 characters", i+1, level)}}}
		}
	}
	return nil
}

// ValidateTableName checks a table or dataset name.
func ValidateTableName(name string) error {
	if !nameRE.MatchString(name) {
		return &ValidationError{Problems: []Problem{{Field: "name", Message: fmt.Sprintf("%q is not a valid name: use lower-case letters, digits and '_', starting with a letter or '_', at most 128 characters", name)}}}
	}
	return nil
}

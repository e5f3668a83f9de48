package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Grant principal types.
const (
	PrincipalTypeRole    = "role"
	PrincipalTypeSubject = "subject"
)

// Grant scope types.
const (
	ScopeNamespace = "namespace"
	ScopeDataset   = "dataset"
)

// AllNamespaces is the namespace value of a namespace-scoped grant that
// covers every namespace.
const AllNamespaces = "*"

// Grant gives a principal (a role or a subject) a privilege on a namespace
// subtree or on a single dataset/table. Grants are handed to the engine with
// SetGrants and are visible to Rego as data.grants.
type Grant struct {
	ID            string `json:"id"`
	PrincipalType string `json:"principal_type"` // "role" or "subject"
	Principal     string `json:"principal"`      // role name or subject
	// Privilege is an action name ("dataset.read"), a family wildcard
	// ("dataset.*") or "*".
	Privilege string `json:"privilege"`
	ScopeType string `json:"scope_type"` // "namespace" or "dataset"
	// Namespace is dotted. A namespace-scoped grant covers that namespace and
	// every namespace below it ("sales" covers "sales.eu" but not "salesx");
	// "*" covers everything.
	Namespace string    `json:"namespace"`
	Name      string    `json:"name,omitempty"` // dataset/table name when ScopeType == "dataset"
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks that g is well formed. The error names the offending field
// by its JSON name.
func (g Grant) Validate() error {
	if strings.TrimSpace(g.ID) == "" {
		return errors.New("grant: id must not be empty")
	}
	switch g.PrincipalType {
	case PrincipalTypeRole, PrincipalTypeSubject:
	default:
		return fmt.Errorf("grant %q: principal_type must be %q or %q, got %q",
			g.ID, PrincipalTypeRole, PrincipalTypeSubject, g.PrincipalType)
	}
	if strings.TrimSpace(g.Principal) == "" {
		return fmt.Errorf("grant %q: principal must not be empty", g.ID)
	}
	if !validPrivilege(g.Privilege) {
		return fmt.Errorf("grant %q: privilege %q is not a known action, a family wildcard such as \"dataset.*\", or \"*\"",
			g.ID, g.Privilege)
	}
	switch g.ScopeType {
	case ScopeNamespace:
		if g.Name != "" {
			return fmt.Errorf("grant %q: name must be empty when scope_type is %q", g.ID, ScopeNamespace)
		}
		if g.Namespace == AllNamespaces {
			return nil
		}
		if err := validateNamespace(g.Namespace); err != nil {
			return fmt.Errorf("grant %q: namespace: %w", g.ID, err)
		}
	case ScopeDataset:
		if err := validateNamespace(g.Namespace); err != nil {
			return fmt.Errorf("grant %q: namespace: %w", g.ID, err)
		}
		if strings.TrimSpace(g.Name) == "" {
			return fmt.Errorf("grant %q: name must not be empty when scope_type is %q", g.ID, ScopeDataset)
		}
	default:
		return fmt.Errorf("grant %q: scope_type must be %q or %q, got %q",
			g.ID, ScopeNamespace, ScopeDataset, g.ScopeType)
	}
	return nil
}

// validateNamespace accepts a dotted namespace made of non-empty parts with
// no surrounding whitespace.
func validateNamespace(ns string) error {
	if ns == "" {
		return errors.New("must not be empty")
	}
	for part := range strings.SplitSeq(ns, ".") {
		if part == "" {
			return fmt.Errorf("%q has an empty part", ns)
		}
		if part == AllNamespaces {
			return fmt.Errorf("%q: %q is only allowed as the whole namespace of a namespace-scoped grant", ns, AllNamespaces)
		}
		if strings.TrimSpace(part) != part {
			return fmt.Errorf("%q has a part with leading or trailing whitespace", ns)
		}
	}
	return nil
}

// document returns g in the JSON shape the policy sees, built from plain
// map/slice/string values so the store can skip a JSON round trip.
func (g Grant) document() map[string]any {
	doc := map[string]any{
		"id":             g.ID,
		"principal_type": g.PrincipalType,
		"principal":      g.Principal,
		"privilege":      g.Privilege,
		"scope_type":     g.ScopeType,
		"namespace":      g.Namespace,
		"created_by":     g.CreatedBy,
		"created_at":     formatTime(g.CreatedAt),
	}
	if g.Name != "" {
		doc["name"] = g.Name
	}
	return doc
}

// grantsData builds the two store documents written by SetGrants: the list
// (data.grants) and the lookup index (data.grant_index):
//
//	namespace[principal_type][principal][scope][privilege] = [id, ...]
//	dataset[principal_type][principal][namespace][name][privilege] = [id, ...]
//
// where scope is the grant namespace followed by "." ("sales." for "sales"),
// or "" for the "*" namespace, so that the policy can match a namespace and
// all its descendants with a single startswith. Id lists are sorted.
func grantsData(grants []Grant) (list []any, index map[string]any) {
	list = make([]any, 0, len(grants))
	byNamespace := map[string]any{}
	byDataset := map[string]any{}
	for _, g := range grants {
		list = append(list, g.document())
		var leaf map[string]any
		if g.ScopeType == ScopeDataset {
			leaf = child(child(child(child(byDataset, g.PrincipalType), g.Principal), g.Namespace), g.Name)
		} else {
			leaf = child(child(child(byNamespace, g.PrincipalType), g.Principal), scopeKey(g.Namespace))
		}
		leaf[g.Privilege] = insertSorted(leaf[g.Privilege], g.ID)
	}
	return list, map[string]any{
		ScopeNamespace: byNamespace,
		ScopeDataset:   byDataset,
	}
}

// scopeKey is the grant_index key of a namespace grant scope.
func scopeKey(namespace string) string {
	if namespace == AllNamespaces {
		return ""
	}
	return namespace + "."
}

// child returns m[key] as a map, creating it when absent.
func child(m map[string]any, key string) map[string]any {
	if c, ok := m[key].(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	m[key] = c
	return c
}

// insertSorted adds id to the sorted []any list ids.
func insertSorted(ids any, id string) []any {
	list, _ := ids.([]any)
	i, _ := slices.BinarySearchFunc(list, id, func(e any, target string) int {
		return strings.Compare(e.(string), target)
	})
	return slices.Insert(list, i, any(id))
}

// validateGrants validates every grant and rejects duplicate ids.
func validateGrants(grants []Grant) error {
	seen := make(map[string]struct{}, len(grants))
	for i, g := range grants {
		if err := g.Validate(); err != nil {
			return fmt.Errorf("grants[%d]: %w", i, err)
		}
		if _, dup := seen[g.ID]; dup {
			return fmt.Errorf("grants[%d]: duplicate grant id %q", i, g.ID)
		}
		seen[g.ID] = struct{}{}
	}
	return nil
}

// formatTime renders t exactly as encoding/json does.
func formatTime(t time.Time) string {
	return t.Format(time.RFC3339Nano)
}

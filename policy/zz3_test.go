package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func benchPolicy(b *testing.B, policy string) {
	dir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(dir, "a.rego"), []byte(policy), 0o644))
	e, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(b, err)
	grants := append(benchGrants(1000, 50, 50), nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
	require.NoError(b, e.SetGrants(b.Context(), grants))
	input := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead,
		Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
	d, _ := e.Decide(b.Context(), input)
	b.Log(d)
	for b.Loop() {
		e.Decide(b.Context(), input)
	}
}

func BenchmarkZZVariants(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		benchPolicy(b, allowAllPolicy)
	})
	b.Run("scopes2", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
resource_namespace := object.get(input.resource, "namespace", "")
namespace_scopes := {"*"} if {
	resource_namespace == ""
} else := {scope |
	parts := split(resource_namespace, ".")
	some n in numbers.range(1, count(parts))
	scope := concat(".", array.slice(parts, 0, n))
}
decision := {"allow": true, "reason": concat(",", namespace_scopes)}
`)
	})
	b.Run("lookups_local", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
ids contains id if {
	idx := data.grant_index.namespace.role
	some scope in ["*", "sales", "sales.eu"]
	some privilege in ["*", "dataset.*", "dataset.read"]
	some role in input.principal.roles
	some id in idx[role][scope][privilege]
}
decision := {"allow": true, "reason": sprintf("%v", [ids])}
`)
	})
	b.Run("lookups_one", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
ids contains id if {
	some id in data.grant_index.namespace.role.analyst.sales["dataset.read"]
}
decision := {"allow": true, "reason": sprintf("%v", [ids])}
`)
	})
	b.Run("scopes", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
resource_namespace := object.get(input.resource, "namespace", "")
namespace_scopes := {"*"} if {
	resource_namespace == ""
} else := {scope |
	parts := split(resource_namespace, ".")
	some n in numbers.range(0, count(parts))
	scope := namespace_prefix(parts, n)
}
namespace_prefix(_, 0) := "*"
namespace_prefix(parts, n) := concat(".", array.slice(parts, 0, n)) if n > 0
decision := {"allow": true, "reason": concat(",", namespace_scopes)}
`)
	})
	b.Run("entries", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
namespace_entries contains entry if {
	entry := data.grant_index.namespace.subject[input.principal.sub]
}
namespace_entries contains entry if {
	some role in input.principal.roles
	entry := data.grant_index.namespace.role[role]
}
decision := {"allow": true, "reason": sprintf("%d", [count(namespace_entries)])}
`)
	})
	b.Run("lookups_direct", func(b *testing.B) {
		benchPolicy(b, `package lakegate.authz
ids contains id if {
	some scope in ["*", "sales", "sales.eu"]
	some privilege in ["*", "dataset.*", "dataset.read"]
	some role in input.principal.roles
	some id in data.grant_index.namespace.role[role][scope][privilege]
}
decision := {"allow": true, "reason": sprintf("%v", [ids])}
`)
	})
}

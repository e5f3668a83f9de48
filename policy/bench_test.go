package policy

import (
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"
)

// benchGrants returns n grants spread over 50 roles and 50 subjects.
func benchGrants(n int) []Grant {
	grants := make([]Grant, 0, n)
	for i := range n {
		ptype, principal := PrincipalTypeRole, fmt.Sprintf("role-%d", i%50)
		if i%2 == 1 {
			ptype, principal = PrincipalTypeSubject, fmt.Sprintf("user-%d", i%50)
		}
		ns := fmt.Sprintf("ns%d.sub%d", i%20, i%7)
		if i%3 == 0 {
			grants = append(grants, dsGrant(fmt.Sprintf("g%d", i), ptype, principal, "table.read_data", ns, fmt.Sprintf("t%d", i)))
		} else {
			grants = append(grants, nsGrant(fmt.Sprintf("g%d", i), ptype, principal, "dataset.*", ns))
		}
	}
	return grants
}

func BenchmarkDecide(b *testing.B) {
	e, err := New(Config{}, nil, nil)
	require.NoError(b, err)
	grants := append(benchGrants(1000),
		nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
	require.NoError(b, e.SetGrants(b.Context(), grants))

	input := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead,
		Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
	d, err := e.Decide(b.Context(), input)
	require.NoError(b, err)
	require.Equal(b, "grant target", d.Reason)

	b.Run("allow_grant", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Decide(b.Context(), input); err != nil {
				b.Fatal(err)
			}
		}
	})

	denied := input
	denied.Action = ActionTableDrop
	b.Run("deny", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Decide(b.Context(), denied); err != nil {
				b.Fatal(err)
			}
		}
	})

	admin := in("root", []string{"admin"}, ActionTableDrop, euOrdersTable())
	b.Run("allow_admin", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Decide(b.Context(), admin); err != nil {
				b.Fatal(err)
			}
		}
	})

	// Same evaluation through rego.EvalInput (JSON conversion of the Go
	// struct) instead of the prebuilt AST input Decide uses, for comparison.
	pol := e.active.Load()
	b.Run("eval_input_struct", func(b *testing.B) {
		for b.Loop() {
			rs, err := pol.query.Eval(b.Context(), rego.EvalInput(input))
			if err != nil || len(rs) == 0 {
				b.Fatal(err, rs)
			}
		}
	})
}

package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"
)

// benchGrants returns n grants spread over the given number of roles and
// subjects: half namespace grants on "ns<i%20>.sub<i%7>" with a family
// wildcard, a third dataset grants, the rest exact namespace grants.
func benchGrants(n, roles, subjects int) []Grant {
	grants := make([]Grant, 0, n)
	for i := range n {
		ptype, principal := PrincipalTypeRole, fmt.Sprintf("role-%d", i%roles)
		if i%2 == 1 {
			ptype, principal = PrincipalTypeSubject, fmt.Sprintf("user-%d", i%subjects)
		}
		id := fmt.Sprintf("g%d", i)
		ns := fmt.Sprintf("ns%d.sub%d", i%20, i%7)
		switch i % 3 {
		case 0:
			grants = append(grants, dsGrant(id, ptype, principal, "table.read_data", ns, fmt.Sprintf("t%d", i)))
		case 1:
			grants = append(grants, nsGrant(id, ptype, principal, "dataset.*", ns))
		default:
			grants = append(grants, nsGrant(id, ptype, principal, "table.load", ns))
		}
	}
	return grants
}

// BenchmarkDecide measures Decide with the default policy and 1000 grants.
// "typical" spreads them over 400 roles and 400 subjects (a few grants per
// principal); "dense" over 50 of each (about ten grants per principal, every
// one of which the policy has to look at).
func BenchmarkDecide(b *testing.B) {
	// OPA's fixed cost per evaluation, for comparison: a one-line policy.
	dir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(allowAllPolicy), 0o644))
	floor, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(b, err)
	b.Run("allow_all_policy/uncached", func(b *testing.B) {
		input := in("root", nil, ActionTableDrop, euOrdersTable())
		pol := floor.active.Load()
		for b.Loop() {
			if _, err := floor.decide(b.Context(), pol, input, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})

	for _, tc := range []struct {
		name            string
		roles, subjects int
	}{
		{"typical", 400, 400},
		{"dense", 50, 50},
	} {
		e, err := New(Config{}, nil, nil)
		require.NoError(b, err)
		grants := append(benchGrants(1000, tc.roles, tc.subjects),
			nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
		require.NoError(b, e.SetGrants(b.Context(), grants))

		allowed := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead,
			Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
		denied := allowed
		denied.Action = ActionTableDrop
		admin := in("root", []string{"admin"}, ActionTableDrop, euOrdersTable())

		d, err := e.Decide(b.Context(), allowed)
		require.NoError(b, err)
		require.Equal(b, "grant target", d.Reason)
		d, err = e.Decide(b.Context(), denied)
		require.NoError(b, err)
		require.False(b, d.Allow)

		for _, bc := range []struct {
			name  string
			input Input
		}{
			{"allow_grant", allowed},
			{"deny", denied},
			{"allow_admin", admin},
		} {
			// cached: the decision cache answers (the default policy is pure).
			b.Run(tc.name+"/cached/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := e.Decide(b.Context(), bc.input); err != nil {
						b.Fatal(err)
					}
				}
			})
			// uncached: a full OPA evaluation, as on a cache miss.
			pol := e.active.Load()
			b.Run(tc.name+"/uncached/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := e.decide(b.Context(), pol, bc.input, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}

		// The same evaluation through rego.EvalInput (conversion of the Go
		// struct) instead of the prebuilt AST input Decide uses.
		pol := e.active.Load()
		b.Run(tc.name+"/eval_input_struct", func(b *testing.B) {
			for b.Loop() {
				rs, err := pol.query.Eval(b.Context(), rego.EvalInput(allowed))
				if err != nil || len(rs) == 0 {
					b.Fatal(err, rs)
				}
			}
		})
	}
}

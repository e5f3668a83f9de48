package policy

import (
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/stretchr/testify/require"
)

func TestZZProfile(t *testing.T) {
	e, err := New(Config{}, nil, nil)
	require.NoError(t, err)
	grants := append(benchGrants(1000), nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
	require.NoError(t, e.SetGrants(t.Context(), grants))
	input := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead,
		Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
	input.Version = InputVersion
	input.Principal.Roles = append([]string{}, input.Principal.Roles...)
	p := profiler.New()
	pol := e.active.Load()
	for range 100 {
		_, err := pol.query.Eval(t.Context(), rego.EvalParsedInput(input.astValue()), rego.EvalQueryTracer(p))
		require.NoError(t, err)
	}
	for _, s := range p.ReportTopNResults(25, []string{"total_time_ns"}) {
		fmt.Printf("%8d ns num_eval=%d redo=%d gen=%d %v\n", s.ExprTimeNs/100, s.NumEval/100, s.NumRedo/100, s.NumGenExpr, s.Location)
	}
}

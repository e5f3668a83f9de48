package policy

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/stretchr/testify/require"
)

func TestZZProfile(t *testing.T) {
	e, err := New(Config{}, nil, nil)
	require.NoError(t, err)
	grants := append(benchGrants(1000, 400, 400), nsGrant("target", PrincipalTypeRole, "analyst", "dataset.read", "sales"))
	require.NoError(t, e.SetGrants(t.Context(), grants))
	input := in("user-3", []string{"role-1", "role-2", "analyst"}, ActionDatasetRead, Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"})
	pol := e.active.Load()
	buf := topdown.NewBufferTracer()
	_, err = pol.query.Eval(t.Context(), rego.EvalParsedInput(input.astValue()), rego.EvalQueryTracer(buf))
	require.NoError(t, err)
	counts := map[string]int{}
	for _, ev := range *buf {
		loc := "?"
		if ev.Location != nil {
			loc = fmt.Sprintf("%d", ev.Location.Row)
		}
		counts[loc+" "+string(ev.Op)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	fmt.Println("total events", len(*buf))
	topdown.PrettyTraceWithLocation(os.Stdout, *buf)
	for _, k := range keys[:30] {
		fmt.Println(counts[k], k)
	}
}

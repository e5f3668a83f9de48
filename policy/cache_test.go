package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestCacheable(t *testing.T) {
	cases := map[string]bool{
		`decision := {"allow": input.principal.sub == "a", "reason": "x"}`:                  true,
		`decision := {"allow": count(data.grants) > 0, "reason": input.resource.kind}`:      true,
		`decision := {"allow": input.principal.roles[_] == "admin", "reason": "r"}`:         true,
		`decision := {"allow": input.context.client_ip == "10.0.0.1", "reason": "ip"}`:      false,
		`decision := {"allow": true, "reason": sprintf("%v", [input])}`:                     false,
		`decision := {"allow": x.context.method == "GET", "reason": "m"} if { x := input }`: false,
		`decision := {"allow": input[k] == "v", "reason": "k"} if { some k }`:               false,
		`decision := {"allow": time.now_ns() > 0, "reason": "t"}`:                           false,
		`decision := {"allow": true, "reason": "r"} if { time.now_ns() > 0 }`:               false,
	}
	for src, want := range cases {
		mod := ast.MustParseModuleWithOpts("package lakegate.authz\n"+src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		c := ast.NewCompiler()
		c.Compile(map[string]*ast.Module{"p.rego": mod})
		require.False(t, c.Failed(), "%s: %v", src, c.Errors)
		require.Equal(t, want, cacheable(c), src)
	}
}

// The decision cache never serves a decision that the current grants or policy would not
// make: a grant change and a policy reload both take effect on the next call.
func TestDecisionCacheFollowsGrantsAndPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package lakegate.authz\n"+src), 0o600))
	}
	write(`decision := {"allow": count([g | some g in data.grants; g.principal == input.principal.sub]) > 0, "reason": "grants"}`)
	reg := prometheus.NewRegistry()
	e, err := New(Config{Dir: dir}, nil, reg)
	require.NoError(t, err)
	require.True(t, e.active.Load().cacheable)
	ctx := context.Background()
	in := Input{Principal: Principal{Subject: "bob"}, Action: ActionDatasetRead, Resource: Resource{Kind: "dataset", Namespace: "s", Name: "o"}}

	for range 3 {
		d, err := e.Decide(ctx, in)
		require.NoError(t, err)
		require.False(t, d.Allow)
	}
	require.Equal(t, 2.0, metricValue(t, reg, "lakegate_policy_decision_cache_hits_total", "", ""))

	require.NoError(t, e.SetGrants(ctx, []Grant{{ID: "g1", PrincipalType: "subject", Principal: "bob", Privilege: "*",
		ScopeType: "namespace", Namespace: "*", CreatedAt: time.Now()}}))
	d, err := e.Decide(ctx, in)
	require.NoError(t, err)
	require.True(t, d.Allow, "a grant change invalidates cached denials")

	write(`decision := {"allow": false, "reason": "closed"}`)
	require.NoError(t, e.Reload(ctx))
	d, err = e.Decide(ctx, in)
	require.NoError(t, err)
	require.False(t, d.Allow, "a policy change invalidates cached allows")
	require.Equal(t, "closed", d.Reason)

	// A policy that reads the request context is never cached.
	write(`decision := {"allow": input.context.method == "GET", "reason": "m"}`)
	require.NoError(t, e.Reload(ctx))
	require.False(t, e.active.Load().cacheable)
	in.Context.Method = "GET"
	d, _ = e.Decide(ctx, in)
	require.True(t, d.Allow)
	in.Context.Method = "POST"
	d, _ = e.Decide(ctx, in)
	require.False(t, d.Allow)
}

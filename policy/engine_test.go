package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakegate/lakegate/internal/transform"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestDecideDefaultPolicy(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	require.NoError(t, e.SetGrants(t.Context(), []Grant{
		nsGrant("g-role", PrincipalTypeRole, "analyst", "dataset.read", "sales"),
		nsGrant("g-subject", PrincipalTypeSubject, "bob", "table.load", "sales"),
		dsGrant("g-dataset", PrincipalTypeSubject, "carol", "table.read_data", "sales.eu", "orders"),
		nsGrant("g-family", PrincipalTypeSubject, "dave", "table.*", "hr"),
		nsGrant("g-all", PrincipalTypeSubject, "erin", "*", "*"),
		nsGrant("g-manage", PrincipalTypeSubject, "frank", "grant.manage", "sales"),
		nsGrant("g-audit", PrincipalTypeRole, "compliance", "audit.read", "*"),
	}))

	tests := []struct {
		name   string
		input  Input
		allow  bool
		reason string
	}{
		{"no grants no roles denied", in("zoe", nil, ActionDatasetRead, ordersDataset()), false,
			"no grant allows dataset.read on dataset sales.orders for zoe"},
		{"empty subject denied", in("", []string{"admin"}, ActionDatasetRead, ordersDataset()), false,
			"unauthenticated principal"},
		{"admin allowed", in("root", []string{"admin"}, ActionTableDrop, euOrdersTable()), true, "role admin"},
		{"auditor audit read", in("aud", []string{"auditor"}, ActionAuditRead, Resource{Kind: KindAudit}), true, "role auditor"},
		{"auditor table load", in("aud", []string{"auditor"}, ActionTableLoad, euOrdersTable()), true, "role auditor"},
		{"auditor read data denied", in("aud", []string{"auditor"}, ActionTableReadData, euOrdersTable()), false,
			"no grant allows table.read_data on table sales.eu.orders for aud"},
		{"auditor write denied", in("aud", []string{"auditor"}, ActionRecordsWrite, ordersDataset()), false,
			"no grant allows records.write on dataset sales.orders for aud"},
		{"role grant", in("alice", []string{"analyst"}, ActionDatasetRead, ordersDataset()), true, "grant g-role"},
		{"role grant wrong action", in("alice", []string{"analyst"}, ActionDatasetUpdate, ordersDataset()), false,
			"no grant allows dataset.update on dataset sales.orders for alice"},
		{"subject grant", in("bob", nil, ActionTableLoad, euOrdersTable()), true, "grant g-subject"},
		{"subject grant other subject", in("bobby", nil, ActionTableLoad, euOrdersTable()), false,
			"no grant allows table.load on table sales.eu.orders for bobby"},
		{"namespace grant covers child", in("alice", []string{"analyst"}, ActionDatasetRead,
			Resource{Kind: KindDataset, Namespace: "sales.eu.west", Name: "x"}), true, "grant g-role"},
		{"namespace grant not sibling", in("alice", []string{"analyst"}, ActionDatasetRead,
			Resource{Kind: KindDataset, Namespace: "salesx", Name: "orders"}), false,
			"no grant allows dataset.read on dataset salesx.orders for alice"},
		{"dataset grant", in("carol", nil, ActionTableReadData, euOrdersTable()), true, "grant g-dataset"},
		{"dataset grant as dataset kind", in("carol", nil, ActionTableReadData,
			Resource{Kind: KindDataset, Namespace: "sales.eu", Name: "orders"}), true, "grant g-dataset"},
		{"dataset grant other table", in("carol", nil, ActionTableReadData,
			Resource{Kind: KindTable, Namespace: "sales.eu", Name: "customers"}), false,
			"no grant allows table.read_data on table sales.eu.customers for carol"},
		{"family wildcard", in("dave", nil, ActionTableCommit, Resource{Kind: KindTable, Namespace: "hr", Name: "staff"}), true, "grant g-family"},
		{"family wildcard other family", in("dave", nil, ActionDatasetRead, Resource{Kind: KindDataset, Namespace: "hr", Name: "staff"}), false,
			"no grant allows dataset.read on dataset hr.staff for dave"},
		{"star wildcard everywhere", in("erin", nil, ActionNamespaceDrop, Resource{Kind: KindNamespace, Namespace: "any.where"}), true, "grant g-all"},
		{"star does not imply grant.manage", in("erin", nil, ActionGrantManage, Resource{Kind: KindGrant, Namespace: "sales"}), false,
			"no grant allows grant.manage on grant sales for erin"},
		{"grant.manage grant", in("frank", nil, ActionGrantManage, Resource{Kind: KindGrant, Namespace: "sales.eu"}), true, "grant g-manage"},
		{"grant.manage other namespace", in("frank", nil, ActionGrantManage, Resource{Kind: KindGrant, Namespace: "hr"}), false,
			"no grant allows grant.manage on grant hr for frank"},
		{"star namespace covers resources without namespace", in("gina", []string{"compliance"}, ActionAuditRead,
			Resource{Kind: KindAudit}), true, "grant g-audit"},
		{"namespace grant does not cover resources without namespace", in("alice", []string{"analyst"}, ActionDatasetRead,
			Resource{Kind: KindService}), false, "no grant allows dataset.read on service for alice"},
		{"global list", in("zoe", nil, ActionNamespaceList, Resource{Kind: KindService}), true, "global list"},
		{"namespace list needs grant", in("zoe", nil, ActionTableList, Resource{Kind: KindNamespace, Namespace: "sales"}), false,
			"no grant allows table.list on namespace sales for zoe"},
		{"namespace list with any privilege", in("bob", nil, ActionTableList, Resource{Kind: KindNamespace, Namespace: "sales.eu"}), true, "grant g-subject"},
		{"unknown action", in("root", []string{"admin"}, Action("dataset.explode"), ordersDataset()), false,
			`unknown action "dataset.explode"`},
		{"unsupported input version", func() Input {
			i := in("root", []string{"admin"}, ActionDatasetRead, ordersDataset())
			i.Version = "v2"
			return i
		}(), false, `unsupported input version "v2"`},
		{"empty version defaults to v1", func() Input {
			i := in("root", []string{"admin"}, ActionDatasetRead, ordersDataset())
			i.Version = ""
			return i
		}(), true, "role admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Decide(t.Context(), tc.input)
			require.NoError(t, err)
			require.Equal(t, Decision{Allow: tc.allow, Reason: tc.reason, Revision: e.Revision()}, d)
		})
	}
}

func TestDecideMetrics(t *testing.T) {
	e, reg := newTestEngine(t, Config{})
	_, err := e.Decide(t.Context(), in("root", []string{"admin"}, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	_, err = e.Decide(t.Context(), in("zoe", nil, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	_, err = e.Decide(t.Context(), in("zoe", nil, Action("nope"), ordersDataset()))
	require.NoError(t, err)

	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_decisions_total", "result", "allow"))
	require.Equal(t, 2.0, metricValue(t, reg, "lakegate_policy_decisions_total", "result", "deny"))
	require.Equal(t, 0.0, metricValue(t, reg, "lakegate_policy_decisions_total", "result", "error"))
	require.Equal(t, 3.0, metricValue(t, reg, "lakegate_policy_decision_duration_seconds", "", ""))
}

func TestSetGrantsReplacesGrants(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	read := in("alice", nil, ActionDatasetRead, ordersDataset())

	require.NoError(t, e.SetGrants(t.Context(), []Grant{nsGrant("g1", PrincipalTypeSubject, "alice", "dataset.read", "sales")}))
	d, err := e.Decide(t.Context(), read)
	require.NoError(t, err)
	require.True(t, d.Allow)
	require.Equal(t, "grant g1", d.Reason)

	// Replacing with an unrelated grant revokes g1.
	require.NoError(t, e.SetGrants(t.Context(), []Grant{nsGrant("g2", PrincipalTypeSubject, "alice", "dataset.read", "hr")}))
	d, err = e.Decide(t.Context(), read)
	require.NoError(t, err)
	require.False(t, d.Allow)

	// An invalid set is rejected as a whole and the previous grants stay.
	err = e.SetGrants(t.Context(), []Grant{
		nsGrant("g3", PrincipalTypeSubject, "alice", "dataset.read", "sales"),
		nsGrant("g3", PrincipalTypeSubject, "alice", "dataset.read", "sales"),
	})
	require.ErrorContains(t, err, `duplicate grant id "g3"`)
	d, err = e.Decide(t.Context(), in("alice", nil, ActionDatasetRead, Resource{Kind: KindDataset, Namespace: "hr", Name: "x"}))
	require.NoError(t, err)
	require.Equal(t, "grant g2", d.Reason)

	err = e.SetGrants(t.Context(), []Grant{{ID: "bad"}})
	require.ErrorContains(t, err, "grants[0]")
	require.ErrorContains(t, err, "principal_type")

	// nil clears every grant.
	require.NoError(t, e.SetGrants(t.Context(), nil))
	d, err = e.Decide(t.Context(), in("alice", nil, ActionDatasetRead, Resource{Kind: KindDataset, Namespace: "hr", Name: "x"}))
	require.NoError(t, err)
	require.False(t, d.Allow)
}

func TestGrantValidate(t *testing.T) {
	valid := nsGrant("g1", PrincipalTypeRole, "analyst", "dataset.read", "sales.eu")
	require.NoError(t, valid.Validate())
	require.NoError(t, dsGrant("g2", PrincipalTypeSubject, "alice", "table.*", "sales", "orders").Validate())
	require.NoError(t, nsGrant("g3", PrincipalTypeRole, "ops", "*", "*").Validate())

	tests := []struct {
		name   string
		mutate func(g *Grant)
		field  string
	}{
		{"empty id", func(g *Grant) { g.ID = " " }, "id"},
		{"bad principal type", func(g *Grant) { g.PrincipalType = "group" }, "principal_type"},
		{"empty principal", func(g *Grant) { g.Principal = "" }, "principal must"},
		{"unknown privilege", func(g *Grant) { g.Privilege = "dataset.explode" }, "privilege"},
		{"unknown family", func(g *Grant) { g.Privilege = "cluster.*" }, "privilege"},
		{"bare prefix", func(g *Grant) { g.Privilege = "dataset" }, "privilege"},
		{"partial wildcard", func(g *Grant) { g.Privilege = "dataset.re*" }, "privilege"},
		{"bad scope type", func(g *Grant) { g.ScopeType = "table" }, "scope_type"},
		{"empty namespace", func(g *Grant) { g.Namespace = "" }, "namespace"},
		{"empty namespace part", func(g *Grant) { g.Namespace = "sales..eu" }, "namespace"},
		{"trailing dot", func(g *Grant) { g.Namespace = "sales." }, "namespace"},
		{"star inside namespace", func(g *Grant) { g.Namespace = "sales.*" }, "namespace"},
		{"name on namespace scope", func(g *Grant) { g.Name = "orders" }, "name must be empty"},
		{"dataset scope without name", func(g *Grant) { g.ScopeType = ScopeDataset }, "name must not be empty"},
		{"dataset scope star namespace", func(g *Grant) {
			g.ScopeType = ScopeDataset
			g.Namespace = "*"
			g.Name = "orders"
		}, "namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := valid
			tc.mutate(&g)
			err := g.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestGrantsDataIndex(t *testing.T) {
	list, index := grantsData([]Grant{
		nsGrant("b", PrincipalTypeRole, "r", "dataset.read", "sales"),
		nsGrant("a", PrincipalTypeRole, "r", "dataset.read", "sales"),
		nsGrant("d", PrincipalTypeRole, "r", "table.*", "*"),
		dsGrant("c", PrincipalTypeSubject, "s", "*", "sales", "orders"),
	})
	require.Len(t, list, 4)
	// Same shape as the index helper of default/authz_test.rego
	// (test_index_helper).
	require.Equal(t, map[string]any{
		"namespace": map[string]any{"role": map[string]any{"r": map[string]any{
			"sales.": map[string]any{"dataset.read": []any{"a", "b"}},
			"":       map[string]any{"table.*": []any{"d"}},
		}}},
		"dataset": map[string]any{"subject": map[string]any{"s": map[string]any{
			"sales": map[string]any{"orders": map[string]any{"*": []any{"c"}}},
		}}},
	}, index)

	// data.grants documents have exactly the JSON shape of Grant.
	for i, g := range []Grant{
		nsGrant("n", PrincipalTypeRole, "r", "*", "*"),
		dsGrant("d", PrincipalTypeSubject, "s", "table.load", "a.b", "t"),
	} {
		raw, err := json.Marshal(g)
		require.NoError(t, err)
		var want map[string]any
		require.NoError(t, json.Unmarshal(raw, &want))
		require.Equal(t, want, g.document(), "grant %d", i)
	}
}

func TestActions(t *testing.T) {
	actions := Actions()
	require.Len(t, actions, 30)
	seen := map[Action]bool{}
	for _, a := range actions {
		require.True(t, a.Valid(), a)
		require.False(t, seen[a], "duplicate %s", a)
		seen[a] = true
	}
	require.False(t, Action("").Valid())
	require.False(t, Action("dataset.*").Valid())
	require.False(t, Action("DATASET.READ").Valid())

	actions[0] = "mutated"
	require.Equal(t, ActionDatasetCreate, Actions()[0], "Actions must return a copy")
}

func TestInputASTMatchesJSON(t *testing.T) {
	inputs := []Input{
		in("alice", []string{"a", "b"}, ActionTableLoad, euOrdersTable()),
		{Version: InputVersion, Action: ActionAuditRead, Resource: Resource{Kind: KindAudit}},
		{
			Version:   InputVersion,
			Principal: Principal{Subject: "x", Roles: []string{}},
			Action:    ActionDatasetList,
			Resource:  Resource{Kind: KindService, Name: "only-name"},
			Context: RequestContext{RequestID: "r", ClientIP: "10.0.0.1", Method: "GET", Path: "/v1/x",
				Time: time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))},
		},
	}
	for i, input := range inputs {
		raw, err := json.Marshal(input)
		require.NoError(t, err)
		want, err := ast.ValueFromReader(strings.NewReader(string(raw)))
		require.NoError(t, err)
		require.Equal(t, 0, want.Compare(input.astValue()), "input %d: json %s, ast %s", i, raw, input.astValue())
	}
}

func TestDefaultRevision(t *testing.T) {
	e1, _ := newTestEngine(t, Config{})
	e2, _ := newTestEngine(t, Config{})
	require.Regexp(t, `^sha256:[0-9a-f]{16}$`, e1.Revision())
	require.Equal(t, e1.Revision(), e2.Revision())

	// Reload of the unchanged default keeps the revision.
	require.NoError(t, e1.Reload(t.Context()))
	require.Equal(t, e2.Revision(), e1.Revision())
}

func TestRevisionOf(t *testing.T) {
	a := revisionOf([]policyFile{{name: "a.rego", content: []byte("x")}, {name: "b.rego", content: []byte("y")}})
	b := revisionOf([]policyFile{{name: "b.rego", content: []byte("y")}, {name: "a.rego", content: []byte("x")}})
	require.Equal(t, a, b, "order of files must not matter")
	require.NotEqual(t, a, revisionOf([]policyFile{{name: "a.rego", content: []byte("x")}, {name: "b.rego", content: []byte("z")}}))
	require.NotEqual(t, a, revisionOf([]policyFile{{name: "a.rego", content: []byte("x")}, {name: "c.rego", content: []byte("y")}}))
}

const allowAllPolicy = `package lakegate.authz

decision := {"allow": true, "reason": "custom allow-all"}
`

const brokenPolicy = `package lakegate.authz

decision := {"allow": true,
`

func TestUserPolicyReplacesDefault(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "authz.rego", allowAllPolicy)
	writeFile(t, dir, "authz_test.rego", "this file is not Rego and must be ignored")
	writeFile(t, dir, ".hidden/authz.rego", "neither is this")

	def, _ := newTestEngine(t, Config{})
	e, _ := newTestEngine(t, Config{Dir: dir})
	require.NotEqual(t, def.Revision(), e.Revision())

	d, err := e.Decide(t.Context(), in("zoe", nil, ActionTableDrop, euOrdersTable()))
	require.NoError(t, err)
	require.Equal(t, Decision{Allow: true, Reason: "custom allow-all", Revision: e.Revision()}, d)

	// The closed action list is enforced even for custom policies.
	d, err = e.Decide(t.Context(), in("zoe", nil, Action("table.explode"), euOrdersTable()))
	require.NoError(t, err)
	require.False(t, d.Allow)
}

func TestUserPolicyCanReadGrants(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policies/authz.rego", `package lakegate.authz

decision := {"allow": true, "reason": sprintf("%d grants", [count(data.grants)])} if {
	some g in data.grants
	g.principal == input.principal.sub
} else := {"allow": false, "reason": "not mentioned"}
`)
	e, _ := newTestEngine(t, Config{Dir: dir})
	require.NoError(t, e.SetGrants(t.Context(), []Grant{
		nsGrant("g1", PrincipalTypeSubject, "alice", "dataset.read", "x"),
		nsGrant("g2", PrincipalTypeRole, "ops", "dataset.read", "y"),
	}))
	d, err := e.Decide(t.Context(), in("alice", nil, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	require.Equal(t, "2 grants", d.Reason)
	require.True(t, d.Allow)
}

func TestReloadRefusesBadPolicy(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "authz.rego", allowAllPolicy)
	e, reg := newTestEngine(t, Config{Dir: dir})
	before := e.Revision()

	cases := map[string]string{
		"syntax error":      brokenPolicy,
		"no decision rule":  "package lakegate.authz\n\nallow := true\n",
		"decision is a set": "package lakegate.authz\n\ndecision contains \"x\"\n",
		"unsafe variable":   "package lakegate.authz\n\ndecision := {\"allow\": x, \"reason\": \"r\"} if { x != 1 }\n",
	}
	refused := 0.0
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			writeFile(t, dir, "authz.rego", content)
			err := e.Reload(t.Context())
			require.Error(t, err)
			require.ErrorContains(t, err, "keeping revision "+before)
			refused++
			require.Equal(t, before, e.Revision())
			require.Equal(t, refused, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "refused"))

			d, err := e.Decide(t.Context(), in("zoe", nil, ActionDatasetRead, ordersDataset()))
			require.NoError(t, err)
			require.Equal(t, Decision{Allow: true, Reason: "custom allow-all", Revision: before}, d)
		})
	}

	require.NoError(t, os.Remove(filepath.Join(dir, "authz.rego")))
	require.ErrorContains(t, e.Reload(t.Context()), "no .rego files")
	require.Equal(t, before, e.Revision())

	// A good policy is accepted again.
	writeFile(t, dir, "authz.rego", strings.Replace(allowAllPolicy, "custom allow-all", "v2", 1))
	require.NoError(t, e.Reload(t.Context()))
	require.NotEqual(t, before, e.Revision())
	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "ok"))
}

func TestMalformedDecisionsDeny(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		reason  string
		wantErr bool
	}{
		{"undefined", "package lakegate.authz\n\ndecision := {\"allow\": true} if input.never\n", "policy decision undefined", false},
		{"not an object", "package lakegate.authz\n\ndecision := true\n", "policy decision is not an object", false},
		{"non boolean allow", "package lakegate.authz\n\ndecision := {\"allow\": \"yes\", \"reason\": \"r\"}\n", "policy decision has no boolean allow", false},
		{"missing allow", "package lakegate.authz\n\ndecision := {\"reason\": \"r\"}\n", "policy decision has no boolean allow", false},
		{"deny without reason", "package lakegate.authz\n\ndecision := {\"allow\": false}\n", "denied by policy", false},
		{"eval error", `package lakegate.authz

decision := {"allow": true, "reason": "a"} if input.action
decision := {"allow": false, "reason": "b"} if input.action
`, "policy evaluation error", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "authz.rego", tc.policy)
			e, reg := newTestEngine(t, Config{Dir: dir})
			d, err := e.Decide(t.Context(), in("root", []string{"admin"}, ActionDatasetRead, ordersDataset()))
			require.False(t, d.Allow)
			require.Equal(t, tc.reason, d.Reason)
			require.Equal(t, e.Revision(), d.Revision)
			if tc.wantErr {
				require.Error(t, err)
				require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_decisions_total", "result", "error"))
			} else {
				require.NoError(t, err)
				require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_decisions_total", "result", "deny"))
			}
		})
	}
}

func TestRunPicksUpChanges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "authz.rego", allowAllPolicy)
	e, reg := newTestEngine(t, Config{Dir: dir, PollInterval: 5 * time.Millisecond})
	first := e.Revision()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	// A broken change is refused and the active policy stays.
	writeFile(t, dir, "authz.rego", brokenPolicy)
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "lakegate_policy_reloads_total", "result", "refused") == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, first, e.Revision())

	// A valid change is activated.
	writeFile(t, dir, "authz.rego", strings.Replace(allowAllPolicy, "custom allow-all", "changed", 1))
	require.Eventually(t, func() bool { return e.Revision() != first }, 5*time.Second, 5*time.Millisecond)
	d, err := e.Decide(t.Context(), in("zoe", nil, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	require.Equal(t, "changed", d.Reason)
	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "ok"))
	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "refused"),
		"a refused revision must be reported once, not on every tick")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunReportsUnreadableDirOnce(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "authz.rego", allowAllPolicy)
	e, reg := newTestEngine(t, Config{Dir: dir, PollInterval: 5 * time.Millisecond})
	first := e.Revision()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	require.NoError(t, os.Rename(filepath.Join(dir, "authz.rego"), filepath.Join(dir, "authz.rego.bak")))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "lakegate_policy_reloads_total", "result", "refused") == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, first, e.Revision())
	d, err := e.Decide(t.Context(), in("zoe", nil, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	require.True(t, d.Allow, "the previous policy stays active")

	// Once the directory is readable again, the next change is applied and
	// the refusal is not repeated.
	require.NoError(t, os.Rename(filepath.Join(dir, "authz.rego.bak"), filepath.Join(dir, "authz.rego")))
	writeFile(t, dir, "marker.rego", "package marker\n")
	require.Eventually(t, func() bool { return e.Revision() != first }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "refused"))
	require.Equal(t, 1.0, metricValue(t, reg, "lakegate_policy_reloads_total", "result", "ok"))

	cancel()
	require.NoError(t, <-done)
}

func TestRunWithoutDirWaitsForContext(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	select {
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewErrors(t *testing.T) {
	require.ErrorContains(t, Config{PollInterval: -time.Second}.Validate(), "poll_interval")
	require.ErrorContains(t, Config{Dir: filepath.Join(t.TempDir(), "missing")}.Validate(), "dir")
	file := filepath.Join(t.TempDir(), "f.rego")
	require.NoError(t, os.WriteFile(file, []byte(allowAllPolicy), 0o644))
	require.ErrorContains(t, Config{Dir: file}.Validate(), "not a directory")

	_, err := New(Config{PollInterval: -1}, nil, nil)
	require.Error(t, err)

	_, err = New(Config{Dir: t.TempDir()}, nil, nil)
	require.ErrorContains(t, err, "no .rego files")

	broken := t.TempDir()
	writeFile(t, broken, "authz.rego", brokenPolicy)
	_, err = New(Config{Dir: broken}, nil, nil)
	require.ErrorContains(t, err, "parse")

	reg := prometheus.NewRegistry()
	_, err = New(Config{}, nil, reg)
	require.NoError(t, err)
	_, err = New(Config{}, nil, reg)
	require.ErrorContains(t, err, "register policy metrics")
}

func TestConcurrentDecideAndSetGrants(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	ctx := t.Context()
	withGrant := []Grant{nsGrant("g1", PrincipalTypeSubject, "alice", "dataset.read", "sales")}
	require.NoError(t, e.SetGrants(ctx, withGrant))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				d, err := e.Decide(ctx, in("alice", nil, ActionDatasetRead, ordersDataset()))
				if err != nil {
					errs <- err
					return
				}
				// Either the grant is present or it is not: never a
				// malformed decision.
				if d.Allow && d.Reason != "grant g1" || !d.Allow && !strings.HasPrefix(d.Reason, "no grant allows") {
					errs <- fmt.Errorf("worker %d iteration %d: unexpected decision %+v", w, i, d)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			grants := withGrant
			if i%2 == 0 {
				grants = nil
			}
			if err := e.SetGrants(ctx, grants); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for range 5 {
			if err := e.Reload(ctx); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.NoError(t, e.SetGrants(ctx, withGrant))
	d, err := e.Decide(ctx, in("alice", nil, ActionDatasetRead, ordersDataset()))
	require.NoError(t, err)
	require.True(t, d.Allow)
}

// A decision's transforms reach the caller; transforms that cannot be understood turn the
// decision into a denial rather than being ignored. Fields are part of the cache key.
func TestDecisionTransforms(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "authz.rego", `package lakegate.authz

decision := {"allow": true, "reason": "ok", "transforms": [{"field": f.path, "op": "mask", "keep_last": 4} | some f in input.resource.fields]} if {
	input.principal.sub == "good"
} else := {"allow": true, "reason": "ok", "transforms": [{"field": "x", "op": "encrypt"}]}
`)
	e, _ := newTestEngine(t, Config{Dir: dir})
	res := Resource{Kind: KindDataset, Namespace: "crm", Name: "users", Fields: []Field{{Path: "card", Tags: []string{"pci"}}}}
	d, err := e.Decide(t.Context(), in("good", nil, ActionRecordsWrite, res))
	require.NoError(t, err)
	require.True(t, d.Allow)
	require.Equal(t, []transform.Spec{{Field: "card", Op: transform.Mask, KeepLast: 4}}, d.Transforms)

	res.Fields = nil
	d, err = e.Decide(t.Context(), in("good", nil, ActionRecordsWrite, res))
	require.NoError(t, err)
	require.Empty(t, d.Transforms, "another field list is another decision")

	d, err = e.Decide(t.Context(), in("bad", nil, ActionRecordsWrite, res))
	require.NoError(t, err)
	require.False(t, d.Allow)
	require.Contains(t, d.Reason, "invalid transforms")
}

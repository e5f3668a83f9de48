package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
)

type grantJSON struct {
	ID string `json:"id"`
}

func TestAuthorizationThroughGrants(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "producer")
	carol := testenv.Token(t, "carol")
	auditor := testenv.Token(t, "dave", "auditor")

	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
	other := ordersBody()
	other["namespace"], other["name"] = "hr", "people"
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, other).Status)

	// Deny by default, with the policy's reason, audited as a denial.
	r := env.Do(t, "GET", "/v1/datasets/sales/orders", bob, nil)
	require.Equal(t, http.StatusForbidden, r.Status)
	e := r.Err(t)
	require.Equal(t, "permission_denied", e.Error.Code)
	require.Contains(t, e.Error.Message, "dataset.read")
	row := env.AuditRow(t, e.Error.RequestID)
	require.Equal(t, lineage.DecisionDeny, row.Decision)
	require.Equal(t, "bob", row.Principal)
	require.Equal(t, []string{"producer"}, row.Roles)
	require.Equal(t, "dataset:sales.orders", row.Resource)
	require.Equal(t, env.Policy.Revision(), row.PolicyRevision)
	require.Equal(t, http.StatusForbidden, env.Do(t, "POST", "/v1/datasets", bob, ordersBody()).Status)
	require.Equal(t, http.StatusForbidden, env.Do(t, "POST", "/v1/grants", bob, map[string]any{
		"principal_type": "subject", "principal": "bob", "privilege": "*", "scope_type": "namespace", "namespace": "*"}).Status)

	// A role grant on the namespace lets every producer read sales.* but not hr.
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "role", "principal": "producer", "privilege": "dataset.read", "scope_type": "namespace", "namespace": "sales"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var g grantJSON
	r.JSON(t, &g)
	grantRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "grant.manage", grantRow.Action)
	require.Equal(t, http.StatusCreated, grantRow.Status)
	r = env.Do(t, "GET", "/v1/datasets/sales/orders", bob, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, env.AuditRow(t, r.Header.Get("X-Request-Id")).Reason, g.ID)
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/datasets/hr/people", bob, nil).Status)
	require.Equal(t, http.StatusForbidden, env.Do(t, "PATCH", "/v1/datasets/sales/orders", bob, map[string]any{"owner": "bob"}).Status)

	// Listing shows only what the principal may read.
	var list struct{ Datasets []dataset }
	env.Do(t, "GET", "/v1/datasets", bob, nil).JSON(t, &list)
	require.Len(t, list.Datasets, 1)
	require.Equal(t, "orders", list.Datasets[0].Name)
	env.Do(t, "GET", "/v1/datasets", carol, nil).JSON(t, &list)
	require.Empty(t, list.Datasets)

	// A subject grant on one dataset.
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "subject", "principal": "carol", "privilege": "dataset.*", "scope_type": "dataset", "namespace": "hr", "name": "people"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets/hr/people", carol, nil).Status)
	require.Equal(t, http.StatusOK, env.Do(t, "PATCH", "/v1/datasets/hr/people", carol, map[string]any{"owner": "carol"}).Status)
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/datasets/sales/orders", carol, nil).Status)

	// The same grant twice is a conflict; a malformed one is named.
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "subject", "principal": "carol", "privilege": "dataset.*", "scope_type": "dataset", "namespace": "hr", "name": "people"})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "role", "principal": "x", "privilege": "dataset.fly", "scope_type": "namespace", "namespace": "sales"})
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Contains(t, r.Err(t).Error.Message, "privilege")

	var grants struct{ Grants []policy.Grant }
	env.Do(t, "GET", "/v1/grants?principal=producer", admin, nil).JSON(t, &grants)
	require.Len(t, grants.Grants, 1)

	// Revoking takes effect at once.
	require.Equal(t, http.StatusNoContent, env.Do(t, "DELETE", "/v1/grants/"+g.ID, admin, nil).Status)
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/datasets/sales/orders", bob, nil).Status)
	require.Equal(t, http.StatusNotFound, env.Do(t, "DELETE", "/v1/grants/"+g.ID, admin, nil).Status)
	require.Equal(t, http.StatusForbidden, env.Do(t, "DELETE", "/v1/grants/"+g.ID, bob, nil).Status, "no existence oracle for the unauthorised")

	// Auditors read the audit log; others don't.
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/audit", bob, nil).Status)
	r = env.Do(t, "GET", "/v1/audit?principal=bob&decision=deny&page_size=2", auditor, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var audit struct {
		Entries       []lineage.AuditEntry `json:"entries"`
		NextPageToken string               `json:"next_page_token"`
	}
	r.JSON(t, &audit)
	require.Len(t, audit.Entries, 2)
	for _, e := range audit.Entries {
		require.Equal(t, "bob", e.Principal)
		require.Equal(t, "deny", e.Decision)
	}
	require.NotEmpty(t, audit.NextPageToken)
	var next struct{ Entries []lineage.AuditEntry }
	env.Do(t, "GET", "/v1/audit?principal=bob&decision=deny&page_size=2&page_token="+audit.NextPageToken, auditor, nil).JSON(t, &next)
	require.NotEmpty(t, next.Entries)
	require.Less(t, next.Entries[0].ID, audit.Entries[1].ID)
	env.Do(t, "GET", "/v1/audit?resource=dataset:hr.*&action=dataset.update", auditor, nil).JSON(t, &next)
	require.Len(t, next.Entries, 1)
	require.Equal(t, "carol", next.Entries[0].Principal)
	r = env.Do(t, "GET", "/v1/audit?since=yesterday", auditor, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
}

// A policy directory replaces the default policy and is reloaded when it changes; a broken
// policy is refused and the previous one stays in force.
func TestPolicyDirReload(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(src), 0o600))
	}
	write(`package lakegate.authz
decision := {"allow": true, "reason": "readers may read"} if { input.action == "dataset.read"; "reader" in input.principal.roles }
decision := {"allow": false, "reason": "custom deny"} if { not input.action == "dataset.read" }
decision := {"allow": false, "reason": "custom deny"} if { not "reader" in input.principal.roles }
`)
	env := testenv.New(t, testenv.Options{PolicyDir: dir})
	reader := testenv.Token(t, "erin", "reader")
	admin := testenv.Token(t, "alice", "admin")

	r := env.Do(t, "POST", "/v1/datasets", admin, ordersBody())
	require.Equal(t, http.StatusForbidden, r.Status, "the user's policy replaces the default, where admin could do anything")
	require.Contains(t, r.Err(t).Error.Message, "custom deny")
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", "/v1/datasets/sales/orders", reader, nil).Status)
	rev := env.Policy.Revision()

	write(`package lakegate.authz
decision := {"allow": true, "reason": "open house"}
`)
	require.Eventually(t, func() bool { return env.Policy.Revision() != rev }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
	rev = env.Policy.Revision()

	write(`package lakegate.authz
decision := {"allow": true,   # broken
`)
	time.Sleep(300 * time.Millisecond) // several poll intervals
	require.Equal(t, rev, env.Policy.Revision(), "a policy that does not compile is refused")
	r = env.Do(t, "GET", "/v1/datasets/sales/orders", reader, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, rev, env.AuditRow(t, r.Header.Get("X-Request-Id")).PolicyRevision)
}

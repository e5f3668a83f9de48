package policy_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/policy"
)

// A grant created through one lakegate process takes effect in another through Postgres
// notifications, long before the periodic refresh.
func TestGrantsPropagateAcrossProcesses(t *testing.T) {
	pool := pgtest.Pool(t)
	logger := slog.New(slog.DiscardHandler)
	newProc := func() (*policy.Engine, *policy.GrantStore) {
		e, err := policy.New(policy.Config{}, logger, prometheus.NewRegistry())
		require.NoError(t, err)
		return e, policy.NewGrantStore(pool, e, logger, time.Hour)
	}
	engineA, storeA := newProc()
	_, storeB := newProc()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = storeA.Run(ctx) }()

	in := policy.Input{Version: policy.InputVersion, Principal: policy.Principal{Subject: "bob", Roles: []string{"producer"}},
		Action: policy.ActionRecordsWrite, Resource: policy.Resource{Kind: "dataset", Namespace: "sales", Name: "orders"}}
	d, err := engineA.Decide(ctx, in)
	require.NoError(t, err)
	require.False(t, d.Allow)

	g, err := storeB.Create(ctx, policy.Grant{PrincipalType: "role", Principal: "producer", Privilege: "records.write",
		ScopeType: "dataset", Namespace: "sales", Name: "orders", CreatedBy: "alice"}, nil)
	require.NoError(t, err)
	require.Regexp(t, `^g_[0-9a-f]{20}$`, g.ID)
	require.Eventually(t, func() bool {
		d, err := engineA.Decide(ctx, in)
		return err == nil && d.Allow
	}, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, storeB.Revoke(ctx, g.ID, nil))
	require.Eventually(t, func() bool {
		d, err := engineA.Decide(ctx, in)
		return err == nil && !d.Allow
	}, 5*time.Second, 10*time.Millisecond)

	_, err = storeB.Get(ctx, g.ID)
	require.ErrorIs(t, err, policy.ErrNoSuchGrant)
	_, err = storeB.Create(ctx, policy.Grant{PrincipalType: "team", Principal: "x", Privilege: "*", ScopeType: "namespace", Namespace: "*"}, nil)
	require.ErrorIs(t, err, policy.ErrInvalidGrant)
}

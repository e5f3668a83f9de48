package lineage_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/lineage"
)

func newLog(t *testing.T, cfg lineage.AuditConfig) *lineage.AuditLog {
	pool := pgtest.Pool(t)
	a, err := lineage.NewAuditLog(cfg, pool, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	return a
}

// Batched rows are never lost on a clean shutdown: Close drains the queue.
func TestAuditCloseDrainsQueue(t *testing.T) {
	// A long flush interval and big batches: nothing is written until Close forces it.
	a := newLog(t, lineage.AuditConfig{BatchSize: 100000, FlushInterval: time.Hour, QueueSize: 20000})
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	const n = 5000
	for i := range n {
		a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("r%d", i), Decision: lineage.DecisionAllow, Status: 200, Principal: "p"})
	}
	require.NoError(t, a.Close(t.Context()))
	require.NoError(t, <-done)
	rows, err := a.Query(t.Context(), lineage.AuditQuery{Principal: "p", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, rows, 1000)
	require.Equal(t, fmt.Sprintf("r%d", n-1), rows[0].RequestID, "newest first")

	// After Close, rows are written directly rather than lost.
	a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: "late", Decision: lineage.DecisionDeny, Status: 403, Principal: "q"})
	rows, err = a.Query(t.Context(), lineage.AuditQuery{Principal: "q"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
}

func TestAuditCount(t *testing.T) {
	a := newLog(t, lineage.AuditConfig{BatchSize: 64, FlushInterval: 10 * time.Millisecond, QueueSize: 8})
	go func() { _ = a.Run(context.Background()) }()
	const n = 1000
	for i := range n {
		a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("r%d", i), Decision: lineage.DecisionAllow, Status: 200, Principal: "p",
			Details: map[string]any{"i": i}})
	}
	require.NoError(t, a.Close(t.Context()))
	seen := 0
	var before int64
	for {
		rows, err := a.Query(t.Context(), lineage.AuditQuery{Principal: "p", Limit: 300, Before: before})
		require.NoError(t, err)
		if len(rows) == 0 {
			break
		}
		seen += len(rows)
		before = rows[len(rows)-1].ID
	}
	require.Equal(t, n, seen, "a small queue makes Enqueue wait, never drop")
}

// Insert writes inside the caller's transaction: a rolled-back mutation leaves no audit row.
func TestAuditInsertIsTransactional(t *testing.T) {
	pool := pgtest.Pool(t)
	a, err := lineage.NewAuditLog(lineage.AuditConfig{}, pool, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	require.NoError(t, a.Insert(t.Context(), tx, lineage.AuditEntry{At: time.Now(), RequestID: "rolled-back", Decision: "allow", Status: 201}))
	require.NoError(t, tx.Rollback(t.Context()))
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM audit_log").Scan(&n))
	require.Zero(t, n)
}

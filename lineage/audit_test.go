package lineage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
		require.NoError(t, a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("r%d", i), Decision: lineage.DecisionAllow, Status: 200, Principal: "p"}))
	}
	require.NoError(t, a.Close(t.Context()))
	require.NoError(t, <-done)
	rows, err := a.Query(t.Context(), lineage.AuditQuery{Principal: "p", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, rows, 1000)
	require.Equal(t, fmt.Sprintf("r%d", n-1), rows[0].RequestID, "newest first")

	// After Close, rows are written directly rather than lost.
	require.NoError(t, a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: "late", Decision: lineage.DecisionDeny, Status: 403, Principal: "q"}))
	rows, err = a.Query(t.Context(), lineage.AuditQuery{Principal: "q"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
}

// A small queue never makes Enqueue wait: a row it has no room for is refused at once, and
// every row it accepted is written.
func TestAuditCount(t *testing.T) {
	a := newLog(t, lineage.AuditConfig{BatchSize: 64, FlushInterval: 10 * time.Millisecond, QueueSize: 8})
	go func() { _ = a.Run(context.Background()) }()
	const n = 1000
	accepted := 0
	for i := range n {
		err := a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("r%d", i), Decision: lineage.DecisionAllow, Status: 200, Principal: "p",
			Details: map[string]any{"i": i}})
		if err == nil {
			accepted++
			continue
		}
		require.ErrorIs(t, err, lineage.ErrQueueFull)
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, a.Close(t.Context()))
	require.Positive(t, accepted)
	require.Len(t, principalRows(t, a, "p"), accepted, "every accepted row is written")
}

// A full queue refuses at once, whether a request reserves room for its row when it starts or
// queues it without a reservation; the backlog then reports the log not ready.
func TestAuditQueueFullFailsFast(t *testing.T) {
	a := newLog(t, lineage.AuditConfig{QueueSize: 4, FlushInterval: time.Hour})
	row := lineage.AuditEntry{At: time.Now(), RequestID: "r", Decision: lineage.DecisionAllow, Status: 200}
	require.NoError(t, a.Reserve())
	require.NoError(t, a.Reserve())
	require.NoError(t, a.Enqueue(t.Context(), row))
	require.NoError(t, a.Enqueue(t.Context(), row))
	require.Error(t, a.Backlog().Err(), "at the high-water mark")

	done := make(chan error, 2)
	go func() { done <- a.Reserve() }()
	go func() { done <- a.Enqueue(t.Context(), row) }()
	for range 2 {
		select {
		case err := <-done:
			require.ErrorIs(t, err, lineage.ErrQueueFull)
		case <-time.After(5 * time.Second):
			t.Fatal("a full queue made the caller wait")
		}
	}
	// A reservation always has its room.
	a.EnqueueReserved(t.Context(), row)
	a.Release()
	require.NoError(t, a.Reserve())
	b := a.Backlog()
	require.Equal(t, 3, b.Queued)
	require.Equal(t, 1, b.Reserved)
	require.Equal(t, 4, b.Capacity)
	require.Positive(t, b.OldestUnwrittenSeconds)
}

// The oldest unwritten row's age makes the log not ready once past the maximum lag.
func TestAuditBacklogLag(t *testing.T) {
	a := newLog(t, lineage.AuditConfig{QueueSize: 100, FlushInterval: time.Hour, MaxLag: time.Millisecond})
	require.NoError(t, a.Backlog().Err())
	require.NoError(t, a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: "r", Decision: lineage.DecisionAllow, Status: 200}))
	time.Sleep(5 * time.Millisecond)
	require.ErrorContains(t, a.Backlog().Err(), "oldest unwritten row")
}

// One row of a batch that Postgres refuses for its content does not hold the others back:
// the batch is split down to it, every other row is written as it is, and the refused one
// is written isolated (escaped to ASCII), counted and never retried forever. Rows holding
// NUL or invalid UTF-8 are escaped before they reach Postgres.
func TestAuditIsolatesRefusedRow(t *testing.T) {
	pool := pgtest.Pool(t)
	// This database refuses what a LATIN1 database could not store (e.g. '€') in user_agent,
	// as a stand-in for any content Postgres refuses.
	_, err := pool.Exec(t.Context(), `CREATE FUNCTION refuse_non_latin1() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.user_agent ~ '[^\x01-\xff]' THEN
				RAISE EXCEPTION 'character has no equivalent in encoding "LATIN1"' USING ERRCODE = '22P05';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_non_latin1 BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_non_latin1()`)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	a, err := lineage.NewAuditLog(lineage.AuditConfig{BatchSize: 1000, FlushInterval: time.Hour}, pool, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	const n, refused, escaped = 300, 137, 42
	for i := range n {
		e := lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("r%d", i), Decision: lineage.DecisionAllow, Status: 200, Principal: "p", UserAgent: fmt.Sprintf("ua-%d", i)}
		switch i {
		case refused:
			e.UserAgent = "ua-€"
		case escaped:
			e.Path, e.UserAgent, e.Details = "/v1/datasets/\x00/x", "ua-\xff", map[string]any{"k\x00": "v\x00", "raw": json.RawMessage(`"\u0000"`)}
		}
		require.NoError(t, a.Enqueue(t.Context(), e))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, a.Close(ctx))
	require.NoError(t, <-done)
	require.NoError(t, ctx.Err(), "the batch was written, not retried until the deadline")

	rows := principalRows(t, a, "p")
	require.Len(t, rows, n, "every row is written once")
	got := rows[fmt.Sprintf("r%d", refused)]
	require.Equal(t, `ua-\u20ac`, got.UserAgent)
	require.Contains(t, got.Details["audit_isolated"], "22P05")
	got = rows[fmt.Sprintf("r%d", escaped)]
	require.Equal(t, `/v1/datasets/\x00/x`, got.Path)
	require.Equal(t, `ua-\xFF`, got.UserAgent)
	require.Equal(t, map[string]any{`k\x00`: `v\x00`, "raw": `\x00`}, got.Details)
	require.Equal(t, "ua-7", rows["r7"].UserAgent)
	require.Equal(t, 1.0, counter(t, reg, "lakegate_audit_rows_escaped_total"))
	require.Equal(t, 1.0, counter(t, reg, "lakegate_audit_rows_isolated_total"))
	require.Equal(t, 300.0, counter(t, reg, "lakegate_audit_rows_written_total"))
}

// Rows the writer cannot write by the deadline (Postgres unreachable) are spilled to a
// private file when it stops, without waiting longer; the next start writes them and removes
// the file.
func TestAuditSpillAndReplay(t *testing.T) {
	spillDir := filepath.Join(t.TempDir(), "audit-spill")
	down, err := pgxpool.New(t.Context(), "postgres://postgres@"+closedAddr(t)+"/x?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	defer down.Close()
	reg := prometheus.NewRegistry()
	a, err := lineage.NewAuditLog(lineage.AuditConfig{FlushInterval: 10 * time.Millisecond, SpillDir: spillDir}, down, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	const n = 50
	for i := range n {
		require.NoError(t, a.Enqueue(t.Context(), lineage.AuditEntry{At: time.Now(), RequestID: fmt.Sprintf("s%d", i), Decision: lineage.DecisionAllow,
			Status: 200, Principal: "spilled", UserAgent: "ua\x00", Details: map[string]any{"i": i}}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, a.Close(ctx))
	require.NoError(t, <-done)
	require.Less(t, time.Since(start), 5*time.Second, "Close is bounded by its context")

	files, err := filepath.Glob(filepath.Join(spillDir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	st, err := os.Stat(files[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Equal(t, n, strings.Count(string(b), "\n"))
	require.Equal(t, 50.0, counter(t, reg, "lakegate_audit_rows_spilled_total"))

	// The next start replays the file.
	pool := pgtest.Pool(t)
	reg = prometheus.NewRegistry()
	a, err = lineage.NewAuditLog(lineage.AuditConfig{FlushInterval: 10 * time.Millisecond, SpillDir: spillDir}, pool, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)
	go func() { done <- a.Run(context.Background()) }()
	require.NoError(t, a.Close(t.Context()))
	require.NoError(t, <-done)
	rows, err := a.Query(t.Context(), lineage.AuditQuery{Principal: "spilled", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, rows, n)
	require.Equal(t, "s49", rows[0].RequestID)
	require.Equal(t, `ua\x00`, rows[0].UserAgent)
	require.Equal(t, map[string]any{"i": float64(49)}, rows[0].Details)
	files, err = filepath.Glob(filepath.Join(spillDir, "*"))
	require.NoError(t, err)
	require.Empty(t, files, "a replayed file is removed")
	require.Equal(t, 50.0, counter(t, reg, "lakegate_audit_rows_replayed_total"))
}

// principalRows reads every audit row of principal, by request id.
func principalRows(t *testing.T, a *lineage.AuditLog, principal string) map[string]lineage.AuditEntry {
	t.Helper()
	rows := map[string]lineage.AuditEntry{}
	var before int64
	for {
		page, err := a.Query(t.Context(), lineage.AuditQuery{Principal: principal, Limit: 300, Before: before})
		require.NoError(t, err)
		if len(page) == 0 {
			return rows
		}
		for _, r := range page {
			rows[r.RequestID] = r
		}
		before = page[len(page)-1].ID
	}
}

// counter is the value of the counter name in reg (0 when it has no sample).
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
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

package lineage

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

// Whatever bytes a request carries into any field of its audit row, the row is written, both
// by the batch writer's path (Enqueue) and inside a mutation's transaction (Insert), and reads
// back as the storable form of what was sent.
func FuzzAuditRow(f *testing.F) {
	pool := pgtest.Pool(f) // one database for every input
	a, err := NewAuditLog(AuditConfig{}, pool, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(f, err)
	go func() { _ = a.Run(context.Background()) }()
	// Closed: every Enqueue writes its row at once, so each input is checked on its own.
	require.NoError(f, a.Close(f.Context()))

	f.Add("alice", "admin", "dataset.read", "dataset:sales.orders", "ok", "GET", "/v1/datasets/sales/orders", "127.0.0.1", "curl/8", "k", "v")
	f.Add("a\x00b", "r\x00", "act\x00", "dataset:\x00.x", "why\x00", "G\x00T", "/v1/datasets/\x00/x", "1.2.3.4\x00", "\xff", "\x00", "\x00")
	f.Add("\xff\xfe", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "/%ff", "\xff", "Mozilla\xff\x00", "k\xff", "\\u0000")
	f.Add(strings.Repeat("p", 5000), strings.Repeat("r", 3000), strings.Repeat("a", 3000), strings.Repeat("\xff", 4000),
		strings.Repeat("é", 6000), "GET", strings.Repeat("/x", 9000), "::1", strings.Repeat("u", 20000), strings.Repeat("k", 3000), strings.Repeat("\x00", 9000))
	f.Add(`\x00`, "", "", "", "", "", "", "", "", "", "")
	n := 0
	f.Fuzz(func(t *testing.T, principal, role, action, resource, reason, method, path, clientAddr, userAgent, key, value string) {
		n++
		e := AuditEntry{
			At: time.Now().UTC().Truncate(time.Microsecond), RequestID: "fuzz-" + strconv.Itoa(n), Principal: principal,
			Roles: []string{role, "admin"}, Action: action, Resource: resource, Decision: DecisionAllow, Reason: reason,
			Status: 200, Method: method, Path: path, ClientAddr: clientAddr, UserAgent: userAgent,
			Details: map[string]any{key: value, "nested": map[string]any{key: []any{value, 1}}, "raw": json.RawMessage(`{"s":"\u0000x"}`)},
		}
		want, _ := e.storable()

		require.NoError(t, a.Enqueue(t.Context(), e))
		requireRow(t, a, want)

		e.RequestID += "-tx"
		want.RequestID = e.RequestID
		tx, err := pool.Begin(t.Context())
		require.NoError(t, err)
		require.NoError(t, a.Insert(t.Context(), tx, e))
		require.NoError(t, tx.Commit(t.Context()))
		requireRow(t, a, want)
	})
}

// requireRow requires the newest audit row to be want.
func requireRow(t *testing.T, a *AuditLog, want AuditEntry) {
	t.Helper()
	rows, err := a.Query(t.Context(), AuditQuery{Limit: 1})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	got := rows[0]
	require.Equal(t, want.RequestID, got.RequestID, "the row was written")
	for _, s := range append([]string{got.Principal, got.Action, got.Resource, got.Reason, got.Method, got.Path, got.ClientAddr, got.UserAgent}, got.Roles...) {
		require.True(t, utf8.ValidString(s) && !strings.ContainsRune(s, 0), "%q", s)
	}
	require.Equal(t, want.Principal, got.Principal)
	require.Equal(t, want.Roles, got.Roles)
	require.Equal(t, want.Action, got.Action)
	require.Equal(t, want.Resource, got.Resource)
	require.Equal(t, want.Reason, got.Reason)
	require.Equal(t, want.Method, got.Method)
	require.Equal(t, want.Path, got.Path)
	require.Equal(t, want.ClientAddr, got.ClientAddr)
	require.Equal(t, want.UserAgent, got.UserAgent)
	b, err := json.Marshal(want.Details)
	require.NoError(t, err)
	var details map[string]any
	require.NoError(t, json.Unmarshal(b, &details))
	require.Equal(t, details, got.Details)
	require.Equal(t, want.At, got.At.UTC())
}

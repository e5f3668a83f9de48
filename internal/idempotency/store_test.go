package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/idempotency"
	"github.com/lakegate/lakegate/internal/pgtest"
)

func newStore(t *testing.T, cfg idempotency.Config) (*idempotency.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	s, err := idempotency.NewStore(pool, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return s, pool
}

// age moves a key's created_at back by d, as if it had been claimed d earlier.
func age(t *testing.T, pool *pgxpool.Pool, principal, key string, d time.Duration) {
	t.Helper()
	tag, err := pool.Exec(context.Background(), `UPDATE idempotency_keys SET created_at = created_at - $3::bigint * interval '1 microsecond'
		WHERE principal = $1 AND key = $2`, principal, key, d.Microseconds())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

func rowCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&n))
	return n
}

func TestFingerprint(t *testing.T) {
	a := idempotency.Fingerprint("POST", "/v1/grants", []byte(`{"a":1}`))
	require.Len(t, a, 32)
	require.Equal(t, a, idempotency.Fingerprint("POST", "/v1/grants", []byte(`{"a":1}`)))
	require.NotEqual(t, a, idempotency.Fingerprint("PUT", "/v1/grants", []byte(`{"a":1}`)))
	require.NotEqual(t, a, idempotency.Fingerprint("POST", "/v1/grant", []byte(`{"a":1}`)))
	require.NotEqual(t, a, idempotency.Fingerprint("POST", "/v1/grants", []byte(`{"a":2}`)))
	// The separator keeps method and path apart.
	require.NotEqual(t, idempotency.Fingerprint("POS", "T/x", nil), idempotency.Fingerprint("POST", "/x", nil))
}

func TestReserveCompleteReplay(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t, idempotency.Config{})
	fp := idempotency.Fingerprint("POST", "/v1/grants", []byte(`{"x":1}`))
	other := idempotency.Fingerprint("POST", "/v1/grants", []byte(`{"x":2}`))

	claim, stored, err := s.Begin(ctx, "alice", "k1", fp)
	require.NoError(t, err)
	require.Nil(t, stored)
	require.Equal(t, "alice", claim.Principal)
	require.Equal(t, "k1", claim.Key)

	// While the first request is in flight, the same request waits and another is refused.
	_, _, err = s.Begin(ctx, "alice", "k1", fp)
	require.ErrorIs(t, err, idempotency.ErrInProgress)
	_, _, err = s.Begin(ctx, "alice", "k1", other)
	require.ErrorIs(t, err, idempotency.ErrKeyReused)

	// Keys are scoped by principal.
	bobClaim, stored, err := s.Begin(ctx, "bob", "k1", other)
	require.NoError(t, err)
	require.Nil(t, stored)

	want := idempotency.Response{Status: http.StatusCreated, ContentType: "application/json",
		Headers: map[string]string{"Location": "/v1/grants/g_1"}, Body: []byte(`{"id":"g_1"}`)}
	require.NoError(t, s.Complete(ctx, claim, want))
	require.ErrorIs(t, s.Complete(ctx, claim, want), idempotency.ErrClaimLost, "a claim completes once")

	_, stored, err = s.Begin(ctx, "alice", "k1", fp)
	require.NoError(t, err)
	require.NotNil(t, stored)
	require.Equal(t, want, *stored)
	_, _, err = s.Begin(ctx, "alice", "k1", other)
	require.ErrorIs(t, err, idempotency.ErrKeyReused)

	// An outcome without body or extra headers round-trips too.
	require.NoError(t, s.Complete(ctx, bobClaim, idempotency.Response{Status: http.StatusNoContent}))
	_, stored, err = s.Begin(ctx, "bob", "k1", other)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, stored.Status)
	require.Empty(t, stored.Body)
	require.Empty(t, stored.Headers)
	require.Equal(t, 2, rowCount(t, pool))
}

func TestReleaseLetsARetryRun(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t, idempotency.Config{})
	fp := idempotency.Fingerprint("DELETE", "/v1/grants/g_1", nil)

	claim, _, err := s.Begin(ctx, "alice", "k", fp)
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, claim))
	require.Equal(t, 0, rowCount(t, pool))
	require.ErrorIs(t, s.Release(ctx, claim), idempotency.ErrClaimLost)

	again, stored, err := s.Begin(ctx, "alice", "k", fp)
	require.NoError(t, err)
	require.Nil(t, stored)
	require.NoError(t, s.Complete(ctx, again, idempotency.Response{Status: http.StatusNoContent}))
	require.ErrorIs(t, s.Complete(ctx, claim, idempotency.Response{Status: http.StatusOK}), idempotency.ErrClaimLost,
		"a released claim cannot overwrite the retry's outcome")
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t, idempotency.Config{Lifetime: time.Hour})
	require.Equal(t, time.Hour, s.Lifetime())
	fp := idempotency.Fingerprint("POST", "/v1/datasets", []byte("a"))

	claim, _, err := s.Begin(ctx, "alice", "old", fp)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, claim, idempotency.Response{Status: http.StatusCreated, Body: []byte("first")}))
	fresh, _, err := s.Begin(ctx, "alice", "fresh", fp)
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, fresh, idempotency.Response{Status: http.StatusCreated, Body: []byte("fresh")}))

	// Within the lifetime the outcome is replayed; past it, the key is free again, even for
	// another request.
	age(t, pool, "alice", "old", 59*time.Minute)
	_, stored, err := s.Begin(ctx, "alice", "old", fp)
	require.NoError(t, err)
	require.Equal(t, []byte("first"), stored.Body)
	age(t, pool, "alice", "old", 2*time.Minute)
	other := idempotency.Fingerprint("POST", "/v1/datasets", []byte("b"))
	claim, stored, err = s.Begin(ctx, "alice", "old", other)
	require.NoError(t, err)
	require.Nil(t, stored)
	require.NoError(t, s.Complete(ctx, claim, idempotency.Response{Status: http.StatusCreated, Body: []byte("second")}))
	_, stored, err = s.Begin(ctx, "alice", "old", other)
	require.NoError(t, err)
	require.Equal(t, []byte("second"), stored.Body)

	// The janitor deletes only expired keys.
	age(t, pool, "alice", "old", 61*time.Minute)
	n, err := s.DeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, 1, rowCount(t, pool))
	_, stored, err = s.Begin(ctx, "alice", "fresh", fp)
	require.NoError(t, err)
	require.Equal(t, []byte("fresh"), stored.Body)
}

func TestRunDeletesExpiredKeys(t *testing.T) {
	s, pool := newStore(t, idempotency.Config{Lifetime: time.Hour, JanitorInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	fp := idempotency.Fingerprint("POST", "/v1/grants", nil)
	for _, k := range []string{"a", "b"} {
		c, _, err := s.Begin(ctx, "alice", k, fp)
		require.NoError(t, err)
		require.NoError(t, s.Complete(ctx, c, idempotency.Response{Status: http.StatusCreated}))
	}
	age(t, pool, "alice", "a", 2*time.Hour)

	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { return rowCount(t, pool) == 1 }, 5*time.Second, 20*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	_, stored, err := s.Begin(context.Background(), "alice", "b", fp)
	require.NoError(t, err)
	require.NotNil(t, stored, "the unexpired key survives")
}

func TestTakeoverOfAbandonedPendingKey(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t, idempotency.Config{})
	fp := idempotency.Fingerprint("POST", "/iceberg/v1/namespaces", []byte(`{"namespace":["a"]}`))
	other := idempotency.Fingerprint("POST", "/iceberg/v1/namespaces", []byte(`{"namespace":["b"]}`))

	crashed, _, err := s.Begin(ctx, "alice", "k", fp)
	require.NoError(t, err)
	age(t, pool, "alice", "k", 30*time.Second)
	_, _, err = s.Begin(ctx, "alice", "k", fp)
	require.ErrorIs(t, err, idempotency.ErrInProgress, "a young pending key is still in flight")

	age(t, pool, "alice", "k", time.Minute)
	_, _, err = s.Begin(ctx, "alice", "k", other)
	require.ErrorIs(t, err, idempotency.ErrKeyReused, "only the same request takes over an abandoned key")
	retry, stored, err := s.Begin(ctx, "alice", "k", fp)
	require.NoError(t, err)
	require.Nil(t, stored)

	// The crashed request, should it finish after all, no longer owns the key.
	require.ErrorIs(t, s.Complete(ctx, crashed, idempotency.Response{Status: http.StatusOK, Body: []byte("stale")}), idempotency.ErrClaimLost)
	require.ErrorIs(t, s.Release(ctx, crashed), idempotency.ErrClaimLost)
	require.NoError(t, s.Complete(ctx, retry, idempotency.Response{Status: http.StatusOK, Body: []byte("retry")}))
	_, stored, err = s.Begin(ctx, "alice", "k", fp)
	require.NoError(t, err)
	require.Equal(t, []byte("retry"), stored.Body)
}

func TestConcurrentBeginClaimsOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, idempotency.Config{})
	fp := idempotency.Fingerprint("POST", "/v1/grants", []byte("x"))
	const n = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		claims   int
		inFlight int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stored, err := s.Begin(ctx, "alice", "race", fp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, idempotency.ErrInProgress):
				inFlight++
			case err == nil && stored == nil:
				claims++
			default:
				t.Errorf("unexpected outcome: stored=%v err=%v", stored, err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, claims)
	require.Equal(t, n-1, inFlight)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, idempotency.Config{}.Validate())
	require.Error(t, idempotency.Config{Lifetime: -time.Second}.Validate())
	require.Error(t, idempotency.Config{PendingTimeout: -time.Second}.Validate())
	_, err := idempotency.NewStore(nil, idempotency.Config{JanitorInterval: -1}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
}

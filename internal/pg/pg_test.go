package pg_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/internal/pgtest"
)

// Two servers starting at once must not race: the advisory lock serialises them and the
// schema ends up applied once.
func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.URL(t)
	ctx := t.Context()
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			pool, err := pg.Open(ctx, url, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			return pg.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
		})
	}
	require.NoError(t, g.Wait())

	pool, err := pg.Open(ctx, url, 2)
	require.NoError(t, err)
	defer pool.Close()
	pending, err := pg.Pending(ctx, pool)
	require.NoError(t, err)
	require.False(t, pending)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&n))
	require.Positive(t, n)
	var tables int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('datasets','grants','audit_log','namespaces','catalog_entries')").Scan(&tables))
	require.Equal(t, 5, tables)
}

func TestOpenRejectsBadURLWithoutEchoingIt(t *testing.T) {
	_, err := pg.Open(context.Background(), "postgres://user:s3cret@[::1", 1)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}

// A database that cannot be reached, or goes away, is unavailable; a failing statement is not.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	pool := pgtest.Pool(t)
	_, err := pool.Exec(ctx, `SELECT * FROM no_such_table`)
	require.Error(t, err)
	require.False(t, pg.Unavailable(err), "a statement's own error: %v", err)
	require.False(t, pg.Unavailable(nil))

	// A backend terminated under a query (as a server shutdown does).
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
	require.Error(t, err)
	require.True(t, pg.Unavailable(err), "terminated: %v", err)

	// Nothing listens on the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dead, err := pgxpool.New(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=5")
	require.NoError(t, err)
	defer dead.Close()
	_, err = dead.Exec(ctx, `SELECT 1`)
	require.Error(t, err)
	require.True(t, pg.Unavailable(err), "refused: %v", err)
}

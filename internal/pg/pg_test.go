package pg_test

import (
	"context"
	"log/slog"
	"testing"

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

package gateway

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
)

// Postgres being down is a dependency outage (503, retry later), not a bug (500); but a
// commit whose transaction outcome is unknown stays 500 CommitStateUnknown, which Iceberg
// clients must not retry blindly.
func TestClassifyPostgresUnavailable(t *testing.T) {
	down := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("catalog: get dataset a.b: %w", down), http.StatusServiceUnavailable, "unavailable"},
		{fmt.Errorf("idempotency: claim key: %w", &pgconn.PgError{Code: "08006"}), http.StatusServiceUnavailable, "unavailable"},
		{fmt.Errorf("%w: commit: %w", catalog.ErrCommitStateUnknown, down), http.StatusInternalServerError, "commit_state_unknown"},
		{fmt.Errorf("catalog: %w", &pgconn.PgError{Code: "42P01", Message: "relation does not exist"}), http.StatusInternalServerError, "internal"},
		// A metadata file that is gone is not an outage: 404 naming the table, never 503.
		{&catalog.MissingMetadataError{Object: "table", Namespace: catalog.Namespace{"a"}, Name: "b", Location: "file:///wh/a/b/metadata/x.json",
			Err: fmt.Errorf("open: %w", io.ErrUnexpectedEOF)}, http.StatusNotFound, "metadata_missing"},
	}
	for _, c := range cases {
		ae := classify(c.err)
		require.Equal(t, c.status, ae.Status, c.err.Error())
		require.Equal(t, c.code, ae.Code, c.err.Error())
	}
}

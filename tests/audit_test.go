package tests

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Nothing a request carries silences the audit log (issue #8): a NUL in the path or an
// invalid UTF-8 User-Agent is recorded escaped and the rows of later requests are written; a
// NUL in what would be stored is refused with 400. SIGTERM exits within --shutdown-timeout,
// also with Postgres unreachable, when the unwritten rows are spilled to the data dir and
// written at the next start.
func TestAuditPoisoning(t *testing.T) {
	bin := buildBinary(t)
	pg := newPrivatePostgres(t)
	dbURL := pg.start()
	const shutdownTimeout = 4 * time.Second
	timeoutFlag := []string{"--shutdown-timeout", shutdownTimeout.String()}
	srv, base, dataDir := startLakegate(t, bin, dbURL, append(timeoutFlag, "--audit-flush-interval", "50ms")...)
	token := mintToken(t, bin, dataDir, "alice", "admin")
	send := func(base, method, path, body string, header ...string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	status, body := send(base, "GET", "/v1/datasets/%00/x", "")
	require.Equal(t, http.StatusBadRequest, status, body)
	status, body = send(base, "GET", "/v1/datasets", "", "User-Agent", "poison\xff")
	require.Equal(t, http.StatusOK, status, body)
	status, body = send(base, "POST", "/v1/grants", `{"principal_type":"subject","principal":"bob\u0000","privilege":"dataset.read","scope_type":"namespace","namespace":"sales"}`)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "principal")
	status, body = send(base, "POST", "/v1/datasets", `{"namespace":"sales","name":"orders","description":"a\u0000b","schema":{"fields":[{"name":"id","type":"long"}]}}`)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "description")

	// A later request is audited, and so are the poisoned ones, escaped.
	status, body = send(base, "GET", "/v1/datasets?tag=later", "", "X-Request-Id", "after-the-poison")
	require.Equal(t, http.StatusOK, status, body)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		status, body = send(base, "GET", "/v1/audit?page_size=1000", "")
		require.Equal(t, http.StatusOK, status, body)
		if strings.Contains(body, `"request_id":"after-the-poison"`) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the request after the poison was not audited: %s", body)
	}
	require.Contains(t, body, `"path":"/v1/datasets/\\x00/x"`)
	require.Contains(t, body, `"user_agent":"poison\\xFF"`)
	status, body = send(base, "GET", "/readyz", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"audit":{"queued":`)
	srv.stopWithin(t, shutdownTimeout+3*time.Second)

	// Postgres unreachable at shutdown: the queued rows (a long flush interval keeps them
	// queued) are spilled, and the next start writes them.
	srv, base = startLakegateIn(t, bin, dbURL, dataDir, append(timeoutFlag, "--audit-flush-interval", "1h")...)
	const n = 20
	for i := range n {
		status, body = send(base, "GET", "/v1/datasets", "", "X-Request-Id", "spilled-"+string(rune('a'+i)))
		require.Equal(t, http.StatusOK, status, body)
	}
	pg.stop()
	srv.stopWithin(t, shutdownTimeout+3*time.Second)
	files, err := filepath.Glob(filepath.Join(dataDir, "audit-spill", "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1, "one spill file")
	st, err := os.Stat(files[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	pg.start()
	srv, _ = startLakegateIn(t, bin, dbURL, dataDir, timeoutFlag...)
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var written int
	for deadline := time.Now().Add(20 * time.Second); written < n; time.Sleep(100 * time.Millisecond) {
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE request_id LIKE 'spilled-%'`).Scan(&written))
		require.True(t, time.Now().Before(deadline), "%d of %d spilled rows written", written, n)
	}
	require.Equal(t, n, written, "each spilled row written once")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		files, err = filepath.Glob(filepath.Join(dataDir, "audit-spill", "*"))
		require.NoError(t, err)
		if len(files) == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the replayed spill file is removed: %v", files)
	}
	srv.stopWithin(t, shutdownTimeout+3*time.Second)
}

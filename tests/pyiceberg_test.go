package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

// envTestPython names the interpreter of the venv that scripts/pyenv.sh makes (PyIceberg,
// pyarrow and pytest at the pins of tests/pyiceberg/requirements.txt); scripts/test.sh sets it.
const envTestPython = "LAKEGATE_TEST_PYTHON"

// PyIceberg, a real Iceberg REST client, against the real binary: the Python suite in
// tests/pyiceberg creates namespaces and partitioned tables, appends, scans with filters,
// evolves the schema, lists, drops and purges — once with a JWT (token) and once through
// OAuth2 client_credentials (credential) of a service client. The warehouse is a local
// directory that the server and PyIceberg share.
func TestPyIcebergInterop(t *testing.T) {
	python := testPython(t, "PyIceberg")
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	srv, base, dataDir := startLakegate(t, bin, dbURL)

	admin := client{t: t, base: base, token: mintToken(t, bin, dataDir, "py-admin", "admin")}

	// A service client with role admin: PyIceberg's `credential` exchanges its id and secret
	// for a token at /iceberg/v1/oauth/tokens.
	status, body := admin.do("POST", "/v1/service-clients", `{"name":"pyiceberg-interop","roles":["admin"]}`)
	require.Equal(t, http.StatusCreated, status, "POST /v1/service-clients: %s", body)
	var sc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	require.NoError(t, json.Unmarshal(body, &sc))
	require.NotEmpty(t, sc.ClientID, string(body))
	require.NotEmpty(t, sc.ClientSecret, string(body))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	py := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pyiceberg")
	py.Dir = ".." // the repository root
	py.Env = append(os.Environ(),
		"LAKEGATE_URI="+base+"/iceberg",
		"LAKEGATE_TOKEN="+admin.token,
		"LAKEGATE_CREDENTIAL="+sc.ClientID+":"+sc.ClientSecret,
		"PYICEBERG_HOME="+t.TempDir(), // no ~/.pyiceberg.yaml of the machine's
		"PYTHONDONTWRITEBYTECODE=1",   // no __pycache__ in the tree
	)
	lw := &lineLogger{t: t}
	py.Stdout, py.Stderr = lw, lw
	err := py.Run()
	lw.flush()
	require.NoError(t, err, "pytest tests/pyiceberg failed (its output is above)")

	// Clean shutdown, which drains the audit writer, then check what the server recorded.
	srv.stop(t)

	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE path LIKE '/iceberg/%' AND status >= 500`).Scan(&n))
	require.Zero(t, n, "the catalog answered 5xx during the PyIceberg run")
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE path LIKE '/iceberg/v1/namespaces%' AND principal = 'py-admin' AND status < 300`).Scan(&n))
	require.Positive(t, n, "no catalog call was made with the admin token")
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE path LIKE '/iceberg/v1/namespaces%' AND principal NOT IN ('', 'py-admin') AND status < 300`).Scan(&n))
	require.Positive(t, n, "no catalog call was made as the service client")

	for _, secret := range []string{admin.token, sc.ClientSecret} {
		require.NotContains(t, srv.logs.String(), secret, "the server log carries a credential")
	}
}

// lineLogger streams a process's output into the test log, one line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(fmt.Sprintf("pytest| %s", l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(fmt.Sprintf("pytest| %s", l.buf))
		l.buf = nil
	}
}

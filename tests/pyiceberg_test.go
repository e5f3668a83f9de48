package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
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
	python := os.Getenv(envTestPython)
	if python == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set in CI: scripts/test.sh must run scripts/pyenv.sh and export it", envTestPython)
		}
		t.Fatalf("%s is not set: run the tests with `make test`, or `%s=$(scripts/pyenv.sh) go test ./tests -run PyIceberg`",
			envTestPython, envTestPython)
	}
	_, err := os.Stat(python)
	require.NoError(t, err, "%s: the interpreter is missing; rerun scripts/pyenv.sh", envTestPython)

	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)

	logs := &syncBuffer{}
	srv := exec.Command(bin, "serve", "--http-addr", addr, "--data-dir", dataDir,
		"--warehouse", "file://"+dataDir+"/warehouse", "--log-format", "json")
	srv.Env = append(os.Environ(), "LAKEGATE_DATABASE_URL="+dbURL)
	srv.Stderr = logs
	require.NoError(t, srv.Start())
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("lakegate serve exited before it was ready: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "server did not become ready in 60s")
	}

	out, err := exec.Command(bin, "token", "--data-dir", dataDir, "--sub", "py-admin", "--roles", "admin").Output()
	require.NoError(t, err)
	admin := client{t: t, base: base, token: strings.TrimSpace(string(out))}

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
	err = py.Run()
	lw.flush()
	require.NoError(t, err, "pytest tests/pyiceberg failed (its output is above)")

	// Clean shutdown, which drains the audit writer, then check what the server recorded.
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "clean exit on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30s after SIGTERM")
	}
	stopped = true

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
		require.NotContains(t, logs.String(), secret, "the server log carries a credential")
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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

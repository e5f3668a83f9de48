package tests

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// process is a child process of a test (lakegate serve, moto): its output is kept and shown
// when the test fails, and it is killed at cleanup unless the test stopped it.
type process struct {
	name    string
	cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan error
	stopped bool
}

func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(t, cmd.Start())
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.stopped {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logs)
		}
	})
	return p
}

// waitReady polls url until ready accepts the answer's status, failing the test when the
// process exits first or 60 seconds pass.
func (p *process) waitReady(t *testing.T, url string, ready func(status int) bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-p.exited:
			p.stopped = true
			t.Fatalf("%s exited before it was ready: %v", p.name, err)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if ready(resp.StatusCode) {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "%s was not ready within 60s", p.name)
	}
}

// stop sends SIGTERM and requires a clean exit within 30 seconds.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.stopWithin(t, 30*time.Second)
}

// stopWithin sends SIGTERM and requires a clean exit within d.
func (p *process) stopWithin(t *testing.T, d time.Duration) {
	t.Helper()
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.exited:
		p.stopped = true
		t.Logf("%s exited %v after SIGTERM", p.name, time.Since(start).Round(time.Millisecond))
		require.NoError(t, err, "%s: clean exit on SIGTERM", p.name)
	case <-time.After(d):
		t.Fatalf("%s: no exit %v after SIGTERM", p.name, d)
	}
}

// kill sends SIGKILL, as a crash would, and waits for the exit.
func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	select {
	case <-p.exited:
		p.stopped = true
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no exit 30s after SIGKILL", p.name)
	}
}

// startLakegate runs `lakegate serve` with args (after --http-addr, --data-dir and json logs)
// and waits until /readyz answers 200. It returns the base URL and the data dir.
func startLakegate(t *testing.T, bin, dbURL string, args ...string) (*process, string, string) {
	t.Helper()
	dataDir := t.TempDir()
	p, base := startLakegateIn(t, bin, dbURL, dataDir, args...)
	return p, base, dataDir
}

// startLakegateIn is startLakegate on a given data dir (several processes may share one: its
// signing key and local warehouse).
func startLakegateIn(t *testing.T, bin, dbURL, dataDir string, args ...string) (*process, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--http-addr", addr, "--data-dir", dataDir, "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "LAKEGATE_DATABASE_URL="+dbURL)
	p := startProcess(t, "lakegate serve", cmd)
	base := "http://" + addr
	p.waitReady(t, base+"/readyz", func(status int) bool { return status == http.StatusOK })
	return p, base
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

// privatePostgres is a PostgreSQL cluster of the test's own (scripts/pg.sh), which it may stop
// and start again; it is stopped at cleanup.
type privatePostgres struct {
	t    *testing.T
	dir  string
	port string
}

func newPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	p := &privatePostgres{t: t, dir: t.TempDir(), port: strings.Split(freeAddr(t), ":")[1]}
	t.Cleanup(func() { p.ctl("stop", p.dir) })
	return p
}

// start starts the cluster (creating it the first time) and returns its database URL.
func (p *privatePostgres) start() string { return p.ctl("start", p.dir, p.port) }

func (p *privatePostgres) stop() { p.ctl("stop", p.dir) }

func (p *privatePostgres) ctl(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("../scripts/pg.sh", args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		p.t.Logf("pg.sh %v: %s", args, ee.Stderr)
	}
	require.NoError(p.t, err, "pg.sh %v", args)
	return strings.TrimSpace(string(out))
}

package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/testenv"
)

// clientIPPolicy denies everything, naming the client_ip of the policy input.
const clientIPPolicy = `package lakegate.authz
decision := {"allow": false, "reason": sprintf("client_ip=%s", [input.context.client_ip])}
`

// X-Forwarded-For and X-Real-IP are believed only from a trusted proxy: otherwise the audit
// row and the policy see the socket peer, whatever a client forges.
func TestForwardedHeadersTrustedOnlyFromTrustedProxies(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(clientIPPolicy), 0o600))
	token := testenv.Token(t, "mallory", "producer")
	for _, tc := range []struct {
		name    string
		trusted []string
		headers []string
		want    string
	}{
		{"untrusted peer forging X-Forwarded-For", nil, []string{"X-Forwarded-For", "203.0.113.9"}, "127.0.0.1"},
		{"untrusted peer forging X-Real-IP", nil, []string{"X-Real-IP", "203.0.113.10"}, "127.0.0.1"},
		{"loopback is not trusted implicitly", []string{"10.0.0.0/8"}, []string{"X-Forwarded-For", "203.0.113.9"}, "127.0.0.1"},
		{"trusted proxy: the rightmost untrusted hop", []string{"10.0.0.0/8", "127.0.0.0/8"},
			[]string{"X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"trusted proxy by address, X-Real-IP", []string{"127.0.0.1"}, []string{"X-Real-IP", "203.0.113.10"}, "203.0.113.10"},
		{"trusted proxy without headers", []string{"127.0.0.0/8"}, nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.New(t, testenv.Options{PolicyDir: dir, HTTP: gateway.Config{TrustedProxies: tc.trusted}})
			r := env.Do(t, "GET", "/v1/datasets/sales/orders", token, nil, tc.headers...)
			require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
			require.Equal(t, "client_ip="+tc.want, r.Err(t).Error.Message, "the policy input's client_ip")
			require.Equal(t, tc.want, env.AuditRow(t, r.Header.Get("X-Request-Id")).ClientAddr, "the audit row's client_addr")
		})
	}
	_, err := gateway.New(gateway.Config{Addr: "127.0.0.1:0", TrustedProxies: []string{"10.0.0.0/33"}}, gateway.Deps{})
	require.ErrorContains(t, err, "trusted-proxies")
}

// serveEdges runs the gateway's own server (Serve, as lakegate serve does) with cfg on a
// loopback port and returns its address.
func serveEdges(t *testing.T, cfg gateway.Config) (*testenv.Env, string) {
	env := testenv.New(t, testenv.Options{HTTP: cfg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Server.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return env, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedByServer reads conn until the server closes it or 15 seconds pass, returning what
// was read and whether the connection was closed.
func closedByServer(conn net.Conn) (string, bool) {
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), false
	}
	return string(b), true // EOF, or a reset
}

// Slow or idle clients cannot hold sockets: a client sending its headers byte by byte is
// disconnected after the header timeout, a body trickled below the minimum rate is cut off,
// an idle keep-alive connection is closed.
func TestSlowAndIdleClientsAreDisconnected(t *testing.T) {
	const short = 300 * time.Millisecond
	env, addr := serveEdges(t, gateway.Config{ReadHeaderTimeout: short, IdleTimeout: short, BodyMinRate: 1 << 10, BodyGracePeriod: short})
	admin := testenv.Token(t, "alice", "admin")

	t.Run("slowloris headers", func(t *testing.T) {
		conn := dial(t, addr)
		closed := make(chan string, 1)
		go func() {
			got, ok := closedByServer(conn)
			if ok {
				closed <- got
			}
		}()
		_, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: lakegate\r\n")
		require.NoError(t, err)
		for i := 0; ; i++ {
			select {
			case got := <-closed:
				require.NotContains(t, got, "200 OK", "the request was never served")
				return
			case <-time.After(50 * time.Millisecond):
			}
			require.Less(t, i, 200, "a client sending a header line every 50ms was not disconnected within 10s")
			_, _ = fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i) // fails once the server has closed
		}
	})

	t.Run("slow body", func(t *testing.T) {
		conn := dial(t, addr)
		const size = 100_000
		_, err := fmt.Fprintf(conn, "POST /v1/datasets HTTP/1.1\r\nHost: lakegate\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"namespace\":\"", admin, size)
		require.NoError(t, err)
		answered := make(chan string, 1)
		go func() {
			got, _ := closedByServer(conn)
			answered <- got
		}()
		sent := 0
		for i := 0; ; i++ {
			select {
			case got := <-answered:
				require.Contains(t, got, "408 Request Timeout", "a body arriving at ~320 bytes/s is refused")
				require.Less(t, sent, size)
				id := strings.TrimSpace(strings.TrimPrefix(grepLine(got, "X-Request-Id:"), "X-Request-Id:"))
				require.Equal(t, http.StatusRequestTimeout, env.AuditRow(t, id).Status, "and audited")
				return
			case <-time.After(50 * time.Millisecond):
			}
			require.Less(t, i, 300, "a body trickled at ~320 bytes/s was not cut off within 15s")
			n, _ := io.WriteString(conn, strings.Repeat("a", 16))
			sent += n
		}
	})

	t.Run("a body at a good pace is served", func(t *testing.T) {
		// 3 KiB/s for 600ms, past the grace period: above the minimum rate, so accepted.
		body := `{"namespace":"sales","name":"orders","owner":"team-a","schema":{"fields":[{"name":"id","type":"long"}]}}`
		pr, pw := io.Pipe()
		go func() {
			for i := range 12 {
				_, _ = io.WriteString(pw, strings.Repeat(" ", 150))
				if i == 11 {
					_, _ = io.WriteString(pw, body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			pw.Close()
		}()
		req, err := http.NewRequest("POST", "http://"+addr+"/v1/datasets", pr)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial(t, addr)
		_, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: lakegate\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, resp.Close, "the connection is kept alive")
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = br.ReadByte()
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "an idle keep-alive connection is closed by the server, not left open: %v", err)
		require.Error(t, err)
	})
}

// Connections beyond the cap wait to be accepted while the cap holds, and are served once a
// connection closes.
func TestConnectionCap(t *testing.T) {
	_, addr := serveEdges(t, gateway.Config{MaxConnections: 2})
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range held { // both are served: the cap is not reached below 2
		_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: lakegate\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	third := dial(t, addr) // the kernel completes the handshake; lakegate does not accept it
	_, err := io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: lakegate\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(third)
	_ = third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a third connection is not served while two are open: %v", err)

	require.NoError(t, held[0].Close())
	_ = third.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "served once a connection closed")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

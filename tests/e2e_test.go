package tests

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

// buildBinary builds cmd/lakegate into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lakegate")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/lakegate")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run())
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body string) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, b
}

// The README's quick start, against the real binary: serve, mint a token, register a
// dataset, list it, grant a producer, read the audit rows; then a graceful shutdown that
// loses no audit row.
func TestQuickStartEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)

	// The data dir comes from its environment twin here, to exercise LAKEGATE_* too.
	cmd := exec.Command(bin, "serve", "--http-addr", addr, "--log-format", "json")
	cmd.Env = append(os.Environ(), "LAKEGATE_DATABASE_URL="+dbURL, "LAKEGATE_DATA_DIR="+dataDir)
	srv := startProcess(t, "lakegate serve", cmd)
	base := "http://" + addr
	srv.waitReady(t, base+"/readyz", func(status int) bool { return status == http.StatusOK })

	admin := client{t: t, base: base, token: mintToken(t, bin, dataDir, "alice", "admin")}

	// The README's own registration request.
	status, body := admin.do("POST", "/v1/datasets", readmeDatasetBody(t))
	require.Equal(t, http.StatusCreated, status, string(body))
	var created struct {
		MetadataLocation string `json:"metadata_location"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	mdPath := strings.TrimPrefix(created.MetadataLocation, "file://")
	require.True(t, strings.HasPrefix(mdPath, filepath.Join(dataDir, "warehouse")), mdPath)
	_, err := os.Stat(mdPath)
	require.NoError(t, err, "the Iceberg metadata file is in the local warehouse")

	status, body = admin.do("GET", "/v1/datasets", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"name":"orders"`)

	// The email field is tagged pii (not only the dataset): the tag is stored and returned.
	status, body = admin.do("GET", "/v1/datasets/sales/orders", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var got struct {
		Tags   []string `json:"tags"`
		Schema struct {
			Fields []struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			} `json:"fields"`
		} `json:"schema"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, []string{"pii"}, got.Tags)
	fieldTags := map[string][]string{}
	for _, f := range got.Schema.Fields {
		fieldTags[f.Name] = f.Tags
	}
	require.Equal(t, []string{"pii"}, fieldTags["email"], "the email field's tags")

	status, body = admin.do("POST", "/v1/grants", `{"principal_type":"role","principal":"producer","privilege":"records.write","scope_type":"dataset","namespace":"sales","name":"orders"}`)
	require.Equal(t, http.StatusCreated, status, string(body))

	// A producer's record: the default policy hashes the pii-tagged email field, and the
	// batch's lineage records the producer's roles.
	producer := client{t: t, base: base, token: mintToken(t, bin, dataDir, "bob", "producer")}
	status, body = producer.do("POST", "/v1/datasets/sales/orders/records?wait=visible",
		`[{"id":1,"ts":"2026-01-01T00:00:00Z","email":"bob@example.com","amount":"9.99"}]`)
	require.Equal(t, http.StatusAccepted, status, string(body))
	cat, err := rest.NewCatalog(t.Context(), "lakegate", base+"/iceberg", rest.WithOAuthToken(admin.token))
	require.NoError(t, err)
	tbl, err := cat.LoadTable(t.Context(), table.Identifier{"sales", "orders"})
	require.NoError(t, err)
	at, err := tbl.Scan(table.WithSelectedFields("email")).ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	require.EqualValues(t, 1, at.NumRows())
	email := at.Column(0).Data().Chunk(0).(*array.String).Value(0)
	require.NotContains(t, email, "bob@example.com")
	require.Len(t, email, 64, "HMAC-SHA256 in hex: %q", email)

	status, body = admin.do("GET", "/v1/audit?page_size=100", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"action":"dataset.create"`)
	require.Contains(t, string(body), `"action":"grant.manage"`)

	// Unauthenticated calls are refused and audited too.
	anon := client{t: t, base: base}
	status, _ = anon.do("GET", "/v1/datasets", "")
	require.Equal(t, http.StatusUnauthorized, status)

	// Graceful shutdown: the last read's audit row is flushed before exit.
	status, _ = admin.do("GET", "/v1/datasets/sales/orders", "")
	require.Equal(t, http.StatusOK, status)
	srv.stop(t)

	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE action = 'dataset.read' AND resource = 'dataset:sales.orders' AND status = 200`).Scan(&n))
	require.Equal(t, 2, n, "the field tag check's read and the last read")
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE decision = 'unauthenticated'`).Scan(&n))
	require.Equal(t, 1, n)

	var roles []string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT producer_roles FROM lineage_batches WHERE producer = 'bob'`).Scan(&roles))
	require.Equal(t, []string{"producer"}, roles)

	// Logs are structured and never carry tokens or the database URL.
	require.NotContains(t, srv.logs.String(), admin.token)
	require.NotContains(t, srv.logs.String(), dbURL)
}

// readmeDatasetBody is the JSON body of the README quick start's dataset registration (step 2).
func readmeDatasetBody(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, step, ok := strings.Cut(string(readme), "# 2. register a dataset\n")
	require.True(t, ok, "the README's quick start has step 2")
	_, step, ok = strings.Cut(step, "-d '")
	require.True(t, ok, "step 2 sends a body")
	body, _, ok := strings.Cut(step, "'")
	require.True(t, ok)
	require.True(t, json.Valid([]byte(body)), body)
	return body
}

// Invalid configuration fails at start with a message naming the setting.
func TestInvalidConfigurationNamesTheSetting(t *testing.T) {
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	cases := map[string][]string{
		"http-addr":    {"--http-addr", "nonsense"},
		"database-url": {"--database-url", "mysql://x"},
		"log-level":    {"--log-level", "loud"},
		"jwt-leeway":   {"--jwt-leeway", "1h"},
		"policy-dir":   {"--policy-dir", "/does/not/exist"},
		"warehouse":    {"--warehouse", "ftp://x/y"},
	}
	for setting, args := range cases {
		t.Run(setting, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", freeAddr(t)}, args...)...)
			cmd.Env = append(os.Environ(), "LAKEGATE_DATABASE_URL="+dbURL)
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), setting, string(out))
		})
	}
	t.Run("help lists every flag with its environment twin", func(t *testing.T) {
		out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
		for _, s := range []string{"--http-addr", "LAKEGATE_HTTP_ADDR", "--database-url", "LAKEGATE_DATABASE_URL", "--nats-url", "LAKEGATE_NATS_URL", "--policy-dir", "--jwks-url"} {
			require.Contains(t, string(out), s)
		}
	})
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(out), "lakegate "), string(out))
	})
}

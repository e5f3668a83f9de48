package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // the client writes Parquet files to S3 itself
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

const (
	s3Bucket = "lakegate"
	// moto accepts any key pair; these are the ones lakegate is configured with and vends.
	s3AccessKeyID     = "test"
	s3SecretAccessKey = "test"
)

// testPython is the venv interpreter of scripts/pyenv.sh; the test fails (never skips)
// without it.
func testPython(t *testing.T, run string) string {
	t.Helper()
	python := os.Getenv(envTestPython)
	if python == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set in CI: scripts/test.sh must run scripts/pyenv.sh and export it", envTestPython)
		}
		t.Fatalf("%s is not set: run the tests with `make test`, or `%s=$(scripts/pyenv.sh) go test ./tests -run %s`",
			envTestPython, envTestPython, run)
	}
	_, err := os.Stat(python)
	require.NoError(t, err, "%s: the interpreter is missing; rerun scripts/pyenv.sh", envTestPython)
	return python
}

// startMoto runs moto's standalone S3-compatible server (pinned in
// tests/pyiceberg/requirements.txt) on a free loopback port until the test ends, and returns
// its endpoint URL.
func startMoto(t *testing.T, python string) string {
	t.Helper()
	addr := freeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	cmd := exec.Command(python, "-m", "moto.server", "-H", host, "-p", port)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	endpoint := "http://" + addr
	startProcess(t, "moto server", cmd).waitReady(t, endpoint+"/moto-api/", func(int) bool { return true })
	return endpoint
}

// s3Client is an S3 client of its own (not lakegate's, not the Iceberg client's) to set up
// the bucket and look at what lands in it.
func s3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3AccessKeyID, SecretAccessKey: s3SecretAccessKey}, nil
		}),
	})
}

// listKeys lists every object key under prefix.
func listKeys(t *testing.T, c *s3.Client, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

func mintToken(t *testing.T, bin, dataDir, sub string, roles ...string) string {
	t.Helper()
	args := []string{"token", "--data-dir", dataDir, "--sub", sub}
	if len(roles) > 0 {
		args = append(args, "--roles", strings.Join(roles, ","))
	}
	out, err := exec.Command(bin, args...).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

var s3EventsSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	iceberg.NestedField{ID: 2, Name: "data", Type: iceberg.PrimitiveTypes.String},
)

func eventsArrow(t *testing.T, sc *arrow.Schema, n int64) arrow.Table {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row-%d", i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.Record{rec})
}

// An S3 warehouse on a real S3-compatible server (moto): lakegate writes the table metadata
// to the bucket; iceberg-go's REST client, configured only by what loadTable vends, writes
// and reads the Parquet data there; a purge removes every object under the table's prefix
// and nothing beside it. A principal with only table.load gets the location settings
// without the credentials.
func TestS3Warehouse(t *testing.T) {
	python := testPython(t, "S3")
	endpoint := startMoto(t, python)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	s3c := s3Client(endpoint)
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)})
	require.NoError(t, err)

	secretFile := filepath.Join(t.TempDir(), "s3-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(s3SecretAccessKey+"\n"), 0o600))
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	_, base, dataDir := startLakegate(t, bin, dbURL,
		"--warehouse", "s3://"+s3Bucket+"/wh",
		"--s3-endpoint", endpoint,
		"--s3-path-style",
		"--s3-access-key-id", s3AccessKeyID,
		"--s3-secret-access-key-file", secretFile,
		"--s3-vend-static-credentials")
	adminToken := mintToken(t, bin, dataDir, "s3-admin", "admin")

	cat, err := rest.NewCatalog(ctx, "lakegate", base+"/iceberg", rest.WithOAuthToken(adminToken))
	require.NoError(t, err)
	ident := table.Identifier{"s3ns", "events"}
	require.NoError(t, cat.CreateNamespace(ctx, table.Identifier{"s3ns"}, nil))
	tbl, err := cat.CreateTable(ctx, ident, s3EventsSchema)
	require.NoError(t, err)
	require.Regexp(t, "^s3://"+s3Bucket+"/wh/s3ns/events-[0-9a-f-]{36}$", tbl.Location())
	require.True(t, strings.HasPrefix(tbl.MetadataLocation(), tbl.Location()+"/metadata/"), tbl.MetadataLocation())
	// The table's prefix: its location without the bucket.
	prefix := strings.TrimPrefix(tbl.Location(), "s3://"+s3Bucket+"/") + "/"
	// An object beside the table's prefix that shares its name's beginning: a purge must keep it.
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(strings.TrimSuffix(prefix, "/") + "2/keep.txt"),
		Body: strings.NewReader("keep")})
	require.NoError(t, err)

	// Append through the client: it writes Parquet, manifests and the manifest list to S3 with
	// the vended config, then commits through lakegate, which writes the next metadata file.
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	require.NoError(t, err)
	at := eventsArrow(t, sc, 100)
	defer at.Release()
	tbl, err = tbl.AppendTable(ctx, at, 1000, nil)
	require.NoError(t, err)

	// Load anew and scan back exactly those rows.
	tbl, err = cat.LoadTable(ctx, ident)
	require.NoError(t, err)
	out, err := tbl.Scan().ToArrowTable(ctx)
	require.NoError(t, err)
	defer out.Release()
	require.EqualValues(t, 100, out.NumRows())
	rows := scanRows(t, out)
	require.Len(t, rows, 100)
	for id := range int64(100) {
		require.Equal(t, fmt.Sprintf("row-%d", id), rows[id])
	}

	// The objects are in the bucket: lakegate's metadata files, the client's manifests and data.
	keys := listKeys(t, s3c, prefix)
	current := strings.TrimPrefix(tbl.MetadataLocation(), "s3://"+s3Bucket+"/")
	require.Contains(t, keys, current, "the current metadata file is in the bucket")
	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(current)})
	require.NoError(t, err)
	count := func(pred func(string) bool) int {
		n := 0
		for _, k := range keys {
			if pred(k) {
				n++
			}
		}
		return n
	}
	require.GreaterOrEqual(t, count(func(k string) bool {
		return strings.HasPrefix(k, prefix+"metadata/") && strings.HasSuffix(k, ".metadata.json")
	}), 2, "create and append each wrote a metadata file: %v", keys)
	require.Positive(t, count(func(k string) bool { return strings.HasSuffix(k, ".avro") }), "manifests: %v", keys)
	require.Positive(t, count(func(k string) bool {
		return strings.HasPrefix(k, prefix+"data/") && strings.HasSuffix(k, ".parquet")
	}), "data files: %v", keys)

	// loadTable's config: the admin (table.read_data) gets the vended credentials; a principal
	// with only a table.load grant gets where the files are, without credentials.
	admin := client{t: t, base: base, token: adminToken}
	status, body := admin.do("POST", "/v1/grants", `{"principal_type":"subject","principal":"loader","privilege":"table.load","scope_type":"namespace","namespace":"s3ns"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	loader := client{t: t, base: base, token: mintToken(t, bin, dataDir, "loader")}
	location := map[string]string{"s3.endpoint": endpoint, "s3.region": "us-east-1", "s3.path-style-access": "true", "s3.force-virtual-addressing": "false"}
	withCreds := map[string]string{"s3.access-key-id": s3AccessKeyID, "s3.secret-access-key": s3SecretAccessKey}
	for k, v := range location {
		withCreds[k] = v
	}
	for _, tc := range []struct {
		who  client
		want map[string]string
	}{{admin, withCreds}, {loader, location}} {
		status, body = tc.who.do("GET", "/iceberg/v1/namespaces/s3ns/tables/events", "")
		require.Equal(t, http.StatusOK, status, string(body))
		var lt struct {
			Config map[string]string `json:"config"`
		}
		require.NoError(t, json.Unmarshal(body, &lt))
		require.Equal(t, tc.want, lt.Config)
	}
	status, body = loader.do("GET", "/iceberg/v1/namespaces/s3ns/tables/events?snapshots=refs", "")
	require.Equal(t, http.StatusOK, status, string(body))
	require.NotContains(t, string(body), "s3.secret-access-key")

	// Drop with purge: every object under the table's prefix is gone, the neighbour stays.
	require.NoError(t, cat.PurgeTable(ctx, ident))
	require.Empty(t, listKeys(t, s3c, prefix), "objects left under the purged table's prefix")
	keep := strings.TrimSuffix(prefix, "/") + "2/keep.txt"
	require.Equal(t, []string{keep}, listKeys(t, s3c, strings.TrimSuffix(prefix, "/")+"2/"))
	_, err = cat.LoadTable(ctx, ident)
	require.Error(t, err)

	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_log WHERE path LIKE '/iceberg/%' AND status >= 500`).Scan(&n))
	require.Zero(t, n, "the catalog answered 5xx during the S3 run")
}

// scanRows maps id to data over an Arrow table of the events schema.
func scanRows(t *testing.T, at arrow.Table) map[int64]string {
	t.Helper()
	ids, data := at.Column(0).Data().Chunks(), at.Column(1).Data().Chunks()
	require.Len(t, data, len(ids))
	out := map[int64]string{}
	for c := range ids {
		idc, dc := ids[c].(*array.Int64), data[c].(*array.String)
		for i := range idc.Len() {
			out[idc.Value(i)] = dc.Value(i)
		}
	}
	return out
}

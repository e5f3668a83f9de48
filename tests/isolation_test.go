package tests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

// Two tenants on one lakegate, as a hostile tenant would try it: "mallory" holds table.*,
// view.* and namespace.* on tenant_a only (and, later, table.register there); "victim"'s
// data lives in tenant_b (and tenant_ab, whose name shares tenant_a's stem). Every attack
// must be refused with 400/403/422, leave every file and catalog row of the victim as it was,
// and be in the audit log. Run on a file:// warehouse and on a real S3-compatible server.
func TestTenantIsolationFile(t *testing.T) {
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	_, base, dataDir := startLakegate(t, bin, dbURL)
	wh := "file://" + filepath.Join(dataDir, "warehouse")
	runIsolationSuite(t, newIsolationEnv(t, bin, dbURL, base, dataDir, wh, fileStore{}))
}

func TestTenantIsolationS3(t *testing.T) {
	python := testPython(t, "TestTenantIsolationS3")
	endpoint := startMoto(t, python)
	s3c := s3Client(endpoint)
	_, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)})
	require.NoError(t, err)
	secretFile := filepath.Join(t.TempDir(), "s3-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(s3SecretAccessKey+"\n"), 0o600))
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	_, base, dataDir := startLakegate(t, bin, dbURL,
		"--warehouse", "s3://"+s3Bucket+"/wh", "--s3-endpoint", endpoint, "--s3-path-style",
		"--s3-access-key-id", s3AccessKeyID, "--s3-secret-access-key-file", secretFile, "--s3-vend-static-credentials")
	runIsolationSuite(t, newIsolationEnv(t, bin, dbURL, base, dataDir, "s3://"+s3Bucket+"/wh", s3Store{c: s3c}))
}

// objectStore lists what a warehouse holds under a location, with a digest of each object.
type objectStore interface {
	snapshot(t *testing.T, loc string) map[string]string
	put(t *testing.T, loc string, body []byte)
	get(t *testing.T, loc string) []byte
}

type fileStore struct{}

func (fileStore) snapshot(t *testing.T, loc string) map[string]string {
	t.Helper()
	root := strings.TrimPrefix(loc, "file://")
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if p == root && errors.Is(err, iofs.ErrNotExist) {
			return nil // nothing there
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	require.NoError(t, err)
	return out
}

func (fileStore) put(t *testing.T, loc string, body []byte) {
	t.Helper()
	p := strings.TrimPrefix(loc, "file://")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, body, 0o644))
}

func (fileStore) get(t *testing.T, loc string) []byte {
	t.Helper()
	b, err := os.ReadFile(strings.TrimPrefix(loc, "file://"))
	require.NoError(t, err)
	return b
}

type s3Store struct{ c *s3.Client }

func (s s3Store) get(t *testing.T, loc string) []byte {
	t.Helper()
	o, err := s.c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(strings.TrimPrefix(loc, "s3://"+s3Bucket+"/"))})
	require.NoError(t, err)
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	require.NoError(t, err)
	return b
}

func (s s3Store) snapshot(t *testing.T, loc string) map[string]string {
	t.Helper()
	prefix := strings.TrimPrefix(loc, "s3://"+s3Bucket+"/") + "/"
	out := map[string]string{}
	for _, k := range listKeys(t, s.c, prefix) {
		o, err := s.c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(k)})
		require.NoError(t, err)
		b, err := io.ReadAll(o.Body)
		o.Body.Close()
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		out[k] = hex.EncodeToString(sum[:])
	}
	return out
}

func (s s3Store) put(t *testing.T, loc string, body []byte) {
	t.Helper()
	key := strings.TrimPrefix(loc, "s3://"+s3Bucket+"/")
	_, err := s.c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key), Body: strings.NewReader(string(body))})
	require.NoError(t, err)
}

type isolationEnv struct {
	t         *testing.T
	bin       string
	dbURL     string
	base      string
	wh        string
	store     objectStore
	admin     client
	mallory   client
	victimLoc map[string]string // victim table → its location
	victimMD  map[string]string // victim table → its current metadata file
	refused   []string          // request ids of refused attacks
}

const tableSchemaJSON = `{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"data","type":"string","required":false}]}`

func newIsolationEnv(t *testing.T, bin, dbURL, base, dataDir, wh string, store objectStore) *isolationEnv {
	e := &isolationEnv{t: t, bin: bin, dbURL: dbURL, base: base, wh: wh, store: store,
		admin:     client{t: t, base: base, token: mintToken(t, bin, dataDir, "root", "admin")},
		mallory:   client{t: t, base: base, token: mintToken(t, bin, dataDir, "mallory", "tenant")},
		victimLoc: map[string]string{}, victimMD: map[string]string{}}
	for _, ns := range []string{"tenant_a", "tenant_b", "tenant_ab"} {
		st, body := e.admin.do("POST", "/iceberg/v1/namespaces", `{"namespace":["`+ns+`"]}`)
		require.Equal(t, http.StatusOK, st, string(body))
	}
	for _, priv := range []string{"table.*", "view.*", "namespace.*"} {
		st, body := e.admin.do("POST", "/v1/grants", `{"principal_type":"subject","principal":"mallory","privilege":"`+priv+`","scope_type":"namespace","namespace":"tenant_a"}`)
		require.Equal(t, http.StatusCreated, st, string(body))
	}
	// The victims' tables, with data written by a real Iceberg client.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cat, err := rest.NewCatalog(ctx, "lakegate", base+"/iceberg", rest.WithOAuthToken(e.admin.token))
	require.NoError(t, err)
	for _, id := range []table.Identifier{{"tenant_b", "secret"}, {"tenant_ab", "secret"}} {
		tbl, err := cat.CreateTable(ctx, id, s3EventsSchema)
		require.NoError(t, err)
		sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
		require.NoError(t, err)
		at := eventsArrow(t, sc, 10)
		tbl, err = tbl.AppendTable(ctx, at, 100, nil)
		at.Release()
		require.NoError(t, err)
		key := strings.Join(id, ".")
		e.victimLoc[key], e.victimMD[key] = tbl.Location(), tbl.MetadataLocation()
	}
	return e
}

// attack sends a request that must be refused, and remembers its request id.
func (e *isolationEnv) attack(name, method, path string, body any) {
	e.t.Helper()
	var b string
	switch v := body.(type) {
	case nil:
	case string:
		b = v
	default:
		raw, err := json.Marshal(v)
		require.NoError(e.t, err)
		b = string(raw)
	}
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(b))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.mallory.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Contains(e.t, []int{400, 403, 422}, resp.StatusCode, "%s: %s %s answered %d %s", name, method, path, resp.StatusCode, out)
	e.refused = append(e.refused, resp.Header.Get("X-Request-Id"))
}

// ok sends a request of mallory's that must succeed, and returns the decoded answer.
func (e *isolationEnv) ok(method, path string, body any) map[string]any {
	e.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(e.t, err)
	if body == nil {
		raw = nil
	}
	st, out := e.mallory.do(method, path, string(raw))
	require.Contains(e.t, []int{200, 201, 204}, st, "%s %s: %s", method, path, out)
	var m map[string]any
	if len(out) > 0 {
		require.NoError(e.t, json.Unmarshal(out, &m))
	}
	return m
}

func locationOf(t *testing.T, loaded map[string]any) string {
	t.Helper()
	md, ok := loaded["metadata"].(map[string]any)
	require.True(t, ok, "%v", loaded)
	return md["location"].(string)
}

func createBody(name string, extra map[string]any) map[string]any {
	b := map[string]any{"name": name, "schema": json.RawMessage(tableSchemaJSON)}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func commitBody(updates ...map[string]any) map[string]any {
	return map[string]any{"requirements": []any{}, "updates": updates}
}

func runIsolationSuite(t *testing.T, e *isolationEnv) {
	victimB, victimAB := e.victimLoc["tenant_b.secret"], e.victimLoc["tenant_ab.secret"]
	before := map[string]map[string]string{}
	for k, loc := range e.victimLoc {
		before[k] = e.store.snapshot(t, loc)
		require.NotEmpty(t, before[k], "victim %s has files", k)
	}
	scheme, rest, _ := strings.Cut(victimB, "://")
	variants := []string{
		victimB, victimB + "/", victimB + "/data", victimAB, e.wh, e.wh + "/tenant_b", e.wh + "/tenant_ab",
		e.wh + "/tenant_a/../tenant_b", e.wh + "/tenant_a/%2E%2E/tenant_b", e.wh + "/tenant_a%2F..%2Ftenant_b",
		strings.ToUpper(scheme) + "://" + rest, e.wh + "/tenant_a", e.wh + "/tenant_a/t-" + uuid.NewString() + "/../../tenant_b",
		"file:///tmp/elsewhere", "s3://other-bucket/x", "http://example.com/x", "file:///etc",
		e.wh + "/tenant_a/t_" + uuid.NewString(), // not the server's form
	}
	if scheme == "s3" {
		variants = append(variants, "s3a://"+rest, "s3n://"+rest, "S3://"+strings.ToUpper(s3Bucket)+"/"+strings.TrimPrefix(rest, s3Bucket+"/"))
	}

	// 1. Create a table (and a view) at a foreign location.
	for i, loc := range variants {
		e.attack("create at "+loc, "POST", "/iceberg/v1/namespaces/tenant_a/tables", createBody(fmt.Sprintf("grab%d", i), map[string]any{"location": loc}))
	}
	for _, key := range []string{"write.data.path", "write.metadata.path", "write.object-storage.path", "write.folder-storage.path"} {
		for _, loc := range []string{victimB, victimB + "/data", e.wh + "/tenant_b", "file:///tmp/lakegate-escape"} {
			e.attack("create with "+key, "POST", "/iceberg/v1/namespaces/tenant_a/tables",
				createBody("paths", map[string]any{"properties": map[string]string{key: loc}}))
		}
	}
	viewBody := func(name, loc string) map[string]any {
		return map[string]any{"name": name, "location": loc, "schema": json.RawMessage(tableSchemaJSON),
			"view-version": map[string]any{"version-id": 1, "schema-id": 0, "timestamp-ms": time.Now().UnixMilli(), "summary": map[string]string{},
				"default-namespace": []string{"tenant_a"}, "representations": []any{map[string]string{"type": "sql", "sql": "SELECT 1", "dialect": "spark"}}}}
	}
	e.attack("view at the victim's location", "POST", "/iceberg/v1/namespaces/tenant_a/views", viewBody("v_grab", victimB))

	// 2. Move an own table there, or point its write paths there.
	own := e.ok("POST", "/iceberg/v1/namespaces/tenant_a/tables", createBody("mine", nil))
	ownLoc := locationOf(t, own)
	require.True(t, strings.HasPrefix(ownLoc, e.wh+"/tenant_a/mine-"), ownLoc)
	for _, loc := range variants {
		e.attack("set-location "+loc, "POST", "/iceberg/v1/namespaces/tenant_a/tables/mine",
			commitBody(map[string]any{"action": "set-location", "location": loc}))
	}
	for _, key := range []string{"write.data.path", "write.metadata.path", "write.object-storage.path", "write.folder-storage.path"} {
		for _, loc := range []string{victimB, victimB + "/metadata", ownLoc + "/../../tenant_b", "file:///tmp/lakegate-escape", e.wh + "/tenant_a/mine"} {
			e.attack("set "+key+"="+loc, "POST", "/iceberg/v1/namespaces/tenant_a/tables/mine",
				commitBody(map[string]any{"action": "set-properties", "updates": map[string]string{key: loc}}))
		}
	}
	// A snapshot whose manifest list is the victim's.
	victimMD := e.loadAsAdmin("tenant_b", "secret")
	victimSnap := victimMD["metadata"].(map[string]any)["snapshots"].([]any)[0].(map[string]any)
	e.attack("add the victim's snapshot", "POST", "/iceberg/v1/namespaces/tenant_a/tables/mine", commitBody(
		map[string]any{"action": "add-snapshot", "snapshot": map[string]any{"snapshot-id": 4242, "sequence-number": 1,
			"timestamp-ms": time.Now().UnixMilli(), "schema-id": 0, "manifest-list": victimSnap["manifest-list"],
			"summary": map[string]string{"operation": "append"}}},
		map[string]any{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": 4242}))

	// 3. Staged create, then a create commit that moves to the victim's location.
	e.ok("POST", "/iceberg/v1/namespaces/tenant_a/tables", createBody("staged", map[string]any{"stage-create": true}))
	for _, loc := range []string{victimB, e.wh + "/tenant_a"} {
		e.attack("staged create at "+loc, "POST", "/iceberg/v1/namespaces/tenant_a/tables/staged", map[string]any{
			"requirements": []any{map[string]string{"type": "assert-create"}},
			"updates": []any{
				map[string]any{"action": "assign-uuid", "uuid": uuid.NewString()},
				map[string]any{"action": "upgrade-format-version", "format-version": 2},
				map[string]any{"action": "add-schema", "schema": json.RawMessage(tableSchemaJSON)},
				map[string]any{"action": "set-current-schema", "schema-id": -1},
				map[string]any{"action": "set-location", "location": loc},
			}})
	}

	// 4. Register the victim's metadata file: refused without table.register, and with it.
	e.attack("register the victim's table", "POST", "/iceberg/v1/namespaces/tenant_a/register",
		map[string]any{"name": "stolen", "metadata-location": e.victimMD["tenant_b.secret"]})
	st, body := e.admin.do("POST", "/v1/grants", `{"principal_type":"subject","principal":"mallory","privilege":"table.register","scope_type":"namespace","namespace":"tenant_a"}`)
	require.Equal(t, http.StatusCreated, st, string(body))
	e.attack("register the victim's table with table.register", "POST", "/iceberg/v1/namespaces/tenant_a/register",
		map[string]any{"name": "stolen", "metadata-location": e.victimMD["tenant_b.secret"]})
	// A metadata file planted in a fresh location of tenant_a (as an engine with storage
	// access to its own prefix could write it) that claims the victim's snapshots.
	planted := e.wh + "/tenant_a/planted-" + uuid.NewString()
	md := victimMD["metadata"].(map[string]any)
	md["location"] = planted
	md["table-uuid"] = uuid.NewString()
	raw, err := json.Marshal(md)
	require.NoError(t, err)
	plantedFile := planted + "/metadata/00000-" + uuid.NewString() + ".metadata.json"
	e.store.put(t, plantedFile, raw)
	e.attack("register a planted file that references the victim's files", "POST", "/iceberg/v1/namespaces/tenant_a/register",
		map[string]any{"name": "planted", "metadata-location": plantedFile})
	// The same with a byte copy of the victim's manifest list inside the planted location:
	// the list is "own", the manifests and data files it names are the victim's.
	planted3 := e.wh + "/tenant_a/planted3-" + uuid.NewString()
	listCopy := planted3 + "/metadata/snap-copy.avro"
	e.store.put(t, listCopy, e.store.get(t, victimSnap["manifest-list"].(string)))
	md["location"] = planted3
	for _, snap := range md["snapshots"].([]any) {
		snap.(map[string]any)["manifest-list"] = listCopy
	}
	raw, err = json.Marshal(md)
	require.NoError(t, err)
	plantedFile3 := planted3 + "/metadata/00000-" + uuid.NewString() + ".metadata.json"
	e.store.put(t, plantedFile3, raw)
	e.attack("register a planted file whose manifests are the victim's", "POST", "/iceberg/v1/namespaces/tenant_a/register",
		map[string]any{"name": "planted3", "metadata-location": plantedFile3})
	// A planted file whose location is the victim's.
	md["location"] = victimB
	raw, err = json.Marshal(md)
	require.NoError(t, err)
	planted2 := e.wh + "/tenant_a/planted2-" + uuid.NewString() + "/metadata/00000-" + uuid.NewString() + ".metadata.json"
	e.store.put(t, planted2, raw)
	e.attack("register a planted file located at the victim's", "POST", "/iceberg/v1/namespaces/tenant_a/register",
		map[string]any{"name": "planted2", "metadata-location": planted2})
	for _, loc := range []string{e.wh + "/tenant_a/../tenant_b/x.metadata.json", "file:///etc/passwd", e.wh + "/tenant_a%2F..%2Ftenant_b/x.metadata.json"} {
		e.attack("register "+loc, "POST", "/iceberg/v1/namespaces/tenant_a/register", map[string]any{"name": "reg", "metadata-location": loc})
	}

	// 5. Symbolic links in a file warehouse: a link inside an own table's directory that
	// points at the victim's must not become a write path.
	if strings.HasPrefix(ownLoc, "file://") {
		link := strings.TrimPrefix(ownLoc, "file://") + "/link"
		require.NoError(t, os.Symlink(strings.TrimPrefix(victimB, "file://"), link))
		e.attack("write.data.path through a symlink", "POST", "/iceberg/v1/namespaces/tenant_a/tables/mine",
			commitBody(map[string]any{"action": "set-properties", "updates": map[string]string{"write.data.path": ownLoc + "/link"}}))
		e.attack("set-location through a symlink", "POST", "/iceberg/v1/namespaces/tenant_a/tables/mine",
			commitBody(map[string]any{"action": "set-location", "location": ownLoc + "/link/x"}))
	}

	// 6. Renamed and reused names, and nested namespaces, never share a directory: purging
	// one table leaves the other's files alone.
	first := locationOf(t, e.ok("POST", "/iceberg/v1/namespaces/tenant_a/tables", createBody("reused", nil)))
	e.ok("POST", "/iceberg/v1/tables/rename", map[string]any{
		"source": map[string]any{"namespace": []string{"tenant_a"}, "name": "reused"}, "destination": map[string]any{"namespace": []string{"tenant_a"}, "name": "renamed"}})
	second := locationOf(t, e.ok("POST", "/iceberg/v1/namespaces/tenant_a/tables", createBody("reused", nil)))
	require.NotEqual(t, first, second)
	require.False(t, strings.HasPrefix(second+"/", first+"/") || strings.HasPrefix(first+"/", second+"/"))
	e.ok("POST", "/iceberg/v1/namespaces", map[string]any{"namespace": []string{"tenant_a", "mine"}})
	nested := locationOf(t, e.ok("POST", "/iceberg/v1/namespaces/tenant_a%1Fmine/tables", createBody("inner", nil)))
	require.False(t, strings.HasPrefix(nested, ownLoc+"/"), "a nested namespace's table lies inside the table of the same name: %s in %s", nested, ownLoc)
	e.store.put(t, first+"/data/keep.parquet", []byte("renamed table's data"))
	e.store.put(t, nested+"/data/keep.parquet", []byte("nested table's data"))
	keepRenamed, keepNested := e.store.snapshot(t, first), e.store.snapshot(t, nested)
	e.ok("DELETE", "/iceberg/v1/namespaces/tenant_a/tables/reused?purgeRequested=true", nil)
	e.ok("DELETE", "/iceberg/v1/namespaces/tenant_a/tables/mine?purgeRequested=true", nil)
	require.Equal(t, keepRenamed, e.store.snapshot(t, first), "purging the new table of a reused name touched the renamed one")
	require.Equal(t, keepNested, e.store.snapshot(t, nested), "purging a table touched a nested namespace's table")
	require.Empty(t, e.store.snapshot(t, second), "the purged table's own files are gone")

	// Nothing of the victims was read, changed or deleted.
	for k, loc := range e.victimLoc {
		require.Equal(t, before[k], e.store.snapshot(t, loc), "victim %s's files changed", k)
		ns, name, _ := strings.Cut(k, ".")
		loaded := e.loadAsAdmin(ns, name)
		require.Equal(t, e.victimMD[k], loaded["metadata-location"], "victim %s's pointer moved", k)
	}
	st, _ = e.mallory.do("GET", "/iceberg/v1/namespaces/tenant_b/tables/secret", "")
	require.Equal(t, http.StatusForbidden, st)
	st, body = e.mallory.do("GET", "/iceberg/v1/namespaces/tenant_a/tables", "")
	require.Equal(t, http.StatusOK, st)
	for _, n := range []string{"stolen", "planted", "planted2", "planted3", "grab0", "paths", "staged", "v_grab"} {
		require.NotContains(t, string(body), `"name":"`+n+`"`, "a refused attack left table %s behind", n)
	}

	// Every refused attempt is in the audit log, with its status.
	e.requireAudited()
}

func (e *isolationEnv) loadAsAdmin(ns, name string) map[string]any {
	e.t.Helper()
	st, body := e.admin.do("GET", "/iceberg/v1/namespaces/"+ns+"/tables/"+name, "")
	require.Equal(e.t, http.StatusOK, st, string(body))
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(body, &m))
	return m
}

func (e *isolationEnv) requireAudited() {
	e.t.Helper()
	conn, err := pgx.Connect(e.t.Context(), e.dbURL)
	require.NoError(e.t, err)
	defer conn.Close(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range e.refused {
		for {
			var status int
			var principal string
			err := conn.QueryRow(e.t.Context(), `SELECT status, principal FROM audit_log WHERE request_id = $1`, id).Scan(&status, &principal)
			if err == nil {
				require.Contains(e.t, []int{400, 403, 422}, status, "request %s", id)
				require.Equal(e.t, "mallory", principal)
				break
			}
			require.ErrorIs(e.t, err, pgx.ErrNoRows)
			require.True(e.t, time.Now().Before(deadline), "refused request %s is not in the audit log", id)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

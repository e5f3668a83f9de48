package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	icebergcatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/view"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/testenv"
)

// viewResult is the Iceberg spec's LoadViewResult, with the metadata fields the tests read.
type viewResult struct {
	MetadataLocation string             `json:"metadata-location"`
	Config           *map[string]string `json:"config"`
	Metadata         struct {
		ViewUUID         string `json:"view-uuid"`
		Location         string `json:"location"`
		CurrentVersionID int64  `json:"current-version-id"`
		Versions         []struct {
			VersionID       int64 `json:"version-id"`
			SchemaID        int   `json:"schema-id"`
			Representations []struct {
				SQL string `json:"sql"`
			} `json:"representations"`
		} `json:"versions"`
		Schemas []struct {
			SchemaID int               `json:"schema-id"`
			Fields   []json.RawMessage `json:"fields"`
		} `json:"schemas"`
		Properties map[string]string `json:"properties"`
	} `json:"metadata"`
}

// currentSQL is the SQL of the current version.
func (v viewResult) currentSQL(t *testing.T) string {
	t.Helper()
	for _, ver := range v.Metadata.Versions {
		if ver.VersionID == v.Metadata.CurrentVersionID {
			return ver.Representations[0].SQL
		}
	}
	t.Fatalf("current version %d not among the versions", v.Metadata.CurrentVersionID)
	return ""
}

// icebergErrorModel is the Iceberg spec's ErrorModel.
type icebergErrorModel struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

func requireIcebergError(t *testing.T, r testenv.Response, status int, typ string) icebergErrorModel {
	t.Helper()
	require.Equal(t, status, r.Status, string(r.Body))
	var e icebergErrorModel
	r.JSON(t, &e)
	require.Equal(t, typ, e.Error.Type, string(r.Body))
	require.Equal(t, status, e.Error.Code)
	require.NotEmpty(t, e.Error.Message)
	return e
}

const viewSchemaJSON = `{"type":"struct","schema-id":0,"fields":[
	{"id":1,"name":"id","type":"long","required":true},
	{"id":2,"name":"amount","type":"double","required":false}]}`

func createViewBody(name, sql string) string {
	return `{"name":"` + name + `","schema":` + viewSchemaJSON + `,
		"view-version":{"version-id":1,"timestamp-ms":1700000000000,"schema-id":0,
			"summary":{"engine-name":"spark","engine-version":"3.5"},
			"representations":[{"type":"sql","sql":"` + sql + `","dialect":"spark"}],
			"default-namespace":["sales"]},
		"properties":{"comment":"recent orders"}}`
}

func TestIcebergViews(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "producer")
	const base = "/iceberg/v1/namespaces/sales"

	r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["sales"]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = env.Do(t, "POST", base+"/tables", admin, `{"name":"orders","schema":`+viewSchemaJSON+`}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	// The configuration advertises the view endpoints.
	var cfg struct{ Endpoints []string }
	env.Do(t, "GET", "/iceberg/v1/config", admin, nil).JSON(t, &cfg)
	for _, ep := range []string{"GET /v1/{prefix}/namespaces/{namespace}/views", "POST /v1/{prefix}/views/rename",
		"HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}", "GET /v1/{prefix}/namespaces/{namespace}/tables"} {
		require.Contains(t, cfg.Endpoints, ep)
	}

	// Create answers a LoadViewResult; the mutation is audited.
	r = env.Do(t, "POST", base+"/views", admin, createViewBody("recent", "SELECT id, amount FROM sales.orders"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var created viewResult
	r.JSON(t, &created)
	require.Regexp(t, "^"+regexp.QuoteMeta(env.Warehouse)+"/sales/recent-[0-9a-f-]{36}/metadata/00000-", created.MetadataLocation)
	require.NotNil(t, created.Config)
	require.Empty(t, *created.Config)
	require.Equal(t, catalog.TableDir(created.MetadataLocation), created.Metadata.Location)
	require.Equal(t, int64(1), created.Metadata.CurrentVersionID)
	require.Equal(t, "SELECT id, amount FROM sales.orders", created.currentSQL(t))
	require.Equal(t, "recent orders", created.Metadata.Properties["comment"])
	require.NotEmpty(t, created.Metadata.ViewUUID)
	row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "view.create", row.Action)
	require.Equal(t, "view:sales.recent", row.Resource)
	require.Equal(t, http.StatusOK, row.Status)

	// Load and exists.
	r = env.Do(t, "GET", base+"/views/recent", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var loaded viewResult
	r.JSON(t, &loaded)
	require.Equal(t, created.MetadataLocation, loaded.MetadataLocation)
	require.Equal(t, created.Metadata.ViewUUID, loaded.Metadata.ViewUUID)
	require.Equal(t, http.StatusNoContent, env.Do(t, "HEAD", base+"/views/recent", admin, nil).Status)
	require.Equal(t, http.StatusNotFound, env.Do(t, "HEAD", base+"/views/nope", admin, nil).Status)
	require.Equal(t, http.StatusNotFound, env.Do(t, "HEAD", base+"/views/orders", admin, nil).Status, "a table is not a view")

	// Tables and views share names but not routes.
	requireIcebergError(t, env.Do(t, "GET", base+"/views/nope", admin, nil), http.StatusNotFound, "NoSuchViewException")
	requireIcebergError(t, env.Do(t, "GET", base+"/views/orders", admin, nil), http.StatusNotFound, "NoSuchViewException")
	requireIcebergError(t, env.Do(t, "GET", base+"/tables/recent", admin, nil), http.StatusNotFound, "NoSuchTableException")
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/hr/views/recent", admin, nil), http.StatusNotFound, "NoSuchViewException")
	requireIcebergError(t, env.Do(t, "POST", base+"/views", admin, createViewBody("recent", "SELECT 1")), http.StatusConflict, "AlreadyExistsException")
	requireIcebergError(t, env.Do(t, "POST", base+"/views", admin, createViewBody("orders", "SELECT 1")), http.StatusConflict, "AlreadyExistsException")
	requireIcebergError(t, env.Do(t, "POST", "/iceberg/v1/namespaces/hr/views", admin, createViewBody("recent", "SELECT 1")), http.StatusNotFound, "NoSuchNamespaceException")
	r = env.Do(t, "POST", base+"/views", admin, `{"name":"nover","schema":`+viewSchemaJSON+`}`)
	require.True(t, r.Status >= 400 && r.Status < 500, "a view without a version is refused: %d %s", r.Status, r.Body)
	require.Contains(t, string(r.Body), "view-version")

	// Replace: a new schema and version, made current, guarded by the view's uuid.
	replace := func(uuid string) testenv.Response {
		return env.Do(t, "POST", base+"/views/recent", admin, `{
			"identifier":{"namespace":["sales"],"name":"recent"},
			"requirements":[{"type":"assert-view-uuid","uuid":"`+uuid+`"}],
			"updates":[
				{"action":"add-schema","schema":{"type":"struct","schema-id":1,"fields":[
					{"id":1,"name":"id","type":"long","required":true},
					{"id":2,"name":"amount","type":"double","required":false},
					{"id":3,"name":"region","type":"string","required":false}]}},
				{"action":"add-view-version","view-version":{"version-id":2,"timestamp-ms":1700000001000,"schema-id":-1,
					"summary":{"engine-name":"spark"},
					"representations":[{"type":"sql","sql":"SELECT id, amount, region FROM sales.orders","dialect":"spark"}],
					"default-namespace":["sales"]}},
				{"action":"set-current-view-version","view-version-id":-1}]}`)
	}
	wrong := "00000000-0000-4000-8000-000000000000"
	requireIcebergError(t, replace(wrong), http.StatusConflict, "CommitFailedException")
	r = replace(created.Metadata.ViewUUID)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var replaced viewResult
	r.JSON(t, &replaced)
	require.Contains(t, replaced.MetadataLocation, created.Metadata.Location+"/metadata/00001-")
	require.Equal(t, int64(2), replaced.Metadata.CurrentVersionID)
	require.NotNil(t, replaced.Config)
	require.Equal(t, "view.commit", env.AuditRow(t, r.Header.Get("X-Request-Id")).Action)
	env.Do(t, "GET", base+"/views/recent", admin, nil).JSON(t, &loaded)
	require.Equal(t, replaced.MetadataLocation, loaded.MetadataLocation)
	require.Equal(t, "SELECT id, amount, region FROM sales.orders", loaded.currentSQL(t))
	require.Len(t, loaded.Metadata.Schemas, 2)
	requireIcebergError(t, env.Do(t, "POST", base+"/views/recent", admin, `{"requirements":[],"updates":[{"action":"make-it-fast"}]}`),
		http.StatusBadRequest, "BadRequestException")
	requireIcebergError(t, env.Do(t, "POST", base+"/views/nope", admin, `{"requirements":[],"updates":[]}`),
		http.StatusNotFound, "NoSuchViewException")

	// List: views only.
	type identifiers struct {
		Identifiers []struct {
			Namespace []string `json:"namespace"`
			Name      string   `json:"name"`
		} `json:"identifiers"`
	}
	var views, tables identifiers
	r = env.Do(t, "GET", base+"/views", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &views)
	require.Len(t, views.Identifiers, 1)
	require.Equal(t, []string{"sales"}, views.Identifiers[0].Namespace)
	require.Equal(t, "recent", views.Identifiers[0].Name)
	env.Do(t, "GET", base+"/tables", admin, nil).JSON(t, &tables)
	require.Len(t, tables.Identifiers, 1)
	require.Equal(t, "orders", tables.Identifiers[0].Name)

	// A principal without a grant may not load the view; listing shows only the views it may load.
	e := requireIcebergError(t, env.Do(t, "GET", base+"/views/recent", bob, nil), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "view.load")
	requireIcebergError(t, env.Do(t, "POST", base+"/views", bob, createViewBody("mine", "SELECT 1")), http.StatusForbidden, "ForbiddenException")
	grant := func(privilege string) {
		r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{
			"principal_type": "role", "principal": "producer", "privilege": privilege, "scope_type": "namespace", "namespace": "sales"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	grant("table.load")
	r = env.Do(t, "GET", base+"/views", bob, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &views)
	require.Empty(t, views.Identifiers, "a table grant does not reveal views")
	grant("view.load")
	env.Do(t, "GET", base+"/views", bob, nil).JSON(t, &views)
	require.Len(t, views.Identifiers, 1)
	require.Equal(t, http.StatusOK, env.Do(t, "GET", base+"/views/recent", bob, nil).Status)
	requireIcebergError(t, env.Do(t, "DELETE", base+"/views/recent", bob, nil), http.StatusForbidden, "ForbiddenException")

	// Rename, not onto a table.
	rename := func(to string) testenv.Response {
		return env.Do(t, "POST", "/iceberg/v1/views/rename", admin,
			`{"source":{"namespace":["sales"],"name":"recent"},"destination":{"namespace":["sales"],"name":"`+to+`"}}`)
	}
	requireIcebergError(t, rename("orders"), http.StatusConflict, "AlreadyExistsException")
	r = rename("latest")
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	require.Equal(t, "view.rename", env.AuditRow(t, r.Header.Get("X-Request-Id")).Action)
	requireIcebergError(t, env.Do(t, "GET", base+"/views/recent", admin, nil), http.StatusNotFound, "NoSuchViewException")
	r = env.Do(t, "GET", base+"/views/latest", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &loaded)
	require.Equal(t, replaced.MetadataLocation, loaded.MetadataLocation)
	requireIcebergError(t, rename("again"), http.StatusNotFound, "NoSuchViewException")

	// Drop.
	r = env.Do(t, "DELETE", base+"/views/latest", admin, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	require.Equal(t, "view.drop", env.AuditRow(t, r.Header.Get("X-Request-Id")).Action)
	requireIcebergError(t, env.Do(t, "GET", base+"/views/latest", admin, nil), http.StatusNotFound, "NoSuchViewException")
	requireIcebergError(t, env.Do(t, "DELETE", base+"/views/latest", admin, nil), http.StatusNotFound, "NoSuchViewException")
	require.Equal(t, http.StatusNoContent, env.Do(t, "HEAD", base+"/tables/orders", admin, nil).Status, "the table is untouched")
}

// iceberg-go's REST client drives the view endpoints.
func TestIcebergGoViews(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	cat := restCatalog(t, env, admin)
	ctx := t.Context()
	require.NoError(t, cat.CreateNamespace(ctx, table.Identifier{"sales"}, nil))

	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "amount", Type: iceberg.PrimitiveTypes.Float64})
	version, err := view.NewVersionFromSQL(1, 0, "SELECT id, amount FROM sales.orders", table.Identifier{"sales"})
	require.NoError(t, err)
	ident := table.Identifier{"sales", "recent"}
	created, err := cat.CreateView(ctx, ident, version, schema,
		icebergcatalog.WithViewProperties(iceberg.Properties{"comment": "recent orders"}))
	require.NoError(t, err)
	require.Regexp(t, "^"+regexp.QuoteMeta(env.Warehouse)+"/sales/recent-[0-9a-f-]{36}/metadata/00000-", created.MetadataLocation())
	_, err = cat.CreateView(ctx, ident, version, schema)
	require.ErrorIs(t, err, icebergcatalog.ErrViewAlreadyExists)

	loaded, err := cat.LoadView(ctx, ident)
	require.NoError(t, err)
	require.Equal(t, created.MetadataLocation(), loaded.MetadataLocation())
	require.Equal(t, created.Metadata().ViewUUID(), loaded.Metadata().ViewUUID())
	require.Equal(t, "SELECT id, amount FROM sales.orders", loaded.CurrentVersion().Representations[0].Sql)
	require.Equal(t, "recent orders", loaded.Properties()["comment"])
	require.Equal(t, "lakegate", loaded.CurrentVersion().DefaultCatalog)
	exists, err := cat.CheckViewExists(ctx, ident)
	require.NoError(t, err)
	require.True(t, exists)

	v2, err := view.NewVersionFromSQL(2, 0, "SELECT id FROM sales.orders", table.Identifier{"sales"})
	require.NoError(t, err)
	updated, err := cat.UpdateView(ctx, ident,
		[]view.Requirement{view.AssertViewUUID(loaded.Metadata().ViewUUID())},
		[]view.Update{view.NewAddViewVersionUpdate(v2), view.NewSetCurrentVersionUpdate(view.LastAddedID)})
	require.NoError(t, err)
	require.Equal(t, int64(2), updated.CurrentVersion().VersionID)
	require.Equal(t, "SELECT id FROM sales.orders", updated.CurrentVersion().Representations[0].Sql)

	var names []string
	for id, err := range cat.ListViews(ctx, table.Identifier{"sales"}) {
		require.NoError(t, err)
		names = append(names, strings.Join(id, "."))
	}
	require.Equal(t, []string{"sales.recent"}, names)

	renamed, err := cat.RenameView(ctx, ident, table.Identifier{"sales", "latest"})
	require.NoError(t, err)
	require.Equal(t, updated.MetadataLocation(), renamed.MetadataLocation())
	require.NoError(t, cat.DropView(ctx, table.Identifier{"sales", "latest"}))
	_, err = cat.LoadView(ctx, table.Identifier{"sales", "latest"})
	require.ErrorIs(t, err, icebergcatalog.ErrNoSuchView)
	exists, err = cat.CheckViewExists(ctx, ident)
	require.NoError(t, err)
	require.False(t, exists)
}

// A well-formed view whose version Iceberg's rules refuse (two queries for one dialect) is
// 400 IllegalArgumentException, as the reference answers: Java clients raise it for that type
// and BadRequestException ("Malformed request") for the rest.
func TestInvalidViewVersionIsIllegalArgument(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["sales"]}`).Status)
	body := strings.Replace(createViewBody("twice", "SELECT 1"), `"dialect":"spark"}]`,
		`"dialect":"trino"},{"type":"sql","sql":"SELECT 2","dialect":"trino"}]`, 1)
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/sales/views", admin, body)
	requireIcebergError(t, r, http.StatusBadRequest, "IllegalArgumentException")
	require.Contains(t, string(r.Body), "Invalid view version")
}

// register-view adopts a view metadata file with the register-table rules: its own
// privilege, inside the warehouse, no live overlap, no name clash.
func TestIcebergRegisterView(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "producer")
	const base = "/iceberg/v1/namespaces/sales"
	register := func(token, name, metadataLocation string) testenv.Response {
		return env.Do(t, "POST", base+"/register-view", token, map[string]string{"name": name, "metadata-location": metadataLocation})
	}

	var cfg struct{ Endpoints []string }
	env.Do(t, "GET", "/iceberg/v1/config", admin, nil).JSON(t, &cfg)
	require.Contains(t, cfg.Endpoints, "POST /v1/{prefix}/namespaces/{namespace}/register-view")

	r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["sales"]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = env.Do(t, "POST", base+"/tables", admin, `{"name":"orders","schema":`+viewSchemaJSON+`}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	createView := func(name string) viewResult {
		t.Helper()
		r := env.Do(t, "POST", base+"/views", admin, createViewBody(name, "SELECT id, amount FROM sales.orders"))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var v viewResult
		r.JSON(t, &v)
		return v
	}
	created := createView("recent")

	// The name is taken: by the view itself, by a table.
	e := requireIcebergError(t, register(admin, "recent", created.MetadataLocation), http.StatusConflict, "AlreadyExistsException")
	require.Contains(t, e.Error.Message, "sales.recent")
	e = requireIcebergError(t, register(admin, "orders", created.MetadataLocation), http.StatusConflict, "AlreadyExistsException")
	require.Contains(t, e.Error.Message, "sales.orders")
	// A live view's metadata file under another name would share its location.
	e = requireIcebergError(t, register(admin, "copy", created.MetadataLocation), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "overlaps")

	// Files outside the warehouse, and a view that would own the warehouse root.
	outside := t.TempDir() + "/v.metadata.json"
	raw, err := os.ReadFile(strings.TrimPrefix(created.MetadataLocation, "file://"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(outside, raw, 0o600))
	e = requireIcebergError(t, register(admin, "stolen", "file://"+outside), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "outside the warehouse")
	requireIcebergError(t, register(admin, "stolen", "file:///etc/passwd"), http.StatusForbidden, "ForbiddenException")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	doc["location"] = env.Warehouse
	rooted, err := json.Marshal(doc)
	require.NoError(t, err)
	rootedPath := strings.TrimPrefix(env.Warehouse, "file://") + "/rooted.metadata.json"
	require.NoError(t, os.WriteFile(rootedPath, rooted, 0o600))
	e = requireIcebergError(t, register(admin, "rooted", "file://"+rootedPath), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "strictly inside the warehouse")
	r = register(admin, "notaview", env.Warehouse+"/nope.metadata.json")
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))

	// Drop it, then register its metadata file again under a new name.
	require.Equal(t, http.StatusNoContent, env.Do(t, "DELETE", base+"/views/recent", admin, nil).Status)
	r = register(admin, "again", created.MetadataLocation)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var registered viewResult
	r.JSON(t, &registered)
	require.Equal(t, created.MetadataLocation, registered.MetadataLocation)
	require.Equal(t, created.Metadata.ViewUUID, registered.Metadata.ViewUUID)
	require.NotNil(t, registered.Config)
	row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "view.register", row.Action)
	require.Equal(t, "view:sales.again", row.Resource)
	require.Equal(t, http.StatusOK, row.Status)
	r = env.Do(t, "GET", base+"/views/again", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var loaded viewResult
	r.JSON(t, &loaded)
	require.Equal(t, created.MetadataLocation, loaded.MetadataLocation)
	require.Equal(t, "SELECT id, amount FROM sales.orders", loaded.currentSQL(t))
	// The registered view commits like any other, inside its location.
	r = env.Do(t, "POST", base+"/views/again", admin, `{"requirements":[],"updates":[{"action":"set-properties","updates":{"owner":"alice"}}]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &loaded)
	require.Contains(t, loaded.MetadataLocation, created.Metadata.Location+"/metadata/00001-")

	// view.* and * do not include view.register; the privilege itself does.
	other := createView("other")
	require.Equal(t, http.StatusNoContent, env.Do(t, "DELETE", base+"/views/other", admin, nil).Status)
	grant := func(privilege string) {
		r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{
			"principal_type": "role", "principal": "producer", "privilege": privilege, "scope_type": "namespace", "namespace": "sales"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	grant("view.*")
	grant("*")
	e = requireIcebergError(t, register(bob, "other", other.MetadataLocation), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "view.register")
	grant("view.register")
	r = register(bob, "other", other.MetadataLocation)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// A view's write.metadata.path moves its metadata files, inside its own location only.
func TestIcebergViewMetadataPath(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	const base = "/iceberg/v1/namespaces/sales"
	r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["sales"]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))

	create := func(name, location, metadataPath string) testenv.Response {
		body := map[string]any{}
		require.NoError(t, json.Unmarshal([]byte(createViewBody(name, "SELECT 1")), &body))
		body["location"] = location
		body["properties"] = map[string]string{"write.metadata.path": metadataPath}
		return env.Do(t, "POST", base+"/views", admin, body)
	}
	loc := env.Warehouse + "/sales/custom-" + uuid.NewString()
	r = create("custom", loc, loc+"/custom")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var v viewResult
	r.JSON(t, &v)
	require.Equal(t, loc, v.Metadata.Location)
	require.True(t, strings.HasPrefix(v.MetadataLocation, loc+"/custom/00000-"), v.MetadataLocation)
	_, err := os.Stat(strings.TrimPrefix(v.MetadataLocation, "file://"))
	require.NoError(t, err)

	// Commits write there too; a commit that moves it outside the view's location is refused.
	commit := func(path string) testenv.Response {
		return env.Do(t, "POST", base+"/views/custom", admin,
			`{"requirements":[],"updates":[{"action":"set-properties","updates":{"write.metadata.path":"`+path+`"}}]}`)
	}
	r = commit(loc + "/custom2/")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &v)
	require.True(t, strings.HasPrefix(v.MetadataLocation, loc+"/custom2/00001-"), v.MetadataLocation)
	other := env.Warehouse + "/sales/other-" + uuid.NewString() + "/metadata"
	e := requireIcebergError(t, commit(other), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "write.metadata.path")

	// A create whose write.metadata.path lies outside its location is refused.
	loc2 := env.Warehouse + "/sales/escape-" + uuid.NewString()
	e = requireIcebergError(t, create("escape", loc2, other), http.StatusForbidden, "ForbiddenException")
	require.Contains(t, e.Error.Message, "write.metadata.path")
	requireIcebergError(t, env.Do(t, "GET", base+"/views/escape", admin, nil), http.StatusNotFound, "NoSuchViewException")
}

package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

type icebergErr struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// Bad input is answered with the Iceberg error type a client classifies, never a 500.
func TestIcebergBadInput(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	do := func(method, path string, body any) (int, icebergErr) {
		r := env.Do(t, method, path, admin, body)
		var e icebergErr
		if len(r.Body) > 0 {
			require.NoError(t, json.Unmarshal(r.Body, &e), string(r.Body))
		}
		return r.Status, e
	}
	st, _ := do("POST", "/iceberg/v1/namespaces", `{"namespace":["bad"]}`)
	require.Equal(t, http.StatusOK, st)
	st, _ = do("POST", "/iceberg/v1/namespaces/bad/tables", `{"name":"t","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
	require.Equal(t, http.StatusOK, st)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		typ, msg           string
	}{
		{"malformed JSON", "POST", "/iceberg/v1/namespaces/bad/tables/t", `{"requirements": [`, 400, "BadRequestException", "JSON"},
		{"unknown update type", "POST", "/iceberg/v1/namespaces/bad/tables/t", `{"requirements":[],"updates":[{"action":"make-it-fast"}]}`, 400, "BadRequestException", "make-it-fast"},
		{"requirement mismatch", "POST", "/iceberg/v1/namespaces/bad/tables/t", `{"requirements":[{"type":"assert-current-schema-id","current-schema-id":7}],"updates":[]}`, 409, "CommitFailedException", "schema"},
		// Java clients resolve db.t.snapshots and db.t.branch_x only on NoSuchTableException.
		{"missing namespace", "GET", "/iceberg/v1/namespaces/nope/tables/t", nil, 404, "NoSuchTableException", "nope.t"},
		{"missing table", "GET", "/iceberg/v1/namespaces/bad/tables/nope", nil, 404, "NoSuchTableException", "nope"},
		{"illegal namespace name", "POST", "/iceberg/v1/namespaces", `{"namespace":["bad\u0007name"]}`, 400, "BadRequestException", "control character"},
		{"namespace level with a dot", "POST", "/iceberg/v1/namespaces", `{"namespace":["a.b"]}`, 400, "BadRequestException", "contains '.'"},
		{"illegal table name", "POST", "/iceberg/v1/namespaces/bad/tables", `{"name":"x/../y","schema":{"type":"struct","schema-id":0,"fields":[]}}`, 400, "BadRequestException", "contains '/'"},
		{"empty table name", "POST", "/iceberg/v1/namespaces/bad/tables", `{"name":"","schema":{"type":"struct","schema-id":0,"fields":[]}}`, 400, "BadRequestException", "name"},
		{"register outside the warehouse", "POST", "/iceberg/v1/namespaces/bad/register", `{"name":"stolen","metadata-location":"file:///etc/passwd"}`, 403, "ForbiddenException", "outside the warehouse and the allowed locations"},
		{"register with dot-dot", "POST", "/iceberg/v1/namespaces/bad/register", `{"name":"stolen","metadata-location":"` + env.Warehouse + `/../x.metadata.json"}`, 400, "BadRequestException", "'..' path segment"},
		{"create outside the warehouse", "POST", "/iceberg/v1/namespaces/bad/tables", `{"name":"elsewhere","location":"file:///tmp/elsewhere","schema":{"type":"struct","schema-id":0,"fields":[]}}`, 403, "ForbiddenException", "the server assigns locations"},
		{"drop non-empty namespace", "DELETE", "/iceberg/v1/namespaces/bad", nil, 409, "NamespaceNotEmptyException", "bad"},
		{"namespace exists", "POST", "/iceberg/v1/namespaces", `{"namespace":["bad"]}`, 409, "AlreadyExistsException", "bad"},
		{"bad snapshots param", "GET", "/iceberg/v1/namespaces/bad/tables/t?snapshots=some", nil, 400, "BadRequestException", "snapshots"},
		{"bad page size", "GET", "/iceberg/v1/namespaces?pageSize=0", nil, 400, "BadRequestException", "pageSize"},
		{"bad metrics report", "POST", "/iceberg/v1/namespaces/bad/tables/t/metrics", `{"report-type":"vibes"}`, 400, "BadRequestException", "report-type"},
		{"properties both removed and set", "POST", "/iceberg/v1/namespaces/bad/properties", `{"removals":["a"],"updates":{"a":"1"}}`, 400, "BadRequestException", "both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, e := do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, st, "%+v", e)
			require.Equal(t, tc.typ, e.Error.Type)
			require.Equal(t, tc.status, e.Error.Code)
			require.Contains(t, e.Error.Message, tc.msg)
		})
	}

	t.Run("100 MB body", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"requirements":[],"updates":[{"action":"set-properties","updates":{"x":"`),
			bytes.NewReader(bytes.Repeat([]byte("a"), 100<<20)), strings.NewReader(`"}}]}`))
		req, err := http.NewRequest("POST", env.URL+"/iceberg/v1/namespaces/bad/tables/t", body)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil { // the server may also close the connection once the limit is hit
			defer resp.Body.Close()
			var e icebergErr
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			require.Equal(t, "BadRequestException", e.Error.Type)
		}
		r := env.Do(t, "GET", "/iceberg/v1/namespaces/bad/tables/t", admin, nil)
		require.NotContains(t, string(r.Body), `"x":"aaa`, "nothing was half-written")
	})

	t.Run("unauthenticated is NotAuthorizedException", func(t *testing.T) {
		r := env.Do(t, "GET", "/iceberg/v1/namespaces", "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Contains(t, string(r.Body), `"type":"NotAuthorizedException"`)
	})

	// No request above was a 500, and each was audited.
	env.Close()
	rows, err := env.Audit.Query(t.Context(), lineage.AuditQuery{Limit: 1000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(rows), len(cases))
	for _, r := range rows {
		require.Less(t, r.Status, 500, "%s %s answered %d", r.Method, r.Path, r.Status)
	}
}

// A scan report records who read which columns of which table with what filter.
func TestMetricsReportIsAudited(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["m"]}`).Status)
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces/m/tables", admin,
		`{"name":"t","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true},{"id":2,"name":"email","type":"string","required":false}]}}`).Status)
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/m/tables/t/metrics", admin, `{"report-type":"scan-report","table-name":"m.t","snapshot-id":1,
		"filter":{"type":"eq","term":"id","value":42},"schema-id":0,"projected-field-ids":[2],"projected-field-names":["email"],
		"metrics":{"result-data-files":{"unit":"count","value":1}}}`)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "alice", row.Principal)
	require.Equal(t, "table:m.t", row.Resource)
	require.Equal(t, "scan-report", row.Details["report_type"])
	require.Equal(t, []any{"email"}, row.Details["projected_field_names"])
	require.Equal(t, map[string]any{"type": "eq", "term": "id", "value": float64(42)}, row.Details["filter"])
}

// Every namespace reports a location (engines such as Trino derive a new table's location
// from it, in the form the server accepts), and a client cannot set another.
func TestNamespaceLocation(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["loc"]}`).Status)
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["loc","inner"]}`).Status)
	for ns, want := range map[string]string{"loc": env.Warehouse + "/loc", "loc%1Finner": env.Warehouse + "/loc/inner"} {
		r := env.Do(t, "GET", "/iceberg/v1/namespaces/"+ns, admin, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var got struct {
			Properties map[string]string `json:"properties"`
		}
		r.JSON(t, &got)
		require.Equal(t, want, got.Properties["location"])
	}
	// The derived location is accepted; any other is refused.
	r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["loc2"],"properties":{"location":"`+env.Warehouse+`/loc2"}}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	for _, body := range []string{
		`{"namespace":["loc3"],"properties":{"location":"` + env.Warehouse + `/loc"}}`,
		`{"namespace":["loc3"],"properties":{"location":"file:///tmp/elsewhere"}}`,
	} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, body)
		require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	}
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/loc/properties", admin, `{"updates":{"location":"`+env.Warehouse+`/loc2"}}`)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	// A table created at <namespace location>/<name>-<uuid>, as Trino derives it, is accepted.
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/loc/tables", admin,
		`{"name":"t","location":"`+env.Warehouse+`/loc/t-0b8f6c7e2c1b4a8e9d5e6f1a2b3c4d5e","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
}

// The catalog accepts the identifiers Iceberg accepts — mixed case, '-', spaces, Unicode —
// on the Iceberg routes and the datasets API alike, locations stay escaped, and records
// stream into such a dataset.
func TestIdentifiersAsIcebergAcceptsThem(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["Sales-EU"]}`).Status)
	for _, name := range []string{"renamedTable", "non-existing", "Orders 2024", "données"} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces/Sales-EU/tables", admin,
			`{"name":"`+name+`","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
		var created struct {
			Metadata struct {
				Location string `json:"location"`
			} `json:"metadata"`
		}
		r.JSON(t, &created)
		require.Regexp(t, "^"+regexp.QuoteMeta(env.Warehouse)+"/Sales~2dEU/[A-Za-z0-9_~]+-[0-9a-f-]{36}$", created.Metadata.Location, name)
		require.Equal(t, http.StatusOK, env.Do(t, "GET", "/iceberg/v1/namespaces/Sales-EU/tables/"+url.PathEscape(name), admin, nil).Status, name)
	}
	r := env.Do(t, "GET", "/iceberg/v1/namespaces/Sales-EU/tables", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), `"name":"Orders 2024"`)

	body := `{"namespace":"Sales-EU","name":"Live Events","schema":{"fields":[{"name":"id","type":"long","required":true}]}}`
	r = env.Do(t, "POST", "/v1/datasets", admin, body)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/datasets/Sales-EU/"+url.PathEscape("Live Events")+"/records?wait=visible", admin, `[{"id":1},{"id":2}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	var rc struct {
		Accepted   int    `json:"accepted"`
		SnapshotID *int64 `json:"snapshot_id"`
	}
	r.JSON(t, &rc)
	require.Equal(t, 2, rc.Accepted)
	require.NotNil(t, rc.SnapshotID)
}

// A table whose current metadata file was removed behind the catalog's back answers 404
// NotFoundException in the reference's words, even while its parsed metadata is cached.
func TestRemovedMetadataFileIsNotFound(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["lost"]}`).Status)
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/lost/tables", admin, `{"name":"t","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var created struct {
		MetadataLocation string `json:"metadata-location"`
	}
	r.JSON(t, &created)
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/iceberg/v1/namespaces/lost/tables/t", admin, nil).Status, "loaded once: cached")
	require.NoError(t, os.Rename(strings.TrimPrefix(created.MetadataLocation, "file://"), strings.TrimPrefix(created.MetadataLocation, "file://")+".moved"))
	r = env.Do(t, "GET", "/iceberg/v1/namespaces/lost/tables/t", admin, nil)
	requireIcebergError(t, r, http.StatusNotFound, "NotFoundException")
	require.Contains(t, string(r.Body), "Failed to open input stream for file: "+created.MetadataLocation)
}

// A principal granted one table can use its metadata tables and branches: Java clients load
// "db.t.snapshots" as table "snapshots" of namespace db.t first and fall back only on
// NoSuchTable, so that load answers 404 — to a principal that may load db.t, and only then.
func TestMetadataTableLookupWithTableGrant(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	reader := testenv.Token(t, "rita", "analyst")
	other := testenv.Token(t, "otto", "nobody")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["db"]}`).Status)
	for _, n := range []string{"t", "secret"} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces/db/tables", admin, `{"name":"`+n+`","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "subject", "principal": "rita",
		"privilege": "table.load", "scope_type": "dataset", "namespace": "db", "name": "t"}).Status)

	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/iceberg/v1/namespaces/db/tables/t", reader, nil).Status)
	r := env.Do(t, "GET", "/iceberg/v1/namespaces/db%1Ft/tables/snapshots", reader, nil)
	requireIcebergError(t, r, http.StatusNotFound, "NoSuchTableException")
	require.Contains(t, string(r.Body), "Table does not exist: db.t.snapshots")
	// Without a grant on db.t, or for a table the reader may not load, it stays 403.
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/db%1Ft/tables/snapshots", other, nil), http.StatusForbidden, "ForbiddenException")
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/db%1Fsecret/tables/snapshots", reader, nil), http.StatusForbidden, "ForbiddenException")
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/db/tables/secret", reader, nil), http.StatusForbidden, "ForbiddenException")

	// Trino looks every name up as a view first and goes on to the table only on NoSuchView.
	r = env.Do(t, "GET", "/iceberg/v1/namespaces/db/views/t", reader, nil)
	requireIcebergError(t, r, http.StatusNotFound, "NoSuchViewException")
	require.Contains(t, string(r.Body), "View does not exist: db.t")
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/db/views/secret", reader, nil), http.StatusForbidden, "ForbiddenException")
	requireIcebergError(t, env.Do(t, "GET", "/iceberg/v1/namespaces/db/views/t", other, nil), http.StatusForbidden, "ForbiddenException")
}

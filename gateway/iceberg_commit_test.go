package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
)

func tableProps(t *testing.T, env *testenv.Env, token, path string) map[string]string {
	t.Helper()
	r := env.Do(t, "GET", path, token, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var res struct {
		Metadata struct {
			Properties map[string]string `json:"properties"`
		} `json:"metadata"`
	}
	r.JSON(t, &res)
	return res.Metadata.Properties
}

// A multi-table commit applies to every table or to none.
func TestTransactionCommitIsAllOrNothing(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["tx"]}`).Status)
	for _, n := range []string{"a", "b"} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces/tx/tables", admin, []byte(`{"name":"`+n+`","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	change := func(table, key string, schemaID int) map[string]any {
		return map[string]any{
			"identifier":   map[string]any{"namespace": []string{"tx"}, "name": table},
			"requirements": []any{map[string]any{"type": "assert-current-schema-id", "current-schema-id": schemaID}},
			"updates":      []any{map[string]any{"action": "set-properties", "updates": map[string]string{key: "1"}}},
		}
	}
	// b's requirement fails: nothing is applied, a included.
	r := env.Do(t, "POST", "/iceberg/v1/transactions/commit", admin, map[string]any{"table-changes": []any{change("a", "first", 0), change("b", "first", 9)}})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "CommitFailedException")
	require.NotContains(t, tableProps(t, env, admin, "/iceberg/v1/namespaces/tx/tables/a"), "first")

	r = env.Do(t, "POST", "/iceberg/v1/transactions/commit", admin, map[string]any{"table-changes": []any{change("a", "second", 0), change("b", "second", 0)}})
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	require.Equal(t, "1", tableProps(t, env, admin, "/iceberg/v1/namespaces/tx/tables/a")["second"])
	require.Equal(t, "1", tableProps(t, env, admin, "/iceberg/v1/namespaces/tx/tables/b")["second"])

	// A principal needs table.commit on every table of the transaction.
	bob := testenv.Token(t, "bob", "etl")
	for _, g := range []string{`{"principal_type":"role","principal":"etl","privilege":"transaction.commit","scope_type":"namespace","namespace":"*"}`,
		`{"principal_type":"role","principal":"etl","privilege":"table.commit","scope_type":"dataset","namespace":"tx","name":"a"}`} {
		require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/grants", admin, g).Status)
	}
	r = env.Do(t, "POST", "/iceberg/v1/transactions/commit", bob, map[string]any{"table-changes": []any{change("a", "third", 0), change("b", "third", 0)}})
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	require.NotContains(t, tableProps(t, env, admin, "/iceberg/v1/namespaces/tx/tables/a"), "third")
	r = env.Do(t, "POST", "/iceberg/v1/transactions/commit", bob, map[string]any{"table-changes": []any{change("a", "third", 0)}})
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
}

// The schema guard: an engine's commit that breaks a registered dataset schema is vetoed with
// 422 (not a retryable 409); a compatible evolution goes through and the dataset follows it.
func TestSchemaGuardOnCatalogCommits(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	r := env.Do(t, "POST", "/v1/datasets", admin, ordersBody())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))

	r = env.Do(t, "GET", "/iceberg/v1/namespaces/sales/tables/orders", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	var loaded struct {
		Metadata struct {
			CurrentSchemaID int               `json:"current-schema-id"`
			LastColumnID    int               `json:"last-column-id"`
			Schemas         []json.RawMessage `json:"schemas"`
		} `json:"metadata"`
	}
	r.JSON(t, &loaded)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(loaded.Metadata.Schemas[0], &schema))
	fields := schema["fields"].([]any)

	commit := func(newFields []any) testenv.Response {
		next := map[string]any{"type": "struct", "schema-id": 1, "fields": newFields}
		return env.Do(t, "POST", "/iceberg/v1/namespaces/sales/tables/orders", admin, map[string]any{
			"requirements": []any{map[string]any{"type": "assert-current-schema-id", "current-schema-id": loaded.Metadata.CurrentSchemaID}},
			"updates": []any{
				map[string]any{"action": "add-schema", "schema": next, "last-column-id": loaded.Metadata.LastColumnID + 1},
				map[string]any{"action": "set-current-schema", "schema-id": -1},
			},
		})
	}
	// Dropping "email" (field 3) breaks the registered schema.
	var dropped []any
	for _, f := range fields {
		if f.(map[string]any)["name"] != "email" {
			dropped = append(dropped, f)
		}
	}
	r = commit(dropped)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "UnprocessableEntityException")
	require.Contains(t, string(r.Body), "email")

	// Adding an optional column is compatible, and the dataset's schema follows.
	added := append(append([]any{}, fields...), map[string]any{"id": loaded.Metadata.LastColumnID + 1, "name": "channel", "type": "string", "required": false})
	r = commit(added)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = env.Do(t, "GET", "/v1/datasets/sales/orders", admin, nil)
	require.Contains(t, string(r.Body), `"name":"channel"`)
	require.Equal(t, `"2"`, r.Header.Get("ETag"), "the dataset version follows the table's schema")
}

// A staged create returns metadata without creating anything; the table exists once the
// client commits it with assert-create.
func TestStagedCreate(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["st"]}`).Status)
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/st/tables", admin,
		`{"name":"t","stage-create":true,"schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var staged struct {
		Metadata struct {
			Location  string `json:"location"`
			TableUUID string `json:"table-uuid"`
		} `json:"metadata"`
	}
	r.JSON(t, &staged)
	require.NotEmpty(t, staged.Metadata.Location)
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", "/iceberg/v1/namespaces/st/tables/t", admin, nil).Status, "staging creates nothing")

	commit := map[string]any{
		"requirements": []any{map[string]any{"type": "assert-create"}},
		"updates": []any{
			map[string]any{"action": "assign-uuid", "uuid": staged.Metadata.TableUUID},
			map[string]any{"action": "upgrade-format-version", "format-version": 2},
			map[string]any{"action": "add-schema", "schema": map[string]any{"type": "struct", "schema-id": 0,
				"fields": []any{map[string]any{"id": 1, "name": "id", "type": "long", "required": true}}}, "last-column-id": 1},
			map[string]any{"action": "set-current-schema", "schema-id": -1},
			map[string]any{"action": "add-spec", "spec": map[string]any{"spec-id": 0, "fields": []any{}}},
			map[string]any{"action": "set-default-spec", "spec-id": -1},
			map[string]any{"action": "add-sort-order", "sort-order": map[string]any{"order-id": 0, "fields": []any{}}},
			map[string]any{"action": "set-default-sort-order", "sort-order-id": -1},
			map[string]any{"action": "set-location", "location": staged.Metadata.Location},
			map[string]any{"action": "set-properties", "updates": map[string]string{"created-by": "staged"}},
		},
	}
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/st/tables/t", admin, commit)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "staged", tableProps(t, env, admin, "/iceberg/v1/namespaces/st/tables/t")["created-by"])
	// A second create-commit finds the table there: the requirement fails.
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/st/tables/t", admin, commit)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	// The staged table is a dataset too.
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets/st/t", admin, nil).Status)
}

// A create commit builds the table from empty metadata (as Java's buildFromEmpty), so the
// schema, spec and sort order ids the client wrote its files against are the table's: one
// schema 0 with the columns, one spec 0 with the partition field, at the format version the
// client asked for (1, 2 or 3). Before, it started from a placeholder with an empty schema 0
// and spec 0 at v2: the client's schema became 1 and a v1 create failed with "downgrading".
func TestCreateCommitBuildsFromEmpty(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["fe"]}`).Status)
	schema := map[string]any{"type": "struct", "schema-id": 0, "fields": []any{
		map[string]any{"id": 1, "name": "id", "type": "long", "required": true},
		map[string]any{"id": 2, "name": "ts", "type": "timestamptz", "required": false}}}
	for _, version := range []int{1, 2, 3} {
		name := fmt.Sprintf("v%d", version)
		updates := []any{
			map[string]any{"action": "assign-uuid", "uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1"},
			map[string]any{"action": "upgrade-format-version", "format-version": version},
			map[string]any{"action": "add-schema", "schema": schema, "last-column-id": 2},
			map[string]any{"action": "set-current-schema", "schema-id": -1},
			map[string]any{"action": "add-spec", "spec": map[string]any{"spec-id": 0, "fields": []any{
				map[string]any{"source-id": 2, "field-id": 1000, "name": "ts_day", "transform": "day"}}}},
			map[string]any{"action": "set-default-spec", "spec-id": -1},
			map[string]any{"action": "add-sort-order", "sort-order": map[string]any{"order-id": 0, "fields": []any{}}},
			map[string]any{"action": "set-default-sort-order", "sort-order-id": -1},
		}
		// No set-location: the server assigns one.
		r := env.Do(t, "POST", "/iceberg/v1/namespaces/fe/tables/"+name, admin, map[string]any{
			"requirements": []any{map[string]any{"type": "assert-create"}}, "updates": updates})
		require.Equal(t, http.StatusOK, r.Status, "v%d: %s", version, r.Body)
		var out struct {
			Metadata struct {
				FormatVersion   int              `json:"format-version"`
				Location        string           `json:"location"`
				CurrentSchemaID int              `json:"current-schema-id"`
				DefaultSpecID   int              `json:"default-spec-id"`
				Schemas         []map[string]any `json:"schemas"`
				Specs           []struct {
					SpecID int              `json:"spec-id"`
					Fields []map[string]any `json:"fields"`
				} `json:"partition-specs"`
			} `json:"metadata"`
		}
		r.JSON(t, &out)
		md := out.Metadata
		require.Equal(t, version, md.FormatVersion)
		require.Len(t, md.Schemas, 1, "v%d: one schema, the client's", version)
		require.EqualValues(t, 0, md.Schemas[0]["schema-id"])
		require.Len(t, md.Schemas[0]["fields"], 2)
		require.Equal(t, 0, md.CurrentSchemaID)
		require.Len(t, md.Specs, 1, "v%d: one spec, the client's", version)
		require.Equal(t, 0, md.Specs[0].SpecID)
		require.Len(t, md.Specs[0].Fields, 1)
		require.Equal(t, 0, md.DefaultSpecID)
		require.Regexp(t, "^"+regexp.QuoteMeta(env.Warehouse)+"/fe/"+name+"-[0-9a-f-]{36}$", md.Location)
	}
}

// DuckDB's create commit sets the current schema last, after the sort order: a create from
// empty metadata takes it (the reference builder does).
func TestCreateCommitWithCurrentSchemaLast(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["duck"]}`).Status)
	r := env.Do(t, "POST", "/iceberg/v1/namespaces/duck/tables/created", admin, map[string]any{
		"requirements": []any{map[string]any{"type": "assert-create"}},
		"updates": []any{
			map[string]any{"action": "assign-uuid", "uuid": "6de6c5ff-5154-49b7-a667-c6c1b8942208"},
			map[string]any{"action": "upgrade-format-version", "format-version": 2},
			map[string]any{"action": "add-schema", "last-column-id": 2, "schema": map[string]any{"type": "struct", "schema-id": 0, "fields": []any{
				map[string]any{"id": 1, "name": "id", "required": false, "type": "long"},
				map[string]any{"id": 2, "name": "name", "required": false, "type": "string"}}}},
			map[string]any{"action": "add-spec", "spec": map[string]any{"spec-id": 0, "fields": []any{}}},
			map[string]any{"action": "set-default-spec", "spec-id": 0},
			map[string]any{"action": "add-sort-order", "sort-order": map[string]any{"order-id": 0, "fields": []any{}}},
			map[string]any{"action": "set-default-sort-order", "sort-order-id": 0},
			map[string]any{"action": "set-current-schema", "schema-id": 0},
		}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out struct {
		Metadata struct {
			CurrentSchemaID int              `json:"current-schema-id"`
			Schemas         []map[string]any `json:"schemas"`
		} `json:"metadata"`
	}
	r.JSON(t, &out)
	require.Equal(t, 0, out.Metadata.CurrentSchemaID)
	require.Len(t, out.Metadata.Schemas, 1)
	require.Len(t, out.Metadata.Schemas[0]["fields"], 2)
}

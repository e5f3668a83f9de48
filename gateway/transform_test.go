package gateway_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
)

func usersDataset() map[string]any {
	return map[string]any{"namespace": "crm", "name": "users",
		"schema": map[string]any{"fields": []any{
			map[string]any{"name": "id", "type": "long", "required": true},
			map[string]any{"name": "email", "type": "string", "tags": []string{"pii"}},
			map[string]any{"name": "card", "type": "string"},
			map[string]any{"name": "country", "type": "string"},
		}},
		"quality": []any{map[string]any{"rule": "not_null", "field": "country"}},
	}
}

// scanColumn returns a string column of a table, in id order of insertion (one file).
func scanStrings(t *testing.T, env *testenv.Env, token, column string) map[int64]string {
	tbl, err := restCatalog(t, env, token).LoadTable(t.Context(), table.Identifier{"crm", "users"})
	require.NoError(t, err)
	at, err := tbl.Scan(table.WithSelectedFields("id", column)).ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	out := map[int64]string{}
	for i, ch := range at.Column(0).Data().Chunks() {
		ids, vals := ch.(*array.Int64), at.Column(1).Data().Chunk(i)
		for j := range ids.Len() {
			if vals.IsNull(j) {
				out[ids.Value(j)] = "<null>"
			} else {
				out[ids.Value(j)] = vals.(*array.String).Value(j)
			}
		}
	}
	return out
}

// The default policy hashes fields tagged pii for producers without role pii_writer, in the
// table and in the quarantine; the field tags are part of the dataset.
func TestDefaultPolicyHashesPII(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	r := env.Do(t, "POST", "/v1/datasets", admin, usersDataset())
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"tags":["pii"]`, "field tags are part of the dataset")
	for _, role := range []string{"producer", "pii_writer"} {
		require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "role", "principal": role,
			"privilege": "records.write", "scope_type": "dataset", "namespace": "crm", "name": "users"}).Status)
	}
	producer := testenv.Token(t, "crm-app", "producer")
	trusted := testenv.Token(t, "kyc-app", "producer", "pii_writer")

	r = env.Do(t, "POST", "/v1/datasets/crm/users/records", producer,
		`[{"id":1,"email":"ann@example.com","country":"FR"},{"id":2,"email":"bob@example.com"}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/datasets/crm/users/records?wait=visible", trusted, `[{"id":3,"email":"cy@example.com","country":"DE"}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))

	mac := hmac.New(sha256.New, []byte("testenv field hash key, 32 bytes"))
	mac.Write([]byte("ann@example.com"))
	emails := scanStrings(t, env, admin, "email")
	require.Equal(t, map[int64]string{1: hex.EncodeToString(mac.Sum(nil)), 3: "cy@example.com"}, emails)

	r = env.Do(t, "GET", "/v1/datasets/crm/users/quarantine", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), "bob@example.com", "the quarantine keeps no protected value in clear")
	mac.Reset()
	mac.Write([]byte("bob@example.com"))
	require.Contains(t, string(r.Body), hex.EncodeToString(mac.Sum(nil)))

	// Tags change with the schema, and the decision follows at once.
	ds := usersDataset()
	ds["schema"].(map[string]any)["fields"].([]any)[1] = map[string]any{"name": "email", "type": "string"}
	r = env.Do(t, "PATCH", "/v1/datasets/crm/users", admin, map[string]any{"schema": ds["schema"]})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), `"pii"`)
	r = env.Do(t, "POST", "/v1/datasets/crm/users/records?wait=visible", producer, `[{"id":4,"email":"dee@example.com","country":"ES"}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	require.Equal(t, "dee@example.com", scanStrings(t, env, admin, "email")[4])
}

// A policy of one's own returns mask and drop; a transformation that cannot apply to the
// dataset refuses the request whole (422) instead of storing the value.
func TestPolicyTransformsMaskDropAndMisfit(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(`package lakegate.authz

decision := {"allow": true, "reason": "test policy", "transforms": transforms}

transforms := [{"field": "id", "op": "hash"}] if {
	input.principal.sub == "broken-app"
	input.action == "records.write"
} else := [{"field": "card", "op": "mask", "keep_last": 4}, {"field": "email", "op": "drop"}] if {
	input.action == "records.write"
} else := []
`), 0o600))
	env := testenv.New(t, testenv.Options{PolicyDir: dir})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, usersDataset()).Status)

	r := env.Do(t, "POST", "/v1/datasets/crm/users/records?wait=visible", testenv.Token(t, "pos-app"),
		`[{"id":1,"email":"ann@example.com","card":"4111111111111111","country":"FR"}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	require.Equal(t, "************1111", scanStrings(t, env, admin, "card")[1])
	require.Equal(t, "<null>", scanStrings(t, env, admin, "email")[1])

	r = env.Do(t, "POST", "/v1/datasets/crm/users/records", testenv.Token(t, "broken-app"), `[{"id":2,"country":"FR"}]`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	require.Contains(t, r.Err(t).Error.Message, "field id")
	require.Len(t, scanStrings(t, env, admin, "card"), 1, "nothing of the refused request was stored")
}

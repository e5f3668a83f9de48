package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/idempotency"
	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/policy"
)

const idemKey = "Idempotency-Key"

func producerGrant(ns string) map[string]any {
	return map[string]any{"principal_type": "role", "principal": "producer", "privilege": "dataset.read", "scope_type": "namespace", "namespace": ns}
}

func TestIdempotencyKeyReplaysGrantCreation(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	key := "0190c2a4-7d2e-7b3c-9f00-4a1b2c3d4e5f"

	first := env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, key)
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	require.Empty(t, first.Header.Get("Idempotency-Replayed"))
	second := env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, key)
	require.Equal(t, http.StatusCreated, second.Status, string(second.Body))
	require.Equal(t, "true", second.Header.Get("Idempotency-Replayed"))
	require.Equal(t, string(first.Body), string(second.Body))
	require.Equal(t, first.Header.Get("Location"), second.Header.Get("Location"))
	require.NotEmpty(t, second.Header.Get("Location"))
	require.Equal(t, first.Header.Get("Content-Type"), second.Header.Get("Content-Type"))

	var grants struct{ Grants []policy.Grant }
	env.Do(t, "GET", "/v1/grants?principal=producer", admin, nil).JSON(t, &grants)
	require.Len(t, grants.Grants, 1, "the replay did not create a second grant")

	// Both requests are audited; the replay says so.
	firstID, secondID := first.Header.Get("X-Request-Id"), second.Header.Get("X-Request-Id")
	require.NotEqual(t, firstID, secondID)
	orig := env.AuditRow(t, firstID)
	require.Equal(t, http.StatusCreated, orig.Status)
	require.Equal(t, "grant.manage", orig.Action)
	require.Equal(t, key, orig.Details["idempotency_key"])
	require.Nil(t, orig.Details["idempotent_replay"])
	rep := env.AuditRow(t, secondID)
	require.Equal(t, http.StatusCreated, rep.Status)
	require.Equal(t, "alice", rep.Principal)
	require.Equal(t, true, rep.Details["idempotent_replay"])
	require.Equal(t, key, rep.Details["idempotency_key"])

	// The same key for another request is refused, and nothing runs.
	r := env.Do(t, "POST", "/v1/grants", admin, producerGrant("hr"), idemKey, key)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	e := r.Err(t)
	require.Equal(t, "idempotency_key_reused", e.Error.Code)
	require.Contains(t, e.Error.Message, key)
	r = env.Do(t, "DELETE", "/v1/grants/"+grants.Grants[0].ID, admin, nil, idemKey, key)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "another path is another request")
	env.Do(t, "GET", "/v1/grants?principal=producer", admin, nil).JSON(t, &grants)
	require.Len(t, grants.Grants, 1)

	// Without the key a request runs as always: this one is a duplicate grant.
	require.Equal(t, http.StatusConflict, env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales")).Status)
}

func TestIdempotencyKeyReplaysTerminalErrors(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")

	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody(), idemKey, "create-1").Status)
	failed := env.Do(t, "POST", "/v1/datasets", admin, ordersBody(), idemKey, "create-2")
	require.Equal(t, http.StatusConflict, failed.Status, string(failed.Body))
	retry := env.Do(t, "POST", "/v1/datasets", admin, ordersBody(), idemKey, "create-2")
	require.Equal(t, http.StatusConflict, retry.Status)
	require.Equal(t, "true", retry.Header.Get("Idempotency-Replayed"))
	require.Equal(t, string(failed.Body), string(retry.Body), "the stored error is replayed as it was")
	rep := env.AuditRow(t, retry.Header.Get("X-Request-Id"))
	require.Equal(t, http.StatusConflict, rep.Status)
	require.Equal(t, true, rep.Details["idempotent_replay"])

	// A 415 is not a final outcome: the key is released and a retry of the same request runs.
	r := env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, "media", "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, "media")
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Empty(t, r.Header.Get("Idempotency-Replayed"))
}

func TestIdempotencyKeysArePerPrincipal(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	alice := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "admin")
	key := "shared-key"

	r := env.Do(t, "POST", "/v1/grants", alice, producerGrant("sales"), idemKey, key)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	// alice's key binds nothing of bob's: his different request with it runs.
	r = env.Do(t, "POST", "/v1/grants", bob, producerGrant("hr"), idemKey, key)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Empty(t, r.Header.Get("Idempotency-Replayed"))
	// Now it binds bob's own first request.
	r = env.Do(t, "POST", "/v1/grants", bob, producerGrant("sales"), idemKey, key)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/grants", alice, producerGrant("sales"), idemKey, key)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, "true", r.Header.Get("Idempotency-Replayed"))

	var grants struct{ Grants []policy.Grant }
	env.Do(t, "GET", "/v1/grants?principal=producer", alice, nil).JSON(t, &grants)
	require.Len(t, grants.Grants, 2)
}

func TestIdempotencyKeyOnIcebergRoutes(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	body := map[string]any{"namespace": []string{"idem"}}
	key := "0190c2a4-7d2e-7b3c-9f00-000000000001"

	var cfg map[string]any
	r := env.Do(t, "GET", "/iceberg/v1/config", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &cfg)
	require.Equal(t, "PT30M", cfg["idempotency-key-lifetime"])

	first := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, body, idemKey, key)
	require.Equal(t, http.StatusOK, first.Status, string(first.Body))
	second := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, body, idemKey, key)
	require.Equal(t, http.StatusOK, second.Status, string(second.Body))
	require.Equal(t, "true", second.Header.Get("Idempotency-Replayed"))
	require.JSONEq(t, string(first.Body), string(second.Body))
	require.Equal(t, true, env.AuditRow(t, second.Header.Get("X-Request-Id")).Details["idempotent_replay"])
	require.Equal(t, http.StatusOK, env.AuditRow(t, first.Header.Get("X-Request-Id")).Status)

	var list struct {
		Namespaces [][]string `json:"namespaces"`
	}
	env.Do(t, "GET", "/iceberg/v1/namespaces", admin, nil).JSON(t, &list)
	require.Equal(t, [][]string{{"idem"}}, list.Namespaces)
	r = env.Do(t, "POST", "/iceberg/v1/namespaces", admin, body)
	require.Equal(t, http.StatusConflict, r.Status, "without the key the request runs again")

	// A request in flight with the key makes a concurrent one wait with a 409.
	fp := idempotency.Fingerprint("DELETE", "/iceberg/v1/namespaces/idem", nil)
	claim, _, err := env.Idempotency.Begin(t.Context(), "alice", "inflight", fp)
	require.NoError(t, err)
	r = env.Do(t, "DELETE", "/iceberg/v1/namespaces/idem", admin, nil, idemKey, "inflight")
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "in progress")
	require.NoError(t, env.Idempotency.Release(t.Context(), claim))
	r = env.Do(t, "DELETE", "/iceberg/v1/namespaces/idem", admin, nil, idemKey, "inflight")
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	r = env.Do(t, "DELETE", "/iceberg/v1/namespaces/idem", admin, nil, idemKey, "inflight")
	require.Equal(t, http.StatusNoContent, r.Status)
	require.Equal(t, "true", r.Header.Get("Idempotency-Replayed"))
	require.Equal(t, http.StatusNotFound, env.Do(t, "DELETE", "/iceberg/v1/namespaces/idem", admin, nil).Status)
}

func TestInvalidIdempotencyKey(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	for name, key := range map[string]string{
		"empty":     "",
		"too long":  strings.Repeat("k", 129),
		"non-ascii": "clé",
		"control":   "a\tb",
	} {
		r := env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, key)
		require.Equal(t, http.StatusBadRequest, r.Status, name)
		require.Contains(t, r.Err(t).Error.Message, idemKey, name)
	}
	r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, map[string]any{"namespace": []string{"x"}}, idemKey, strings.Repeat("k", 200))
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, string(r.Body), "BadRequestException")

	// The longest valid key works; nothing was created by the refused requests.
	r = env.Do(t, "POST", "/v1/grants", admin, producerGrant("sales"), idemKey, strings.Repeat("k", 128))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	// Reads ignore the header.
	r = env.Do(t, "GET", "/v1/grants", admin, nil, idemKey, "")
	require.Equal(t, http.StatusOK, r.Status)
}

// A replay is authorized again: once the grant behind the original request is revoked, the
// stored outcome is no longer handed out.
func TestIdempotentReplayIsReauthorized(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "engineer")
	r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "subject", "principal": "bob",
		"privilege": "namespace.create", "scope_type": "namespace", "namespace": "*"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var g struct{ ID string }
	r.JSON(t, &g)

	const key = "0192f0a8-7c1e-7a4e-9a55-5b2b2c7d9e01"
	r = env.Do(t, "POST", "/iceberg/v1/namespaces", bob, `{"namespace":["bobs"]}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/iceberg/v1/namespaces", bob, `{"namespace":["bobs"]}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "true", r.Header.Get("Idempotency-Replayed"))

	require.Equal(t, http.StatusNoContent, env.Do(t, "DELETE", "/v1/grants/"+g.ID, admin, nil).Status)
	r = env.Do(t, "POST", "/iceberg/v1/namespaces", bob, `{"namespace":["bobs"]}`, "Idempotency-Key", key)
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	require.Empty(t, r.Header.Get("Idempotency-Replayed"))
}

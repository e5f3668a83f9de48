package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

// logBuffer collects the server's logs; handlers log from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serviceClientJSON struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Name         string   `json:"name"`
	Roles        []string `json:"roles"`
	CreatedBy    string   `json:"created_by"`
	CreatedAt    string   `json:"created_at"`
	RevokedAt    string   `json:"revoked_at"`
}

type tokenJSON struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
	IssuedTokenType string `json:"issued_token_type"`
}

type oauthErrorJSON struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// tokenRequest posts a form to the token endpoint, with HTTP Basic credentials when basic is
// "id:secret".
func tokenRequest(t *testing.T, env *testenv.Env, form url.Values, basic string, contentType string) testenv.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/iceberg/v1/oauth/tokens", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

const formType = "application/x-www-form-urlencoded"

func createServiceClient(t *testing.T, env *testenv.Env, token string, roles ...string) serviceClientJSON {
	t.Helper()
	if roles == nil {
		roles = []string{}
	}
	r := env.Do(t, "POST", "/v1/service-clients", token, map[string]any{"name": "spark nightly", "roles": roles})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var c serviceClientJSON
	r.JSON(t, &c)
	require.Regexp(t, `^lgc_[0-9a-f]{16}$`, c.ClientID)
	require.Len(t, c.ClientSecret, 43, "32 bytes, base64url without padding")
	require.Equal(t, "/v1/service-clients/"+c.ClientID, r.Header.Get("Location"))
	return c
}

func requireOAuthError(t *testing.T, r testenv.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, string(r.Body))
	var e oauthErrorJSON
	r.JSON(t, &e)
	require.Equal(t, code, e.Error, string(r.Body))
	require.NotEmpty(t, e.Description)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

func TestServiceClientTokenEndpoint(t *testing.T) {
	logs := &logBuffer{}
	env := testenv.New(t, testenv.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "producer")

	// Only a grant manager creates, lists and revokes service clients.
	r := env.Do(t, "POST", "/v1/service-clients", bob, map[string]any{"name": "mine", "roles": []string{"admin"}})
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/service-clients", bob, nil).Status)
	r = env.Do(t, "POST", "/v1/service-clients", admin, map[string]any{"name": "x", "roles": []string{"a b"}})
	require.Equal(t, http.StatusBadRequest, r.Status, "the contract refuses a role with a space")

	r = env.Do(t, "POST", "/v1/service-clients", admin, map[string]any{"name": "spark nightly", "roles": []string{"producer"}})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	var client serviceClientJSON
	r.JSON(t, &client)
	require.Equal(t, []string{"producer"}, client.Roles)
	require.Equal(t, "alice", client.CreatedBy)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	createRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, "grant.manage", createRow.Action)
	require.Equal(t, "service_client", createRow.Resource)
	require.Equal(t, lineage.DecisionAllow, createRow.Decision)
	require.Equal(t, http.StatusCreated, createRow.Status)
	secret := client.ClientSecret

	// Listing never shows the secret.
	r = env.Do(t, "GET", "/v1/service-clients", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), secret)
	require.NotContains(t, string(r.Body), "client_secret")
	var list struct {
		ServiceClients []serviceClientJSON `json:"service_clients"`
	}
	r.JSON(t, &list)
	require.Len(t, list.ServiceClients, 1)
	require.Equal(t, client.ClientID, list.ServiceClients[0].ClientID)
	require.Empty(t, list.ServiceClients[0].RevokedAt)

	// A token from the form body.
	r = tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID},
		"client_secret": {secret}, "scope": {"catalog"}}, "", formType)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	var tok tokenJSON
	r.JSON(t, &tok)
	require.Equal(t, "bearer", tok.TokenType)
	require.Equal(t, 3600, tok.ExpiresIn)
	require.Equal(t, "urn:ietf:params:oauth:token-type:access_token", tok.IssuedTokenType)
	require.NotEmpty(t, tok.AccessToken)
	tokenRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, client.ClientID, tokenRow.Principal)
	require.Equal(t, []string{"producer"}, tokenRow.Roles)
	require.Equal(t, http.StatusOK, tokenRow.Status)
	require.Equal(t, "/iceberg/v1/oauth/tokens", tokenRow.Path)
	require.NotEqual(t, lineage.DecisionUnauthenticated, tokenRow.Decision)

	// The token authenticates as the client, with its roles.
	r = env.Do(t, "GET", "/v1/datasets", tok.AccessToken, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	useRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, client.ClientID, useRow.Principal)
	require.Equal(t, []string{"producer"}, useRow.Roles)
	require.Equal(t, lineage.DecisionAllow, useRow.Decision)
	require.Equal(t, http.StatusForbidden, env.Do(t, "POST", "/v1/datasets", tok.AccessToken, ordersBody()).Status,
		"a producer without grants may not register datasets")

	// A token with HTTP Basic client authentication.
	r = tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}}, client.ClientID+":"+secret, formType)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var basicTok tokenJSON
	r.JSON(t, &basicTok)
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets", basicTok.AccessToken, nil).Status)

	// Failed client authentication: one answer whatever failed.
	wrong := tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID},
		"client_secret": {secret + "x"}}, "", formType)
	requireOAuthError(t, wrong, http.StatusUnauthorized, "invalid_client")
	require.True(t, strings.HasPrefix(wrong.Header.Get("WWW-Authenticate"), "Basic"), wrong.Header.Get("WWW-Authenticate"))
	wrongRow := env.AuditRow(t, wrong.Header.Get("X-Request-Id"))
	require.Equal(t, lineage.DecisionUnauthenticated, wrongRow.Decision)
	require.Empty(t, wrongRow.Principal)
	require.Contains(t, wrongRow.Reason, "invalid_client")
	require.Equal(t, http.StatusUnauthorized, wrongRow.Status)
	require.Equal(t, client.ClientID, wrongRow.Details["client_id"], "the claimed client id is audited")
	unknown := tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}}, "lgc_0000000000000000:"+secret, formType)
	requireOAuthError(t, unknown, http.StatusUnauthorized, "invalid_client")
	require.Equal(t, string(wrong.Body), string(unknown.Body), "an unknown client is answered like a wrong secret")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}}, "", formType),
		http.StatusUnauthorized, "invalid_client")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID}}, "", formType),
		http.StatusUnauthorized, "invalid_client")

	// Malformed requests.
	requireOAuthError(t, tokenRequest(t, env, url.Values{"client_id": {client.ClientID}, "client_secret": {secret}}, "", formType),
		http.StatusBadRequest, "invalid_request")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"},
		"client_id": {client.ClientID}, "client_secret": {secret}}, "", formType), http.StatusBadRequest, "unsupported_grant_type")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {client.ClientID}, "client_secret": {secret}}, "", formType), http.StatusBadRequest, "unsupported_grant_type")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID},
		"client_secret": {secret}, "scope": {"catalog admin"}}, "", formType), http.StatusBadRequest, "invalid_scope")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID},
		"client_secret": {secret}}, "", "application/json"), http.StatusBadRequest, "invalid_request")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}},
		client.ClientID+":"+secret, formType), http.StatusBadRequest, "invalid_request")
	requireOAuthError(t, tokenRequest(t, env, url.Values{"grant_type": {"client_credentials", "client_credentials"},
		"client_id": {client.ClientID}, "client_secret": {secret}}, "", formType), http.StatusBadRequest, "invalid_request")
	badGrant := tokenRequest(t, env, url.Values{"client_id": {client.ClientID}, "client_secret": {secret}}, "", formType)
	badRow := env.AuditRow(t, badGrant.Header.Get("X-Request-Id"))
	require.Equal(t, lineage.DecisionUnauthenticated, badRow.Decision)
	require.Contains(t, badRow.Reason, "grant_type")

	// Revocation: only by a grant manager; the client gets no new token.
	require.Equal(t, http.StatusForbidden, env.Do(t, "DELETE", "/v1/service-clients/"+client.ClientID, bob, nil).Status)
	require.Equal(t, http.StatusBadRequest, env.Do(t, "DELETE", "/v1/service-clients/not-an-id", admin, nil).Status)
	r = env.Do(t, "DELETE", "/v1/service-clients/"+client.ClientID, admin, nil)
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	revokeRow := env.AuditRow(t, r.Header.Get("X-Request-Id"))
	require.Equal(t, http.StatusNoContent, revokeRow.Status)
	require.Equal(t, client.ClientID, revokeRow.Details["client_id"])
	require.Equal(t, http.StatusNotFound, env.Do(t, "DELETE", "/v1/service-clients/"+client.ClientID, admin, nil).Status)
	revoked := tokenRequest(t, env, url.Values{"grant_type": {"client_credentials"}}, client.ClientID+":"+secret, formType)
	requireOAuthError(t, revoked, http.StatusUnauthorized, "invalid_client")
	require.Equal(t, string(wrong.Body), string(revoked.Body), "a revoked client is answered like a wrong secret")
	env.Do(t, "GET", "/v1/service-clients", admin, nil).JSON(t, &list)
	require.NotEmpty(t, list.ServiceClients[0].RevokedAt)

	// Every token request is audited, and neither the secret nor an issued token appears in
	// the audit log or the logs.
	env.Close() // drains the audit log
	rows, err := env.Pool.Query(context.Background(), `SELECT row_to_json(a)::text FROM audit_log a`)
	require.NoError(t, err)
	var tokenRows int
	for rows.Next() {
		var row string
		require.NoError(t, rows.Scan(&row))
		require.NotContains(t, row, secret)
		require.NotContains(t, row, tok.AccessToken)
		require.NotContains(t, row, basicTok.AccessToken)
		var e struct{ Path string }
		require.NoError(t, json.Unmarshal([]byte(row), &e))
		if e.Path == "/iceberg/v1/oauth/tokens" {
			tokenRows++
		}
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 15, tokenRows, "one audit row per token request")
	require.NotEmpty(t, logs.String())
	require.NotContains(t, logs.String(), secret)
	require.NotContains(t, logs.String(), tok.AccessToken)
}

func TestIcebergClientCredentials(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	for _, ns := range []string{"sales", "hr"} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces", admin, map[string]any{"namespace": []string{ns}})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	}
	r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{
		"principal_type": "role", "principal": "producer", "privilege": "namespace.read", "scope_type": "namespace", "namespace": "sales"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	client := createServiceClient(t, env, admin, "producer")

	// iceberg-go's REST client fetches a token from <uri>/v1/oauth/tokens with the credential
	// and lists what the client's role may read.
	cat, err := rest.NewCatalog(t.Context(), "lakegate", env.URL+"/iceberg", rest.WithCredential(client.ClientID+":"+client.ClientSecret))
	require.NoError(t, err)
	nss, err := cat.ListNamespaces(t.Context(), nil)
	require.NoError(t, err)
	require.Len(t, nss, 1)
	require.Equal(t, []string{"sales"}, []string(nss[0]))

	var audit struct{ Entries []lineage.AuditEntry }
	require.Eventually(t, func() bool {
		env.Do(t, "GET", "/v1/audit?principal="+client.ClientID, admin, nil).JSON(t, &audit)
		paths := map[string]bool{}
		for _, e := range audit.Entries {
			paths[e.Path] = true
		}
		return paths["/iceberg/v1/oauth/tokens"] && paths["/iceberg/v1/namespaces"]
	}, 5*time.Second, 20*time.Millisecond, "the token request and the listing are audited with the client as principal")

	// A wrong secret fails the client's first request.
	_, err = rest.NewCatalog(t.Context(), "lakegate", env.URL+"/iceberg", rest.WithCredential(client.ClientID+":wrong"))
	require.Error(t, err)
}

package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

// Every way a token can be wrong is answered 401 with WWW-Authenticate, and audited.
func TestJWTNegativeMatrix(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	keyFile := filepath.Join(t.TempDir(), "idp1.pem")
	require.NoError(t, os.WriteFile(keyFile, pubPEM, 0o600))

	env := testenv.New(t, testenv.Options{Auth: func(c *auth.Config) {
		c.PublicKeyFiles = []string{keyFile}
		c.Issuer = "https://idp.example"
		c.Audience = "lakegate"
		c.Leeway = 5 * time.Second
	}})

	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "mallory", "roles": []string{"admin"}, "iss": "https://idp.example", "aud": "lakegate",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hs := func(c jwt.MapClaims, secret []byte) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		require.NoError(t, err)
		return s
	}
	rs := func(c jwt.MapClaims, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(rsaKey)
		require.NoError(t, err)
		return s
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	valid := hs(claims(nil), testenv.Secret)
	parts := strings.Split(valid, ".")

	// Sanity: the good tokens pass, so each failure below is about its one defect.
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets", valid, nil).Status)
	require.Equal(t, http.StatusOK, env.Do(t, "GET", "/v1/datasets", rs(claims(nil), "idp1"), nil).Status)

	cases := []struct {
		name, header, reason string
	}{
		{"no token", "", "missing bearer token"},
		{"not bearer", "Basic YWxpY2U6cw==", "authorization header is not a bearer token"},
		{"malformed", "Bearer abc.def", "malformed"},
		{"expired", "Bearer " + hs(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), testenv.Secret), "expired"},
		{"not yet valid", "Bearer " + hs(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), testenv.Secret), "not valid yet"},
		{"wrong issuer", "Bearer " + hs(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), testenv.Secret), "issuer"},
		{"wrong audience", "Bearer " + hs(claims(func(c jwt.MapClaims) { c["aud"] = "other" }), testenv.Secret), "audience"},
		{"missing exp", "Bearer " + hs(claims(func(c jwt.MapClaims) { delete(c, "exp") }), testenv.Secret), "exp"},
		{"alg none", "Bearer " + b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", "none"},
		{"HS256 signed with the RSA public key", "Bearer " + hs(claims(nil), pubPEM), "signature"},
		{"bad signature", "Bearer " + parts[0] + "." + b64(`{"sub":"root","roles":["admin"],"exp":9999999999,"iss":"https://idp.example","aud":"lakegate"}`) + "." + parts[2], "signature"},
		{"unknown kid", "Bearer " + rs(claims(nil), "rotated-away"), "unknown signing key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			r := env.Do(t, "GET", "/v1/datasets/sales/orders", "", nil, hdr...)
			require.Equal(t, http.StatusUnauthorized, r.Status, string(r.Body))
			require.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer")
			e := r.Err(t)
			require.Equal(t, "unauthenticated", e.Error.Code)
			require.Contains(t, e.Error.Message, tc.reason)
			require.NotContains(t, string(r.Body), "eyJ", "a response must never echo a token")

			row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
			require.Equal(t, lineage.DecisionUnauthenticated, row.Decision)
			require.Equal(t, http.StatusUnauthorized, row.Status)
			require.Contains(t, row.Reason, tc.reason)
			require.Equal(t, "/v1/datasets/sales/orders", row.Path)
		})
	}
}

func TestPublicRoutesNeedNoToken(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		r := env.Do(t, "GET", p, "", nil)
		require.Equal(t, http.StatusOK, r.Status, p)
	}
	r := env.Do(t, "GET", "/metrics", "", nil)
	require.Contains(t, string(r.Body), "lakegate_http_requests_total")
	require.Contains(t, string(r.Body), "lakegate_policy_decisions_total")
	require.Contains(t, string(r.Body), "lakegate_audit_rows_written_total")
	r = env.Do(t, "GET", "/openapi.yaml", "", nil)
	require.Contains(t, string(r.Body), "openapi: 3")
}

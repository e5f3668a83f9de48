package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "lakegate"
)

func testSecret(t testing.TB) []byte {
	t.Helper()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	return secret
}

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key
}

func testECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return key
}

func testEdKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key
}

// pkixPEM returns the PKIX "PUBLIC KEY" PEM encoding of pub.
func pkixPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// writeFile writes data to dir/name with mode 0600 and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// validClaims returns claims that pass the test verifiers' checks.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "alice",
		"iss": testIssuer,
		"aud": testAudience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of claims with the given claims set; a nil value deletes the claim.
func with(claims jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}

// sign signs claims with method and key, setting the kid header when kid is non-empty.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	signed, err := tok.SignedString(key)
	require.NoError(t, err)
	return signed
}

// rawToken assembles a compact token from a header and claims by hand, with the given signature
// bytes, so tests can craft tokens no library would sign.
func rawToken(t testing.TB, header map[string]any, claims jwt.MapClaims, sig []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString(sig)
}

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), cfg, testLogger(t))
	require.NoError(t, err)
	return v
}

// requireReason asserts that err is an *Error with the given reason that matches
// ErrUnauthenticated and does not contain the token.
func requireReason(t testing.TB, err error, reason, token string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnauthenticated)
	var authErr *Error
	require.True(t, errors.As(err, &authErr), "error %v is not an *auth.Error", err)
	require.Equal(t, reason, authErr.Reason)
	require.Equal(t, "unauthenticated: "+reason, err.Error())
	if len(token) > 8 {
		require.NotContains(t, err.Error(), token)
		if authErr.Err != nil {
			require.NotContains(t, authErr.Err.Error(), token)
			for _, part := range strings.Split(token, ".") {
				if len(part) > 8 {
					require.NotContains(t, authErr.Err.Error(), part)
				}
			}
		}
	}
}

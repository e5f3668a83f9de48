package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/auth"
)

func testServeConfig(t *testing.T) *serveConfig {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := serveFlags(fs)
	c.DatabaseURL = "postgres://u@127.0.0.1:5432/db"
	c.DataDir = t.TempDir()
	return c
}

func TestAuthConfigAlwaysLoadsTheHS256Secret(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pemFile := filepath.Join(t.TempDir(), "idp.pem")
	require.NoError(t, os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))

	// With an external identity provider configured, the dev secret is still loaded, and the
	// verifier accepts the tokens the token endpoint mints with it.
	cfg := testServeConfig(t)
	cfg.JWTPublicKeys = stringList{pemFile}
	cfg.JWTIssuer = "https://idp.example"
	ac, err := authConfig(cfg)
	require.NoError(t, err)
	dev, err := auth.LoadOrCreateDevSecret(cfg.DataDir)
	require.NoError(t, err)
	require.Equal(t, dev, ac.HMACSecret)
	v, err := auth.NewVerifier(context.Background(), ac, nil)
	require.NoError(t, err)
	tok, err := auth.MintHS256(ac.HMACSecret, auth.MintOptions{Subject: "lgc_0123456789abcdef", Roles: []string{"producer"},
		TTL: cfg.OAuthTokenTTL, Issuer: ac.Issuer, Audience: ac.Audience, RolesClaim: ac.RolesClaim})
	require.NoError(t, err)
	p, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "lgc_0123456789abcdef", p.Subject)
	require.Equal(t, []string{"producer"}, p.Roles)

	// An allow-list without HS256 could not verify those tokens.
	cfg.JWTAlgorithms = stringList{"ES256"}
	_, err = authConfig(cfg)
	require.ErrorContains(t, err, "jwt-algorithms")
	cfg.JWTAlgorithms = stringList{"ES256", "HS256"}
	_, err = authConfig(cfg)
	require.NoError(t, err)

	// A configured secret file wins over the dev secret.
	secretFile := filepath.Join(t.TempDir(), "hs256")
	require.NoError(t, os.WriteFile(secretFile, []byte("a-configured-secret-of-at-least-32-bytes\n"), 0o600))
	cfg.JWTSecretFile = secretFile
	ac, err = authConfig(cfg)
	require.NoError(t, err)
	require.Equal(t, []byte("a-configured-secret-of-at-least-32-bytes"), ac.HMACSecret)
}

func TestValidateOAuthTokenTTL(t *testing.T) {
	c := testServeConfig(t)
	require.Equal(t, time.Hour, c.OAuthTokenTTL)
	require.NoError(t, c.validate())
	for _, ttl := range []time.Duration{0, 30 * time.Second, 25 * time.Hour} {
		c := testServeConfig(t)
		c.OAuthTokenTTL = ttl
		require.ErrorContains(t, c.validate(), "oauth-token-ttl")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c = serveFlags(fs)
	require.NoError(t, parseFlags(fs, nil, func(k string) string {
		if k == "LAKEGATE_OAUTH_TOKEN_TTL" {
			return "15m"
		}
		return ""
	}))
	require.Equal(t, 15*time.Minute, c.OAuthTokenTTL)
}

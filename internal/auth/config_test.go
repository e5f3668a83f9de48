package auth

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"hmac only", Config{HMACSecret: secret}, nil},
		{"pem only", Config{PublicKeyFiles: []string{"/keys/a.pem"}}, nil},
		{"jwks only", Config{JWKSURL: "https://idp.test/.well-known/jwks.json"}, nil},
		{"everything", Config{
			HMACSecret: secret, PublicKeyFiles: []string{"/keys/a.pem", "/keys/b.crt"}, JWKSURL: "http://127.0.0.1:9/jwks",
			JWKSRefresh: time.Minute, JWKSUnknownKIDRateLimit: time.Second, Algorithms: []string{"HS256", "RS256", "EdDSA"},
			Issuer: "iss", Audience: "aud", Leeway: 5 * time.Minute, RolesClaim: "groups", MaxTokenBytes: 1024,
		}, nil},
		{"no key source", Config{}, []string{"auth: no key source"}},
		{"short hmac secret", Config{HMACSecret: []byte("dev")}, []string{"auth: hmac secret must be at least 32 bytes"}},
		{"none listed", Config{HMACSecret: secret, Algorithms: []string{"HS256", "none"}}, []string{`auth: algorithm "none" is never allowed`}},
		{"None listed", Config{HMACSecret: secret, Algorithms: []string{"None"}}, []string{`auth: algorithm "none" is never allowed`}},
		{"unknown algorithm", Config{HMACSecret: secret, Algorithms: []string{"HS1"}}, []string{`auth: algorithm "HS1" is not supported`}},
		{"HS256 without secret", Config{PublicKeyFiles: []string{"/keys/a.pem"}, Algorithms: []string{"HS256", "RS256"}}, []string{`auth: algorithm "HS256" requires the hmac secret`}},
		{"RS256 without public keys", Config{HMACSecret: secret, Algorithms: []string{"RS256"}}, []string{`auth: algorithm "RS256" requires public key files or a jwks url`}},
		{"leeway too large", Config{HMACSecret: secret, Leeway: 6 * time.Minute}, []string{"auth: leeway must be ≤ 5m"}},
		{"negative leeway", Config{HMACSecret: secret, Leeway: -time.Second}, []string{"auth: leeway must not be negative"}},
		{"relative jwks url", Config{JWKSURL: "/jwks.json"}, []string{"auth: jwks url must be an absolute http or https URL"}},
		{"ftp jwks url", Config{JWKSURL: "ftp://idp.test/jwks"}, []string{"auth: jwks url must be an absolute http or https URL"}},
		{"negative jwks refresh", Config{JWKSURL: "https://idp.test/jwks", JWKSRefresh: -time.Second}, []string{"auth: jwks refresh interval must be positive"}},
		{"negative unknown kid rate limit", Config{JWKSURL: "https://idp.test/jwks", JWKSUnknownKIDRateLimit: -time.Second}, []string{"auth: jwks unknown kid rate limit must be positive"}},
		{"duplicate kid", Config{PublicKeyFiles: []string{"/a/key.pem", "/b/key.crt"}}, []string{`both have kid "key"`}},
		{"file without name", Config{PublicKeyFiles: []string{"/keys/.pem"}}, []string{"public key file #1 has no usable file name"}},
		{"registered roles claim", Config{HMACSecret: secret, RolesClaim: "sub"}, []string{`auth: roles claim "sub" is a registered claim name`}},
		{"negative max token bytes", Config{HMACSecret: secret, MaxTokenBytes: -1}, []string{"auth: max token bytes must be positive"}},
		{"all errors reported", Config{HMACSecret: []byte("x"), Leeway: time.Hour, Algorithms: []string{"none"}}, []string{
			"hmac secret must be at least 32 bytes", "leeway must be ≤ 5m", `algorithm "none" is never allowed`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tc.want {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"hmac", Config{HMACSecret: secret}, []string{"HS256"}},
		{"pem", Config{PublicKeyFiles: []string{"/k/a.pem"}}, []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"}},
		{"hmac and jwks", Config{HMACSecret: secret, JWKSURL: "https://idp.test/jwks"}, []string{"HS256", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"}},
		{"explicit", Config{HMACSecret: secret, Algorithms: []string{"HS384"}}, []string{"HS384"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.withDefaults()
			require.Equal(t, tc.want, got.Algorithms)
			require.Equal(t, 15*time.Minute, got.JWKSRefresh)
			require.Equal(t, 30*time.Second, got.JWKSUnknownKIDRateLimit)
			require.Equal(t, 30*time.Second, got.Leeway)
			require.Equal(t, "roles", got.RolesClaim)
			require.Equal(t, 8192, got.MaxTokenBytes)
		})
	}
}

package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestMintHS256RoundTrip(t *testing.T) {
	secret := testSecret(t)
	v := newTestVerifier(t, Config{HMACSecret: secret, Issuer: testIssuer, Audience: testAudience})

	token, err := MintHS256(secret, MintOptions{
		Subject: "alice", Roles: []string{"admin", "reader"}, TTL: time.Hour, Issuer: testIssuer, Audience: testAudience,
	})
	require.NoError(t, err)
	p, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "alice", Roles: []string{"admin", "reader"}}, p)
}

func TestMintHS256Claims(t *testing.T) {
	secret := testSecret(t)
	issued := time.Unix(1_800_000_000, 0)
	opts := MintOptions{
		Subject: "svc-etl", Roles: []string{"writer"}, TTL: 10 * time.Minute,
		Issuer: "lakegate-dev", Audience: "lakegate", RolesClaim: "groups",
		Now: func() time.Time { return issued },
	}
	first, err := MintHS256(secret, opts)
	require.NoError(t, err)
	second, err := MintHS256(secret, opts)
	require.NoError(t, err)

	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{"HS256"})).
		ParseWithClaims(first, claims, func(*jwt.Token) (any, error) { return secret, nil })
	require.NoError(t, err)
	require.Equal(t, "HS256", parsed.Method.Alg())
	require.Equal(t, "svc-etl", claims["sub"])
	require.Equal(t, []any{"writer"}, claims["groups"])
	require.NotContains(t, claims, "roles")
	require.Equal(t, "lakegate-dev", claims["iss"])
	require.Equal(t, "lakegate", claims["aud"])
	require.EqualValues(t, issued.Unix(), claims["iat"])
	require.EqualValues(t, issued.Unix(), claims["nbf"])
	require.EqualValues(t, issued.Add(10*time.Minute).Unix(), claims["exp"])
	jti, ok := claims["jti"].(string)
	require.True(t, ok)
	require.Len(t, jti, 22, "16 random bytes, base64url")

	secondClaims := jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(second, secondClaims)
	require.NoError(t, err)
	require.NotEqual(t, jti, secondClaims["jti"], "jti is random")
}

func TestMintHS256MinimalClaims(t *testing.T) {
	secret := testSecret(t)
	token, err := MintHS256(secret, MintOptions{Subject: "bob", TTL: time.Minute})
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(token, claims)
	require.NoError(t, err)
	require.Equal(t, []any{}, claims["roles"], "roles is always an array")
	require.NotContains(t, claims, "iss")
	require.NotContains(t, claims, "aud")

	v := newTestVerifier(t, Config{HMACSecret: secret})
	p, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "bob"}, p)
}

func TestMintHS256Expired(t *testing.T) {
	secret := testSecret(t)
	token, err := MintHS256(secret, MintOptions{
		Subject: "alice", TTL: time.Minute, Now: func() time.Time { return time.Now().Add(-time.Hour) },
	})
	require.NoError(t, err)
	v := newTestVerifier(t, Config{HMACSecret: secret})
	_, err = v.Verify(t.Context(), token)
	requireReason(t, err, ReasonTokenExpired, token)
}

func TestMintHS256Errors(t *testing.T) {
	secret := testSecret(t)
	tests := []struct {
		name   string
		secret []byte
		opts   MintOptions
		want   string
	}{
		{"short secret", []byte("short"), MintOptions{Subject: "a", TTL: time.Minute}, "hmac secret must be at least 32 bytes"},
		{"no subject", secret, MintOptions{TTL: time.Minute}, "subject is required"},
		{"blank subject", secret, MintOptions{Subject: "  ", TTL: time.Minute}, "subject is required"},
		{"zero ttl", secret, MintOptions{Subject: "a"}, "ttl must be positive"},
		{"negative ttl", secret, MintOptions{Subject: "a", TTL: -time.Second}, "ttl must be positive"},
		{"registered roles claim", secret, MintOptions{Subject: "a", TTL: time.Minute, RolesClaim: "exp"}, `roles claim "exp" is a registered claim name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := MintHS256(tc.secret, tc.opts)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, token)
		})
	}
}

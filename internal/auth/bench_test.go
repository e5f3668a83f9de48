package auth

import (
	"log/slog"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func BenchmarkVerifyHS256(b *testing.B) {
	secret := testSecret(b)
	v, err := NewVerifier(b.Context(), Config{HMACSecret: secret, Issuer: testIssuer, Audience: testAudience}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	token := sign(b, jwt.SigningMethodHS256, secret, "", with(validClaims(), "roles", []string{"reader", "writer"}))
	benchmarkVerify(b, v, token)
}

func BenchmarkVerifyRS256(b *testing.B) {
	rsaKey := testRSAKey(b)
	path := writeFile(b, b.TempDir(), "rsa1.pem", pkixPEM(b, &rsaKey.PublicKey))
	v, err := NewVerifier(b.Context(), Config{PublicKeyFiles: []string{path}, Issuer: testIssuer, Audience: testAudience}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	token := sign(b, jwt.SigningMethodRS256, rsaKey, "rsa1", with(validClaims(), "roles", []string{"reader", "writer"}))
	benchmarkVerify(b, v, token)
}

func benchmarkVerify(b *testing.B, v *Verifier, token string) {
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		p, err := v.Verify(ctx, token)
		if err != nil {
			b.Fatal(err)
		}
		if p.Subject != "alice" || len(p.Roles) != 2 {
			b.Fatalf("unexpected principal %+v", p)
		}
	}
}

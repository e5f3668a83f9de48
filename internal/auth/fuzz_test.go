package auth

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds untrusted token strings to Verify: it must never panic, must always fail with a
// known *Error, and must accept nothing but the validly signed seeds.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	secret := testSecret(f)
	rsaKey := testRSAKey(f)
	edKey := testEdKey(f)
	files := []string{
		writeFile(f, dir, "rsa1.pem", pkixPEM(f, &rsaKey.PublicKey)),
		writeFile(f, dir, "ed1.pem", pkixPEM(f, edKey.Public())),
	}
	v, err := NewVerifier(f.Context(), Config{
		HMACSecret: secret, PublicKeyFiles: files, Issuer: testIssuer, Audience: testAudience,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}

	good := validClaims()
	valid := map[string]bool{}
	for _, token := range []string{
		sign(f, jwt.SigningMethodHS256, secret, "", good),
		sign(f, jwt.SigningMethodHS256, secret, "", with(good, "roles", "reader writer")),
		sign(f, jwt.SigningMethodRS256, rsaKey, "rsa1", with(good, "roles", []string{"admin"})),
		sign(f, jwt.SigningMethodRS256, rsaKey, "", good),
		sign(f, jwt.SigningMethodPS256, rsaKey, "rsa1", good),
		sign(f, jwt.SigningMethodEdDSA, edKey, "ed1", good),
	} {
		valid[token] = true
		f.Add(token)
	}
	hs := sign(f, jwt.SigningMethodHS256, secret, "", good)
	for _, token := range []string{
		"", "abc", "a.b.c", "..", "e30.e30.", "e30.e30.e30",
		rawToken(f, map[string]any{"alg": "none"}, good, nil),
		rawToken(f, map[string]any{"alg": "HS256", "kid": 1}, good, []byte("x")),
		sign(f, jwt.SigningMethodHS256, pkixPEM(f, &rsaKey.PublicKey), "rsa1", good),
		sign(f, jwt.SigningMethodHS256, secret, "", with(good, "exp", time.Now().Add(-time.Hour).Unix())),
		sign(f, jwt.SigningMethodHS256, secret, "", with(good, "sub", nil)),
		sign(f, jwt.SigningMethodHS256, secret, "", with(good, "roles", map[string]any{"a": 1})),
		hs[:len(hs)-2],
		strings.Repeat("A", defaultMaxTokenBytes+1),
	} {
		f.Add(token)
	}

	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(t.Context(), token)
		if err == nil {
			if !valid[token] {
				t.Fatalf("a token that is not a validly signed seed verified as %+v", p)
			}
			if p.Subject != "alice" {
				t.Fatalf("seed verified with subject %q", p.Subject)
			}
			return
		}
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("error does not match ErrUnauthenticated: %v", err)
		}
		var authErr *Error
		if !errors.As(err, &authErr) {
			t.Fatalf("error is %T, not *auth.Error", err)
		}
		if !knownReason(authErr.Reason) {
			t.Fatalf("unexpected reason %q", authErr.Reason)
		}
		if p.Subject != "" || p.Roles != nil {
			t.Fatalf("a rejected token returned principal %+v", p)
		}
		if valid[token] {
			t.Fatalf("a validly signed seed was rejected: %v", err)
		}
	})
}

func knownReason(reason string) bool {
	switch reason {
	case ReasonMissingToken, ReasonTokenTooLarge, ReasonMalformedToken, ReasonTokenExpired, ReasonTokenNotValidYet,
		ReasonBadSignature, ReasonUnknownSigningKey, ReasonKeyMismatch, ReasonAlgorithmNotAllowed, ReasonWrongIssuer,
		ReasonWrongAudience, ReasonMissingSubject, ReasonMissingExp, ReasonInvalidRolesClaim, ReasonInvalidToken:
		return true
	}
	alg, ok := strings.CutPrefix(reason, ReasonAlgorithmNotAllowed+": ")
	return ok && jwt.GetSigningMethod(alg) != nil
}

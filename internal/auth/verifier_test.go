package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestVerifyRejects(t *testing.T) {
	dir := t.TempDir()
	secret := testSecret(t)
	rsaKey := testRSAKey(t)
	otherRSA := testRSAKey(t)
	ecKey := testECKey(t, elliptic.P256())
	rsaPEM := pkixPEM(t, &rsaKey.PublicKey)
	rsaFile := writeFile(t, dir, "rsa1.pem", rsaPEM)

	// mixed has an HMAC secret and an RSA key; pemOnly has only the RSA key.
	mixed := newTestVerifier(t, Config{
		HMACSecret:     secret,
		PublicKeyFiles: []string{rsaFile},
		Issuer:         testIssuer,
		Audience:       testAudience,
	})
	pemOnly := newTestVerifier(t, Config{PublicKeyFiles: []string{rsaFile}, Issuer: testIssuer, Audience: testAudience})

	now := time.Now()
	good := validClaims()
	hs := func(claims jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, secret, "", claims) }
	goodHS := hs(good)
	goodRS := sign(t, jwt.SigningMethodRS256, rsaKey, "rsa1", good)
	tamper := func(token string, claims jwt.MapClaims) string {
		parts := strings.Split(token, ".")
		forged := strings.Split(rawToken(t, map[string]any{"alg": "HS256"}, claims, nil), ".")
		return parts[0] + "." + forged[1] + "." + parts[2]
	}
	// The last character of a 32-byte HMAC signature carries 2 data bits and 4 zero bits;
	// setting a zero bit yields a non-canonical encoding of the same bytes.
	nonCanonical := goodHS[:len(goodHS)-1] + string(base64URLNext(goodHS[len(goodHS)-1]))
	lenientSig, err := base64.RawURLEncoding.DecodeString(nonCanonical[strings.LastIndexByte(nonCanonical, '.')+1:])
	require.NoError(t, err, "non-strict decoding accepts the altered signature")
	canonicalSig, err := base64.RawURLEncoding.DecodeString(goodHS[strings.LastIndexByte(goodHS, '.')+1:])
	require.NoError(t, err)
	require.Equal(t, canonicalSig, lenientSig, "the altered signature decodes to the same bytes")
	numericKIDToken := jwt.NewWithClaims(jwt.SigningMethodRS256, good)
	numericKIDToken.Header["kid"] = 7
	numericKID, err := numericKIDToken.SignedString(rsaKey)
	require.NoError(t, err)

	tests := []struct {
		name     string
		verifier *Verifier
		token    string
		reason   string
	}{
		{"empty token", mixed, "", ReasonMissingToken},
		{"one segment", mixed, "abc", ReasonMalformedToken},
		{"garbage segments", mixed, "a.b.c", ReasonMalformedToken},
		{"four segments", mixed, goodHS + ".x", ReasonMalformedToken},
		{"header not json", mixed, base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".e30.", ReasonMalformedToken},
		{"non-canonical base64 signature", mixed, nonCanonical, ReasonMalformedToken},
		{"too large", mixed, strings.Repeat("a", defaultMaxTokenBytes+1), ReasonTokenTooLarge},
		{"too large but well formed", mixed, hs(with(good, "pad", strings.Repeat("x", defaultMaxTokenBytes))), ReasonTokenTooLarge},
		{"expired", mixed, hs(with(good, "exp", now.Add(-2*time.Minute).Unix())), ReasonTokenExpired},
		{"expired beats wrong issuer", mixed, hs(with(good, "exp", now.Add(-2*time.Minute).Unix(), "iss", "https://evil.test")), ReasonTokenExpired},
		{"nbf beyond leeway", mixed, hs(with(good, "nbf", now.Add(2*time.Minute).Unix())), ReasonTokenNotValidYet},
		{"iat beyond leeway", mixed, hs(with(good, "iat", now.Add(2*time.Minute).Unix())), ReasonTokenNotValidYet},
		{"wrong issuer", mixed, hs(with(good, "iss", "https://evil.test")), ReasonWrongIssuer},
		{"missing issuer", mixed, hs(with(good, "iss", nil)), ReasonWrongIssuer},
		{"empty issuer", mixed, hs(with(good, "iss", "")), ReasonWrongIssuer},
		{"wrong audience", mixed, hs(with(good, "aud", "someone-else")), ReasonWrongAudience},
		{"wrong audience list", mixed, hs(with(good, "aud", []string{"a", "b"})), ReasonWrongAudience},
		{"missing audience", mixed, hs(with(good, "aud", nil)), ReasonWrongAudience},
		{"missing exp", mixed, hs(with(good, "exp", nil)), ReasonMissingExp},
		{"exp not a number", mixed, hs(with(good, "exp", "tomorrow")), ReasonMalformedToken},
		{"missing sub", mixed, hs(with(good, "sub", nil)), ReasonMissingSubject},
		{"empty sub", mixed, hs(with(good, "sub", " ")), ReasonMissingSubject},
		{"numeric sub", mixed, hs(with(good, "sub", 42)), ReasonMissingSubject},
		{"roles of wrong type", mixed, hs(with(good, "roles", 7)), ReasonInvalidRolesClaim},
		{"roles array with non-string", mixed, hs(with(good, "roles", []any{"a", 1})), ReasonInvalidRolesClaim},
		{"alg none", mixed, rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, good, nil), ReasonAlgorithmNotAllowed + ": none"},
		{"alg none on pem-only verifier", pemOnly, rawToken(t, map[string]any{"alg": "none"}, good, nil), ReasonAlgorithmNotAllowed + ": none"},
		{"alg missing", mixed, rawToken(t, map[string]any{"typ": "JWT"}, good, []byte("sig")), ReasonAlgorithmNotAllowed},
		{"alg unknown", mixed, rawToken(t, map[string]any{"alg": "HS257"}, good, []byte("sig")), ReasonAlgorithmNotAllowed},
		{"alg registered but not allowed", mixed, sign(t, jwt.SigningMethodHS512, secret, "", good), ReasonAlgorithmNotAllowed + ": HS512"},
		{"HS256 keyed with RSA public PEM, only RSA configured", pemOnly, sign(t, jwt.SigningMethodHS256, rsaPEM, "", good), ReasonAlgorithmNotAllowed + ": HS256"},
		{"HS256 keyed with RSA public PEM and kid, only RSA configured", pemOnly, sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa1", good), ReasonAlgorithmNotAllowed + ": HS256"},
		{"HS256 keyed with RSA public PEM, secret configured", mixed, sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa1", good), ReasonBadSignature},
		{"HS256 with wrong secret", mixed, sign(t, jwt.SigningMethodHS256, testSecret(t), "", good), ReasonBadSignature},
		{"HS256 tampered payload", mixed, tamper(goodHS, with(good, "sub", "root")), ReasonBadSignature},
		{"RS256 tampered payload", mixed, tamper(goodRS, with(good, "roles", []string{"admin"})), ReasonBadSignature},
		{"RS256 signed by another key", mixed, sign(t, jwt.SigningMethodRS256, otherRSA, "rsa1", good), ReasonBadSignature},
		{"RS256 without kid signed by another key", mixed, sign(t, jwt.SigningMethodRS256, otherRSA, "", good), ReasonBadSignature},
		{"RS256 unknown kid", mixed, sign(t, jwt.SigningMethodRS256, rsaKey, "rsa2", good), ReasonUnknownSigningKey},
		{"kid not a string", mixed, numericKID, ReasonMalformedToken},
		{"ES256 with an RSA kid", mixed, sign(t, jwt.SigningMethodES256, ecKey, "rsa1", good), ReasonKeyMismatch},
		{"ES256 without kid and no EC key", mixed, sign(t, jwt.SigningMethodES256, ecKey, "", good), ReasonUnknownSigningKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.verifier.Verify(t.Context(), tc.token)
			requireReason(t, err, tc.reason, tc.token)
			require.Equal(t, Principal{}, p)
		})
	}
}

// base64URLNext returns the base64url character after c, so that a final character with zero
// padding bits gets a non-zero one.
func base64URLNext(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[(i+1)%len(alphabet)]
}

func TestVerifyAccepts(t *testing.T) {
	dir := t.TempDir()
	secret := testSecret(t)
	rsaKey := testRSAKey(t)
	pkcs1Key := testRSAKey(t)
	ec256 := testECKey(t, elliptic.P256())
	ec384 := testECKey(t, elliptic.P384())
	certKey := testECKey(t, elliptic.P256())
	edKey := testEdKey(t)

	files := []string{
		writeFile(t, dir, "rsa1.pem", pkixPEM(t, &rsaKey.PublicKey)),
		writeFile(t, dir, "legacy.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&pkcs1Key.PublicKey)})),
		writeFile(t, dir, "ec1.pem", pkixPEM(t, &ec256.PublicKey)),
		writeFile(t, dir, "ec384.key", pkixPEM(t, &ec384.PublicKey)),
		writeFile(t, dir, "ed1.pem", pkixPEM(t, edKey.Public())),
		writeFile(t, dir, "cert1.crt", selfSignedCertPEM(t, certKey)),
	}
	cfg := Config{HMACSecret: secret, PublicKeyFiles: files, Issuer: testIssuer, Audience: testAudience}
	v := newTestVerifier(t, cfg)
	cfg.RolesClaim = "groups"
	custom := newTestVerifier(t, cfg)

	now := time.Now()
	good := validClaims()
	alice := Principal{Subject: "alice"}
	withRoles := func(roles ...string) Principal { return Principal{Subject: "alice", Roles: roles} }

	tests := []struct {
		name     string
		verifier *Verifier
		token    string
		want     Principal
	}{
		{"HS256", v, sign(t, jwt.SigningMethodHS256, secret, "", good), alice},
		{"HS256 ignores kid", v, sign(t, jwt.SigningMethodHS256, secret, "rsa1", good), alice},
		{"RS256 from PEM by kid", v, sign(t, jwt.SigningMethodRS256, rsaKey, "rsa1", good), alice},
		{"RS256 from PEM without kid", v, sign(t, jwt.SigningMethodRS256, rsaKey, "", good), alice},
		{"RS512 from PEM", v, sign(t, jwt.SigningMethodRS512, rsaKey, "rsa1", good), alice},
		{"PS256 from PEM", v, sign(t, jwt.SigningMethodPS256, rsaKey, "rsa1", good), alice},
		{"RS256 from PKCS#1 PEM", v, sign(t, jwt.SigningMethodRS256, pkcs1Key, "legacy", good), alice},
		{"ES256 from PEM", v, sign(t, jwt.SigningMethodES256, ec256, "ec1", good), alice},
		{"ES256 from PEM without kid", v, sign(t, jwt.SigningMethodES256, ec256, "", good), alice},
		{"ES384 from PEM", v, sign(t, jwt.SigningMethodES384, ec384, "ec384", good), alice},
		{"ES256 from certificate", v, sign(t, jwt.SigningMethodES256, certKey, "cert1", good), alice},
		{"EdDSA from PEM", v, sign(t, jwt.SigningMethodEdDSA, edKey, "ed1", good), alice},
		{"EdDSA from PEM without kid", v, sign(t, jwt.SigningMethodEdDSA, edKey, "", good), alice},
		{"exp within leeway", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "exp", now.Add(-10*time.Second).Unix())), alice},
		{"nbf within leeway", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "nbf", now.Add(10*time.Second).Unix())), alice},
		{"iat within leeway", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "iat", now.Add(10*time.Second).Unix())), alice},
		{"no nbf and no iat", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "nbf", nil, "iat", nil)), alice},
		{"aud list containing ours", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "aud", []string{"x", testAudience})), alice},
		{"roles array", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", []string{"reader", "writer"})), withRoles("reader", "writer")},
		{"roles space separated", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", "reader  writer\tadmin")), withRoles("reader", "writer", "admin")},
		{"roles comma separated", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", "reader, writer,,admin")), withRoles("reader", "writer", "admin")},
		{"roles deduplicated and blanks dropped", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", []string{"a", " ", "a", "b"})), withRoles("a", "b")},
		{"roles null", v, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", jsonNull{})), alice},
		{"roles from custom claim", custom, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "groups", []string{"ops"}, "roles", []string{"ignored"})), withRoles("ops")},
		{"custom claim as string", custom, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "groups", "ops dev")), withRoles("ops", "dev")},
		{"custom claim missing", custom, sign(t, jwt.SigningMethodHS256, secret, "", with(good, "roles", []string{"ignored"})), alice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.verifier.Verify(t.Context(), tc.token)
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
		})
	}
}

// jsonNull marshals to JSON null, so a claim can be present with a null value.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func TestVerifyMaxTokenBytes(t *testing.T) {
	secret := testSecret(t)
	v := newTestVerifier(t, Config{HMACSecret: secret, MaxTokenBytes: 512})
	token := sign(t, jwt.SigningMethodHS256, secret, "", with(validClaims(), "pad", strings.Repeat("x", 300)))
	require.Greater(t, len(token), 512)
	_, err := v.Verify(t.Context(), token)
	requireReason(t, err, ReasonTokenTooLarge, token)

	short := sign(t, jwt.SigningMethodHS256, secret, "", validClaims())
	require.LessOrEqual(t, len(short), 512)
	p, err := v.Verify(t.Context(), short)
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
}

func TestVerifyLeewayConfigured(t *testing.T) {
	secret := testSecret(t)
	strict := newTestVerifier(t, Config{HMACSecret: secret, Leeway: time.Second})
	lenient := newTestVerifier(t, Config{HMACSecret: secret, Leeway: 5 * time.Minute})
	token := sign(t, jwt.SigningMethodHS256, secret, "", with(validClaims(), "exp", time.Now().Add(-time.Minute).Unix()))

	_, err := strict.Verify(t.Context(), token)
	requireReason(t, err, ReasonTokenExpired, token)
	p, err := lenient.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
}

func TestVerifyAlgorithmAllowList(t *testing.T) {
	dir := t.TempDir()
	rsaKey := testRSAKey(t)
	edKey := testEdKey(t)
	files := []string{
		writeFile(t, dir, "rsa1.pem", pkixPEM(t, &rsaKey.PublicKey)),
		writeFile(t, dir, "ed1.pem", pkixPEM(t, edKey.Public())),
	}
	v := newTestVerifier(t, Config{PublicKeyFiles: files, Algorithms: []string{"EdDSA"}})

	rs := sign(t, jwt.SigningMethodRS256, rsaKey, "rsa1", validClaims())
	_, err := v.Verify(t.Context(), rs)
	requireReason(t, err, ReasonAlgorithmNotAllowed+": RS256", rs)

	ed := sign(t, jwt.SigningMethodEdDSA, edKey, "ed1", validClaims())
	p, err := v.Verify(t.Context(), ed)
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
}

func TestNewVerifierPublicKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	ecKey := testECKey(t, elliptic.P256())
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	privDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	p224 := testECKey(t, elliptic.P224())

	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"no pem block", []byte("not a key"), "no PEM block found"},
		{"private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), "holds a private key"},
		{"unsupported block", pem.EncodeToMemory(&pem.Block{Type: "FOO", Bytes: []byte{1}}), `unsupported PEM block type "FOO"`},
		{"corrupt public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), "parse public key"},
		{"small rsa key", pkixPEM(t, &smallRSA.PublicKey), "RSA key has 1024 bits"},
		{"P-224 key", pkixPEM(t, &p224.PublicKey), "not on P-256, P-384 or P-521"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".pem", tc.content)
			_, err := NewVerifier(t.Context(), Config{PublicKeyFiles: []string{path}}, testLogger(t))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), path)
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := NewVerifier(t.Context(), Config{PublicKeyFiles: []string{dir + "/absent.pem"}}, testLogger(t))
		require.Error(t, err)
		require.Contains(t, err.Error(), "absent.pem")
	})
}

func TestNewVerifierRejectsInvalidConfig(t *testing.T) {
	_, err := NewVerifier(t.Context(), Config{HMACSecret: []byte("short")}, nil)
	require.ErrorContains(t, err, "hmac secret must be at least 32 bytes")
}

func TestNewVerifierCopiesSecret(t *testing.T) {
	secret := testSecret(t)
	original := append([]byte(nil), secret...)
	v := newTestVerifier(t, Config{HMACSecret: secret})
	for i := range secret {
		secret[i] = 0
	}
	token := sign(t, jwt.SigningMethodHS256, original, "", validClaims())
	p, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
}

func selfSignedCertPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lakegate test signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

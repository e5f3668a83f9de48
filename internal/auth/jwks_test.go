package auth

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// jwksServer serves a JWKS that tests can replace, and counts the requests it gets.
type jwksServer struct {
	srv    *httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t *testing.T, keys ...jwkset.JWK) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(t, keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		status, body := s.status, s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) setKeys(t *testing.T, keys ...jwkset.JWK) {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Marshal())
	}
	body, err := json.Marshal(set)
	require.NoError(t, err)
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// jwkFor builds a JWK for a public (or, for oct keys, secret) key.
func jwkFor(t *testing.T, key any, kid string, alg jwkset.ALG) jwkset.JWK {
	t.Helper()
	_, symmetric := key.([]byte)
	jwk, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: symmetric},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig},
	})
	require.NoError(t, err)
	return jwk
}

func TestJWKSVerifyRS256(t *testing.T) {
	rsaKey := testRSAKey(t)
	srv := newJWKSServer(t, jwkFor(t, &rsaKey.PublicKey, "k1", jwkset.AlgRS256))
	v := newTestVerifier(t, Config{JWKSURL: srv.srv.URL, Issuer: testIssuer, Audience: testAudience})
	require.EqualValues(t, 1, srv.hits.Load(), "NewVerifier fetches the JWKS once")

	token := sign(t, jwt.SigningMethodRS256, rsaKey, "k1", with(validClaims(), "roles", []string{"reader"}))
	p, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "alice", Roles: []string{"reader"}}, p)

	noKID := sign(t, jwt.SigningMethodRS256, rsaKey, "", validClaims())
	p, err = v.Verify(t.Context(), noKID)
	require.NoError(t, err, "a token without kid tries every JWKS key of its type")
	require.Equal(t, "alice", p.Subject)
	require.EqualValues(t, 1, srv.hits.Load(), "known keys are served from the cache")

	// The JWK pins RS256, so a PS256 token naming it is refused even though the key type fits.
	ps := sign(t, jwt.SigningMethodPS256, rsaKey, "k1", validClaims())
	_, err = v.Verify(t.Context(), ps)
	requireReason(t, err, ReasonKeyMismatch, ps)
}

func TestJWKSUnknownKID(t *testing.T) {
	ecKey := testECKey(t, elliptic.P256())
	other := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t, jwkFor(t, &ecKey.PublicKey, "k1", jwkset.AlgES256))
	v := newTestVerifier(t, Config{JWKSURL: srv.srv.URL, JWKSUnknownKIDRateLimit: time.Hour})

	token := sign(t, jwt.SigningMethodES256, other, "nope", validClaims())
	_, err := v.Verify(t.Context(), token)
	requireReason(t, err, ReasonUnknownSigningKey, token)
	require.EqualValues(t, 2, srv.hits.Load(), "an unknown kid triggers one refresh")

	_, err = v.Verify(t.Context(), token)
	requireReason(t, err, ReasonUnknownSigningKey, token)
	require.EqualValues(t, 2, srv.hits.Load(), "a second unknown kid inside the rate limit does not refresh")

	// Concurrent unknown kids inside the rate limit neither refresh nor wait.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := v.Verify(t.Context(), token)
			requireReason(t, err, ReasonUnknownSigningKey, token)
		})
	}
	wg.Wait()
	require.EqualValues(t, 2, srv.hits.Load())
}

func TestJWKSConcurrentUnknownKIDsShareOneRefresh(t *testing.T) {
	ecKey := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t)
	v := newTestVerifier(t, Config{JWKSURL: srv.srv.URL, JWKSUnknownKIDRateLimit: time.Hour})
	srv.setKeys(t, jwkFor(t, &ecKey.PublicKey, "k1", jwkset.AlgES256))

	token := sign(t, jwt.SigningMethodES256, ecKey, "k1", validClaims())
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for range 8 {
		wg.Go(func() {
			if _, err := v.Verify(t.Context(), token); err == nil {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 2, srv.hits.Load(), "one initial fetch and at most one refresh")
	require.GreaterOrEqual(t, accepted.Load(), int64(1))
	_, err := v.Verify(t.Context(), token)
	require.NoError(t, err)
}

func TestJWKSRotationAfterUnknownKID(t *testing.T) {
	const rateLimit = time.Second
	k1 := testECKey(t, elliptic.P256())
	k2 := testECKey(t, elliptic.P256())
	k3 := testEdKey(t)
	srv := newJWKSServer(t, jwkFor(t, &k1.PublicKey, "k1", jwkset.AlgES256))
	v := newTestVerifier(t, Config{JWKSURL: srv.srv.URL, JWKSUnknownKIDRateLimit: rateLimit})

	t1 := sign(t, jwt.SigningMethodES256, k1, "k1", validClaims())
	_, err := v.Verify(t.Context(), t1)
	require.NoError(t, err)

	// The issuer rotates to k2: the first k2 token refreshes the JWKS and verifies.
	srv.setKeys(t, jwkFor(t, &k2.PublicKey, "k2", jwkset.AlgES256))
	t2 := sign(t, jwt.SigningMethodES256, k2, "k2", validClaims())
	_, err = v.Verify(t.Context(), t2)
	require.NoError(t, err)
	require.EqualValues(t, 2, srv.hits.Load())

	// Rotating again at once: the refresh is rate limited, so the k3 token fails for now...
	srv.setKeys(t, jwkFor(t, k3.Public(), "k3", jwkset.AlgEdDSA))
	t3 := sign(t, jwt.SigningMethodEdDSA, k3, "k3", validClaims())
	_, err = v.Verify(t.Context(), t3)
	requireReason(t, err, ReasonUnknownSigningKey, t3)
	require.EqualValues(t, 2, srv.hits.Load())

	// ...and verifies once the interval has passed.
	require.Eventually(t, func() bool {
		_, err := v.Verify(t.Context(), t3)
		return err == nil
	}, 10*rateLimit, 50*time.Millisecond)
	require.EqualValues(t, 3, srv.hits.Load())

	// Keys removed from the JWKS are no longer accepted.
	_, err = v.Verify(t.Context(), t1)
	requireReason(t, err, ReasonUnknownSigningKey, t1)
}

func TestJWKSBackgroundRefresh(t *testing.T) {
	k1 := testECKey(t, elliptic.P256())
	k2 := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t, jwkFor(t, &k1.PublicKey, "k1", jwkset.AlgES256))
	v := newTestVerifier(t, Config{JWKSURL: srv.srv.URL, JWKSRefresh: 50 * time.Millisecond, JWKSUnknownKIDRateLimit: time.Hour})

	// Use up the unknown-kid refresh so that only the background refresh can pick up k2.
	missing := sign(t, jwt.SigningMethodES256, k2, "missing", validClaims())
	_, err := v.Verify(t.Context(), missing)
	requireReason(t, err, ReasonUnknownSigningKey, missing)

	srv.setKeys(t, jwkFor(t, &k2.PublicKey, "k2", jwkset.AlgES256))
	t2 := sign(t, jwt.SigningMethodES256, k2, "k2", validClaims())
	require.Eventually(t, func() bool {
		_, err := v.Verify(t.Context(), t2)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
}

func TestJWKSInitialFetchFailure(t *testing.T) {
	ecKey := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t, jwkFor(t, &ecKey.PublicKey, "k1", jwkset.AlgES256))
	srv.setStatus(http.StatusServiceUnavailable)

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := NewVerifier(t.Context(), Config{JWKSURL: srv.srv.URL, JWKSUnknownKIDRateLimit: 50 * time.Millisecond}, logger)
	require.NoError(t, err, "an unreachable JWKS does not fail start-up")
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "jwks refresh failed")

	token := sign(t, jwt.SigningMethodES256, ecKey, "k1", validClaims())
	_, err = v.Verify(t.Context(), token)
	requireReason(t, err, ReasonUnknownSigningKey, token)

	srv.setStatus(http.StatusOK)
	require.Eventually(t, func() bool {
		_, err := v.Verify(t.Context(), token)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.NotContains(t, logs.String(), token, "tokens are never logged")
}

func TestJWKSSymmetricKeysNeverUsed(t *testing.T) {
	secret := testSecret(t)
	jwksSecret := testSecret(t)
	ecKey := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t,
		jwkFor(t, jwksSecret, "shared", jwkset.AlgHS256),
		jwkFor(t, &ecKey.PublicKey, "k1", jwkset.AlgES256),
	)

	// HMAC keys come only from Config.HMACSecret, never from a JWKS "oct" key.
	withSecret := newTestVerifier(t, Config{HMACSecret: secret, JWKSURL: srv.srv.URL})
	token := sign(t, jwt.SigningMethodHS256, jwksSecret, "shared", validClaims())
	_, err := withSecret.Verify(t.Context(), token)
	requireReason(t, err, ReasonBadSignature, token)

	jwksOnly := newTestVerifier(t, Config{JWKSURL: srv.srv.URL})
	_, err = jwksOnly.Verify(t.Context(), token)
	requireReason(t, err, ReasonAlgorithmNotAllowed+": HS256", token)

	// An ES256 token naming the oct key gets no key of the right type.
	es := sign(t, jwt.SigningMethodES256, ecKey, "shared", validClaims())
	_, err = jwksOnly.Verify(t.Context(), es)
	requireReason(t, err, ReasonKeyMismatch, es)

	// Without a kid, only keys of the token's type are tried: the oct key is skipped.
	noKID := sign(t, jwt.SigningMethodES256, ecKey, "", validClaims())
	p, err := jwksOnly.Verify(t.Context(), noKID)
	require.NoError(t, err)
	require.Equal(t, "alice", p.Subject)
}

func TestJWKSStopsWithContext(t *testing.T) {
	ecKey := testECKey(t, elliptic.P256())
	srv := newJWKSServer(t, jwkFor(t, &ecKey.PublicKey, "k1", jwkset.AlgES256))
	ctx, cancel := context.WithCancel(t.Context())
	_, err := NewVerifier(ctx, Config{JWKSURL: srv.srv.URL, JWKSRefresh: 20 * time.Millisecond}, testLogger(t))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.hits.Load() >= 3 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond) // let an in-flight tick finish
	stopped := srv.hits.Load()
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, stopped, srv.hits.Load(), "no refresh after the context ends")
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of background goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

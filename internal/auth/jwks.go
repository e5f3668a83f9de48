package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// jwksHTTPTimeout bounds one JWKS fetch, including the initial one made by NewVerifier.
const jwksHTTPTimeout = 10 * time.Second

// jwksSource holds the keys of a remote JWKS.
//
// cache is refreshed by jwkset's background goroutine and read without network access on the hot
// path. An unknown kid triggers a refresh through refresher, at most once per unknown-kid interval:
// limiter is consulted without waiting, so a request never sleeps on the rate limit, and
// concurrent requests share one refresh through flight.
type jwksSource struct {
	base      context.Context
	cache     jwkset.Storage
	refresher jwkset.Storage
	limiter   *rate.Limiter
	flight    singleflight.Group
	logger    *slog.Logger
}

func newJWKSSource(ctx context.Context, rawURL string, refresh, unknownKIDInterval time.Duration, logger *slog.Logger) (*jwksSource, error) {
	logURL := redactURL(rawURL)
	onRefreshError := func(ctx context.Context, err error) {
		logger.WarnContext(ctx, "auth: jwks refresh failed; retrying in the background", "jwks_url", logURL, "error", err)
	}
	cache, err := jwkset.NewStorageFromHTTP(rawURL, jwkset.HTTPClientStorageOptions{
		Client:                    &http.Client{Timeout: jwksHTTPTimeout},
		Ctx:                       ctx,
		HTTPTimeout:               jwksHTTPTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       onRefreshError,
		RefreshInterval:           refresh,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: jwks storage: %w", err)
	}
	// The refresher's own limiter is unlimited: rate limiting is done by jwksSource.limiter, which
	// fails fast instead of blocking the request as jwkset's Wait would.
	refresher, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{rawURL: cache},
		RateLimitWaitMax:  jwksHTTPTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: jwks client: %w", err)
	}
	keys, err := cache.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: read jwks: %w", err)
	}
	logger.InfoContext(ctx, "auth: jwks configured", "jwks_url", logURL, "keys", len(keys),
		"refresh_interval", refresh, "unknown_kid_rate_limit", unknownKIDInterval)
	return &jwksSource{
		base:      ctx,
		cache:     cache,
		refresher: refresher,
		limiter:   rate.NewLimiter(rate.Every(unknownKIDInterval), 1),
		logger:    logger,
	}, nil
}

// keyByID returns the JWKS key with the given kid if it can verify method. An unknown kid triggers a
// rate-limited refresh.
func (s *jwksSource) keyByID(ctx context.Context, kid string, method jwt.SigningMethod) (crypto.PublicKey, error) {
	jwk, found, err := s.read(ctx, kid)
	if err != nil {
		return nil, err
	}
	if !found {
		if err := s.refreshForUnknownKey(ctx, kid); err != nil {
			return nil, err
		}
		jwk, found, err = s.read(ctx, kid)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, errUnknownKey
		}
	}
	key, ok := usableJWK(jwk, method)
	if !ok {
		return nil, errKeyMismatch
	}
	return key, nil
}

// keysForMethod returns every cached JWKS key that can verify method, for tokens without a kid.
func (s *jwksSource) keysForMethod(ctx context.Context, method jwt.SigningMethod) ([]jwt.VerificationKey, error) {
	all, err := s.cache.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read jwks cache: %w", errUnknownKey, err)
	}
	var keys []jwt.VerificationKey
	for _, jwk := range all {
		if key, ok := usableJWK(jwk, method); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// read looks kid up in the cache. The storage's not-found error names the kid, so it is not passed
// on.
func (s *jwksSource) read(ctx context.Context, kid string) (jwkset.JWK, bool, error) {
	jwk, err := s.cache.KeyRead(ctx, kid)
	switch {
	case err == nil:
		return jwk, true, nil
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return jwkset.JWK{}, false, nil
	default:
		return jwkset.JWK{}, false, fmt.Errorf("%w: read jwks cache failed", errUnknownKey)
	}
}

// refreshForUnknownKey refreshes the JWKS unless a refresh triggered by an unknown kid happened
// within the rate-limit interval. Concurrent callers share one refresh; each waits for it at most
// until its own ctx ends. The fetch itself runs on the verifier's context with jwksHTTPTimeout.
func (s *jwksSource) refreshForUnknownKey(ctx context.Context, kid string) error {
	ch := s.flight.DoChan("refresh", func() (any, error) {
		if !s.limiter.Allow() {
			return nil, errRateLimited
		}
		refreshCtx, cancel := context.WithTimeout(s.base, jwksHTTPTimeout)
		defer cancel()
		s.logger.DebugContext(refreshCtx, "auth: refreshing jwks for an unknown key id")
		// The outcome is observed by reading the cache again: a missing kid yields ErrKeyNotFound,
		// and fetch failures are reported through the storage's refresh error handler.
		_, _ = s.refresher.KeyRead(refreshCtx, kid)
		return nil, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return fmt.Errorf("%w: %w", errUnknownKey, res.Err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for jwks refresh: %w", errUnknownKey, ctx.Err())
	}
}

// usableJWK returns the JWK's public key if the JWK is meant for signatures, does not pin another
// algorithm, and has the key type method verifies with. Symmetric ("oct") keys never match.
func usableJWK(jwk jwkset.JWK, method jwt.SigningMethod) (crypto.PublicKey, bool) {
	meta := jwk.Marshal()
	if meta.USE != "" && meta.USE != jwkset.UseSig {
		return nil, false
	}
	if alg := meta.ALG.String(); alg != "" && alg != method.Alg() {
		return nil, false
	}
	key := jwk.Key()
	if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = private.Public()
	}
	if !keyMatchesMethod(method, key) {
		return nil, false
	}
	return key, true
}

// redactURL hides a password in the URL's user info before it is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

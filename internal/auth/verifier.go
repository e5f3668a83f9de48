// Package auth verifies the JWT bearer tokens presented to lakegate and mints HS256 tokens for
// development.
//
// Keys come from three sources: an HMAC secret (HS256, the dev default), PEM public key files and a
// JWKS endpoint. The algorithm allow-list is enforced before any key is looked up, and the key
// handed to golang-jwt always has the type the token's algorithm verifies with: HMAC keys come only
// from the configured secret, so public key bytes can never be used as an HMAC secret.
package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// Principal is the authenticated caller.
type Principal struct {
	Subject string   // the token's `sub`
	Roles   []string // from the roles claim, deduplicated, in token order; nil when there are none
}

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	parser        *jwt.Parser
	algorithms    []string
	hmacSecret    []byte
	static        staticKeys
	jwks          *jwksSource
	issuer        string
	audience      string
	rolesClaim    string
	maxTokenBytes int
	logger        *slog.Logger
}

// NewVerifier validates cfg, loads the PEM key files and, when JWKSURL is set, fetches the JWKS
// and starts its background refresh, which runs until ctx ends. A JWKS that cannot be fetched at
// start is not an error: a warning is logged, the fetch is retried in the background and on
// unknown kids (rate limited), and tokens fail with "unknown signing key" meanwhile. The initial
// fetch blocks for at most 10s. A nil logger discards logs.
func NewVerifier(ctx context.Context, cfg Config, logger *slog.Logger) (*Verifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	static, err := loadStaticKeys(cfg.PublicKeyFiles, cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(slices.Clone(cfg.Algorithms)),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		// Strict base64 refuses non-canonical encodings, so a valid token has exactly one spelling.
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v := &Verifier{
		parser:        jwt.NewParser(opts...),
		algorithms:    slices.Clone(cfg.Algorithms),
		hmacSecret:    bytes.Clone(cfg.HMACSecret),
		static:        static,
		issuer:        cfg.Issuer,
		audience:      cfg.Audience,
		rolesClaim:    cfg.RolesClaim,
		maxTokenBytes: cfg.MaxTokenBytes,
		logger:        logger,
	}
	if cfg.JWKSURL != "" {
		v.jwks, err = newJWKSSource(ctx, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSUnknownKIDRateLimit, logger)
		if err != nil {
			return nil, err
		}
	}
	for kid, key := range static.byKID {
		if !v.anyAlgorithmMatches(key) {
			logger.WarnContext(ctx, "auth: public key matches no allowed algorithm", "kid", kid)
		}
	}
	logger.InfoContext(ctx, "auth: verifier configured",
		"algorithms", v.algorithms,
		"hmac", len(v.hmacSecret) > 0,
		"public_key_files", len(static.byKID),
		"jwks", v.jwks != nil,
		"issuer_required", v.issuer != "",
		"audience_required", v.audience != "",
		"roles_claim", v.rolesClaim,
		"leeway", cfg.Leeway,
	)
	return v, nil
}

// Verify verifies a compact JWT (without the "Bearer " prefix) and returns its principal. Every
// error is an *Error, matching ErrUnauthenticated, whose Reason is safe to send to the client.
//
// The token must carry an allowed algorithm, a valid signature from a key of the matching type,
// `exp` and a non-empty string `sub`; `nbf` and `iat` are checked when present, `iss` and `aud`
// when configured, all with the configured leeway.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, v.reject(ctx, ReasonMissingToken, nil)
	}
	if len(token) > v.maxTokenBytes {
		return Principal{}, v.reject(ctx, ReasonTokenTooLarge, fmt.Errorf("token is longer than %d bytes", v.maxTokenBytes))
	}
	claims := jwt.MapClaims{}
	parsed, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		return Principal{}, v.reject(ctx, v.reason(parsed, claims, err), err)
	}
	subject, ok := claims["sub"].(string)
	if !ok || strings.TrimSpace(subject) == "" {
		return Principal{}, v.reject(ctx, ReasonMissingSubject, errNoSubject)
	}
	roles, err := parseRoles(claims[v.rolesClaim])
	if err != nil {
		return Principal{}, v.reject(ctx, ReasonInvalidRolesClaim, err)
	}
	return Principal{Subject: subject, Roles: roles}, nil
}

// key returns the verification key for t, whose algorithm golang-jwt has already checked against
// the allow-list.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		if len(v.hmacSecret) == 0 {
			return nil, errUnknownKey
		}
		return v.hmacSecret, nil
	}
	rawKID, hasKID := t.Header["kid"]
	if !hasKID {
		return v.keysWithoutKID(ctx, t.Method)
	}
	kid, ok := rawKID.(string)
	if !ok || kid == "" {
		return nil, errInvalidKID
	}
	if key, ok := v.static.byKID[kid]; ok {
		if !keyMatchesMethod(t.Method, key) {
			return nil, errKeyMismatch
		}
		return key, nil
	}
	if v.jwks == nil {
		return nil, errUnknownKey
	}
	return v.jwks.keyByID(ctx, kid, t.Method)
}

// keysWithoutKID returns every PEM and JWKS key whose type matches method.
func (v *Verifier) keysWithoutKID(ctx context.Context, method jwt.SigningMethod) (any, error) {
	static := v.static.byAlg[method.Alg()]
	if v.jwks == nil {
		if len(static.Keys) == 0 {
			return nil, errUnknownKey
		}
		return static, nil
	}
	remote, err := v.jwks.keysForMethod(ctx, method)
	if err != nil {
		return nil, err
	}
	if len(static.Keys) == 0 && len(remote) == 0 {
		// Possibly the JWKS could not be fetched yet: try once more, rate limited.
		if err := v.jwks.refreshForUnknownKey(ctx, ""); err != nil {
			return nil, err
		}
		if remote, err = v.jwks.keysForMethod(ctx, method); err != nil {
			return nil, err
		}
	}
	keys := slices.Concat(static.Keys, remote)
	if len(keys) == 0 {
		return nil, errUnknownKey
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}

// reason maps a golang-jwt error to a client-safe reason. Signature and key errors are reported
// before claim errors because golang-jwt validates claims only after a good signature.
func (v *Verifier) reason(parsed *jwt.Token, claims jwt.MapClaims, err error) string {
	switch {
	case errors.Is(err, errUnknownKey):
		return ReasonUnknownSigningKey
	case errors.Is(err, errKeyMismatch):
		return ReasonKeyMismatch
	case errors.Is(err, errInvalidKID), errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformedToken
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The alg header is missing or names no registered algorithm.
		return ReasonAlgorithmNotAllowed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// golang-jwt reports a disallowed algorithm as an invalid signature; tell them apart. The
		// name comes from golang-jwt's registry, never verbatim from the token.
		if parsed != nil && parsed.Method != nil && !slices.Contains(v.algorithms, parsed.Method.Alg()) {
			return ReasonAlgorithmNotAllowed + ": " + parsed.Method.Alg()
		}
		return ReasonBadSignature
	}
	// Only exp, and iss and aud when configured, are required by the parser.
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	_, hasExp := claims["exp"]
	iss, _ := claims["iss"].(string)
	switch {
	case missing && !hasExp:
		return ReasonMissingExp
	case errors.Is(err, jwt.ErrInvalidType):
		return ReasonMalformedToken
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ReasonTokenNotValidYet
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing && v.issuer != "" && iss == "":
		return ReasonWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missing && v.audience != "":
		return ReasonWrongAudience
	}
	return ReasonInvalidToken
}

func (v *Verifier) reject(ctx context.Context, reason string, cause error) *Error {
	v.logger.DebugContext(ctx, "auth: token rejected", "reason", reason)
	return &Error{Reason: reason, Err: cause}
}

func (v *Verifier) anyAlgorithmMatches(key any) bool {
	for _, alg := range v.algorithms {
		if method := jwt.GetSigningMethod(alg); method != nil && keyMatchesMethod(method, key) {
			return true
		}
	}
	return false
}

// parseRoles accepts a JSON array of strings or one string of roles separated by spaces or
// commas. Blank entries and duplicates are dropped; an absent or null claim means no roles.
func parseRoles(value any) ([]string, error) {
	var roles []string
	add := func(role string) {
		role = strings.TrimSpace(role)
		if role != "" && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	switch r := value.(type) {
	case nil:
	case string:
		for _, role := range strings.FieldsFunc(r, func(c rune) bool { return c == ',' || unicode.IsSpace(c) }) {
			add(role)
		}
	case []any:
		for _, item := range r {
			role, ok := item.(string)
			if !ok {
				return nil, errInvalidRole
			}
			add(role)
		}
	default:
		return nil, errInvalidRole
	}
	return roles, nil
}

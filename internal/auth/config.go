package auth

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

const (
	defaultJWKSRefresh         = 15 * time.Minute
	defaultUnknownKIDRateLimit = 30 * time.Second
	defaultLeeway              = 30 * time.Second
	maxLeeway                  = 5 * time.Minute
	defaultRolesClaim          = "roles"
	defaultMaxTokenBytes       = 8192
	// minHMACSecretBytes follows RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
	minHMACSecretBytes = 32
	// minRSABits is the smallest RSA modulus accepted from a PEM file or a JWKS.
	minRSABits = 2048
)

// Config configures a Verifier. The zero values of the optional fields select the defaults.
type Config struct {
	// HMACSecret enables HS256 (the dev default) when non-empty; at least 32 bytes. It is the only
	// source of HMAC keys: public key material is never used as an HMAC secret.
	HMACSecret []byte
	// PublicKeyFiles are PEM files holding RSA, ECDSA (P-256/P-384/P-521) or Ed25519 public keys:
	// PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or a "CERTIFICATE" (its validity period is not
	// checked: the key is pinned by configuration). Each key's kid is the file's base name without
	// extension; a token without a kid tries every PEM key whose type matches its algorithm.
	PublicKeyFiles []string
	// JWKSURL is an http(s) JWKS endpoint; its keys are looked up by kid and refreshed in the
	// background.
	JWKSURL string
	// JWKSRefresh is the background JWKS refresh interval; default 15m.
	JWKSRefresh time.Duration
	// JWKSUnknownKIDRateLimit is the minimum interval between JWKS refreshes triggered by a token
	// whose kid is unknown; default 30s. A token arriving inside the interval fails at once with
	// "unknown signing key" rather than waiting.
	JWKSUnknownKIDRateLimit time.Duration
	// Algorithms is the allow-list of JWS algorithms. Default: HS256 when HMACSecret is set, plus
	// RS256, RS384, RS512, PS256, ES256, ES384, ES512 and EdDSA when PEM files or a JWKS are
	// configured. "none" is never allowed, even when listed (Validate fails).
	Algorithms []string
	// Issuer, when set, is the required `iss`.
	Issuer string
	// Audience, when set, must be one of the token's `aud` values.
	Audience string
	// Leeway is the allowed clock skew for exp, nbf and iat; default 30s, at most 5m.
	Leeway time.Duration
	// RolesClaim names the claim holding roles; default "roles". Its value may be a JSON array of
	// strings or one string of roles separated by spaces or commas.
	RolesClaim string
	// MaxTokenBytes bounds the token length; longer tokens are refused before parsing. Default 8192.
	MaxTokenBytes int
}

// Validate reports every configuration error, each naming its setting. It does no I/O: public key
// files are read by NewVerifier.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	hasHMAC := len(c.HMACSecret) > 0
	hasPublic := len(c.PublicKeyFiles) > 0 || c.JWKSURL != ""
	if !hasHMAC && !hasPublic {
		errs = append(errs, errors.New("auth: no key source: set the hmac secret, public key files or a jwks url"))
	}
	if hasHMAC && len(c.HMACSecret) < minHMACSecretBytes {
		errs = append(errs, fmt.Errorf("auth: hmac secret must be at least %d bytes", minHMACSecretBytes))
	}
	kids := make(map[string]string, len(c.PublicKeyFiles))
	for i, path := range c.PublicKeyFiles {
		kid := keyIDFromPath(path)
		if strings.TrimSpace(path) == "" || kid == "" {
			errs = append(errs, fmt.Errorf("auth: public key file #%d has no usable file name", i+1))
			continue
		}
		if other, dup := kids[kid]; dup {
			errs = append(errs, fmt.Errorf("auth: public key files %q and %q both have kid %q", other, path, kid))
			continue
		}
		kids[kid] = path
	}
	if c.JWKSURL != "" {
		if err := validateJWKSURL(c.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JWKSRefresh < 0 {
		errs = append(errs, errors.New("auth: jwks refresh interval must be positive"))
	}
	if c.JWKSUnknownKIDRateLimit < 0 {
		errs = append(errs, errors.New("auth: jwks unknown kid rate limit must be positive"))
	}
	for _, alg := range c.Algorithms {
		if strings.EqualFold(strings.TrimSpace(alg), "none") {
			errs = append(errs, errors.New(`auth: algorithm "none" is never allowed`))
			continue
		}
		switch algorithmFamily(alg) {
		case familyUnknown:
			errs = append(errs, fmt.Errorf("auth: algorithm %q is not supported", alg))
		case familyHMAC:
			if !hasHMAC {
				errs = append(errs, fmt.Errorf("auth: algorithm %q requires the hmac secret", alg))
			}
		default:
			if !hasPublic {
				errs = append(errs, fmt.Errorf("auth: algorithm %q requires public key files or a jwks url", alg))
			}
		}
	}
	if c.Leeway < 0 {
		errs = append(errs, errors.New("auth: leeway must not be negative"))
	}
	if c.Leeway > maxLeeway {
		errs = append(errs, errors.New("auth: leeway must be ≤ 5m"))
	}
	if isRegisteredClaim(c.RolesClaim) {
		errs = append(errs, fmt.Errorf("auth: roles claim %q is a registered claim name", c.RolesClaim))
	}
	if c.MaxTokenBytes < 0 {
		errs = append(errs, errors.New("auth: max token bytes must be positive"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with the defaults applied to unset optional fields.
func (c Config) withDefaults() Config {
	if c.JWKSRefresh == 0 {
		c.JWKSRefresh = defaultJWKSRefresh
	}
	if c.JWKSUnknownKIDRateLimit == 0 {
		c.JWKSUnknownKIDRateLimit = defaultUnknownKIDRateLimit
	}
	if c.Leeway == 0 {
		c.Leeway = defaultLeeway
	}
	if c.RolesClaim == "" {
		c.RolesClaim = defaultRolesClaim
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = defaultMaxTokenBytes
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = defaultAlgorithms(len(c.HMACSecret) > 0, len(c.PublicKeyFiles) > 0 || c.JWKSURL != "")
	}
	return c
}

func defaultAlgorithms(hmac, public bool) []string {
	var algs []string
	if hmac {
		algs = append(algs, "HS256")
	}
	if public {
		algs = append(algs, "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA")
	}
	return algs
}

func validateJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("auth: jwks url is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("auth: jwks url must be an absolute http or https URL")
	}
	return nil
}

// keyIDFromPath returns the file's base name without its extension.
func keyIDFromPath(path string) string {
	base := filepath.Base(strings.TrimSpace(path))
	if base == "." || base == string(filepath.Separator) {
		return ""
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func isRegisteredClaim(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti":
		return true
	}
	return false
}

type keyFamily int

const (
	familyUnknown keyFamily = iota
	familyHMAC
	familyRSA
	familyECDSA
	familyEd25519
)

// algorithmFamily maps a supported JWS algorithm to the key type that verifies it.
func algorithmFamily(alg string) keyFamily {
	switch alg {
	case "HS256", "HS384", "HS512":
		return familyHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return familyRSA
	case "ES256", "ES384", "ES512":
		return familyECDSA
	case "EdDSA":
		return familyEd25519
	}
	return familyUnknown
}

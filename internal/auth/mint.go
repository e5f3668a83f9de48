package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintOptions describe a token minted by MintHS256.
type MintOptions struct {
	Subject    string        // required
	Roles      []string      // written as a JSON array (empty when nil)
	TTL        time.Duration // required, > 0
	Issuer     string        // `iss`, when set
	Audience   string        // `aud`, when set
	RolesClaim string        // default "roles"
	Now        func() time.Time
}

// MintHS256 signs an HS256 token with sub, the roles claim (an array), iat, nbf, exp, a random jti,
// and iss and aud when set. It is meant for development (`lakegate token`, the quick start).
func MintHS256(secret []byte, opts MintOptions) (string, error) {
	if len(secret) < minHMACSecretBytes {
		return "", fmt.Errorf("auth: mint: hmac secret must be at least %d bytes", minHMACSecretBytes)
	}
	if strings.TrimSpace(opts.Subject) == "" {
		return "", errors.New("auth: mint: subject is required")
	}
	if opts.TTL <= 0 {
		return "", errors.New("auth: mint: ttl must be positive")
	}
	rolesClaim := opts.RolesClaim
	if rolesClaim == "" {
		rolesClaim = defaultRolesClaim
	}
	if isRegisteredClaim(rolesClaim) {
		return "", fmt.Errorf("auth: mint: roles claim %q is a registered claim name", rolesClaim)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	issued := now()
	jti, err := randomID()
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	roles := opts.Roles
	if roles == nil {
		roles = []string{}
	}
	claims := jwt.MapClaims{
		"sub":      opts.Subject,
		rolesClaim: roles,
		"iat":      issued.Unix(),
		"nbf":      issued.Unix(),
		"exp":      issued.Add(opts.TTL).Unix(),
		"jti":      jti,
	}
	if opts.Issuer != "" {
		claims["iss"] = opts.Issuer
	}
	if opts.Audience != "" {
		claims["aud"] = opts.Audience
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint: sign token: %w", err)
	}
	return signed, nil
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

package auth

import "errors"

// ErrUnauthenticated is matched (errors.Is) by every error Verify returns.
var ErrUnauthenticated = errors.New("unauthenticated")

// Reasons carried by Error. They are short, fixed, client-safe texts: none of them ever contains
// any part of the token, a key or a secret.
const (
	ReasonMissingToken        = "missing token"
	ReasonTokenTooLarge       = "token too large"
	ReasonMalformedToken      = "malformed token"
	ReasonTokenExpired        = "token expired"
	ReasonTokenNotValidYet    = "token not valid yet"
	ReasonBadSignature        = "bad signature"
	ReasonUnknownSigningKey   = "unknown signing key"
	ReasonKeyMismatch         = "algorithm does not match key"
	ReasonAlgorithmNotAllowed = "algorithm not allowed"
	ReasonWrongIssuer         = "wrong issuer"
	ReasonWrongAudience       = "wrong audience"
	ReasonMissingSubject      = "missing subject"
	ReasonMissingExp          = "missing exp"
	ReasonInvalidRolesClaim   = "invalid roles claim"
	ReasonInvalidToken        = "invalid token"
)

// Error is returned by Verify. Reason is a short client-safe text (one of the Reason constants, or
// ReasonAlgorithmNotAllowed followed by ": " and the name of a registered algorithm such as
// "none"). Err is the underlying cause, for logs and errors.Is; it never contains the token.
type Error struct {
	Reason string
	Err    error
}

// Error returns "unauthenticated: " followed by the reason.
func (e *Error) Error() string { return "unauthenticated: " + e.Reason }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnauthenticated, so errors.Is(err, ErrUnauthenticated) holds for
// every *Error.
func (e *Error) Is(target error) bool { return target == ErrUnauthenticated }

// Causes returned by the key lookup; they are wrapped by golang-jwt and mapped to reasons. Their
// texts never name the kid, which is token content.
var (
	errUnknownKey  = errors.New("no signing key for token")
	errKeyMismatch = errors.New("signing key type does not match token algorithm")
	errInvalidKID  = errors.New("kid header is not a non-empty string")
	errRateLimited = errors.New("jwks refresh for unknown key id is rate limited")
	errInvalidRole = errors.New("roles claim is neither a string nor an array of strings")
	errNoSubject   = errors.New("sub claim is missing, empty or not a string")
)

package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/policy"
)

// oauthTokensPath is the OAuth2 token endpoint of the Iceberg REST catalog: clients configured
// with uri = http://HOST:PORT/iceberg and credential = <client_id>:<client_secret> post to it.
const oauthTokensPath = IcebergPrefix + "/v1/oauth/tokens"

// maxTokenRequestBytes bounds the form body of a token request; a real one is a few hundred
// bytes.
const maxTokenRequestBytes = 16 << 10

const (
	grantClientCredentials = "client_credentials"
	issuedTokenTypeAccess  = "urn:ietf:params:oauth:token-type:access_token"
	// catalogScope is the scope Iceberg clients ask for by default; it is accepted and has no
	// effect: the token carries the client's roles.
	catalogScope = "catalog"
)

// TokenIssuer signs the access tokens of the token endpoint: HS256 with the secret the
// verifier also holds, and the issuer, audience and roles claim the verifier expects.
type TokenIssuer struct {
	Secret     []byte
	Issuer     string
	Audience   string
	RolesClaim string        // default "roles"
	TTL        time.Duration // lifetime of an issued token
}

func (t TokenIssuer) validate() error {
	if len(t.Secret) < 32 {
		return errors.New("gateway: token issuer: the HS256 secret must be at least 32 bytes")
	}
	if t.TTL <= 0 {
		return errors.New("gateway: token issuer: the token lifetime must be positive")
	}
	return nil
}

func (t TokenIssuer) mint(c auth.Client) (string, error) {
	tok, err := auth.MintHS256(t.Secret, auth.MintOptions{
		Subject: c.ID, Roles: c.Roles, TTL: t.TTL, Issuer: t.Issuer, Audience: t.Audience, RolesClaim: t.RolesClaim,
	})
	if err != nil {
		return "", fmt.Errorf("gateway: issue token for service client %s: %w", c.ID, err)
	}
	return tok, nil
}

// oauthTokenResponse is the Iceberg REST spec's OAuthTokenResponse (RFC 6749 §5.1).
type oauthTokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	IssuedTokenType string `json:"issued_token_type"`
}

// oauthError is the Iceberg REST spec's OAuthError (RFC 6749 §5.2). The token endpoint answers
// its refusals in this shape, not in our error shape.
type oauthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func oauthInvalidRequest(format string, args ...any) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf(format, args...)}
}

// errOAuthInvalidClient is the one answer for every failed client authentication, so that it
// does not tell an unknown client from a wrong secret or a revoked client.
var errOAuthInvalidClient = &oauthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client authentication failed"}

// oauthTokens is POST /iceberg/v1/oauth/tokens: the OAuth2 client_credentials grant for
// service clients. It needs no bearer token; it is audited like every other request, with the
// client id as the principal when it succeeds.
func (s *Server) oauthTokens(c echo.Context) error {
	r := reqOf(c)
	form, oerr := readTokenForm(c)
	if oerr == nil {
		r.details = tokenRequestDetails(form)
		oerr = checkTokenGrant(form)
	}
	var id, secret string
	if oerr == nil {
		id, secret, oerr = clientCredentials(c.Request(), form)
	}
	if oerr != nil {
		return s.refuseToken(c, oerr)
	}
	if auth.ValidClientID(id) {
		r.details["client_id"] = id
	}
	client, err := s.deps.Clients.Authenticate(c.Request().Context(), id, secret)
	if errors.Is(err, auth.ErrInvalidClient) {
		return s.refuseToken(c, errOAuthInvalidClient)
	}
	if err != nil {
		r.authFail = "service client lookup failed"
		return err
	}
	token, err := s.deps.Tokens.mint(client)
	if err != nil {
		r.authFail = "token signing failed"
		return err
	}
	r.authed = true
	r.principal = policy.Principal{Subject: client.ID, Roles: client.Roles}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, oauthTokenResponse{
		AccessToken:     token,
		TokenType:       "bearer",
		ExpiresIn:       int64(s.deps.Tokens.TTL / time.Second),
		IssuedTokenType: issuedTokenTypeAccess,
	})
}

// refuseToken writes an OAuth error and records it as the request's authentication failure.
func (s *Server) refuseToken(c echo.Context, oerr *oauthError) error {
	r := reqOf(c)
	r.authFail = oerr.Code + ": " + oerr.Description
	s.log.Debug("token request refused", "request_id", r.id, "status", oerr.Status, "error", oerr.Code)
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	if oerr.Status == http.StatusUnauthorized {
		h.Set(echo.HeaderWWWAuthenticate, `Basic realm="lakegate"`)
	}
	return c.JSON(oerr.Status, oerr)
}

// readTokenForm reads the application/x-www-form-urlencoded body. Parameters in the URL query
// are ignored: credentials do not belong there.
func readTokenForm(c echo.Context) (url.Values, *oauthError) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationForm {
		return nil, oauthInvalidRequest("Content-Type must be %s", echo.MIMEApplicationForm)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxTokenRequestBytes))
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, oauthInvalidRequest("request body is larger than %d bytes", maxBytes.Limit)
		}
		return nil, oauthInvalidRequest("cannot read request body")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauthInvalidRequest("request body is not a valid form")
	}
	for name, values := range form {
		if len(values) > 1 {
			// RFC 6749 §3.2: parameters must not be included more than once.
			return nil, oauthInvalidRequest("parameter %q is repeated", truncate(name, 64))
		}
	}
	return form, nil
}

// tokenRequestDetails are the audit details of a token request: its grant type, never a
// credential.
func tokenRequestDetails(form url.Values) map[string]any {
	d := map[string]any{}
	if gt := form.Get("grant_type"); gt != "" {
		d["grant_type"] = truncate(gt, 64)
	}
	return d
}

func checkTokenGrant(form url.Values) *oauthError {
	switch gt := form.Get("grant_type"); gt {
	case "":
		return oauthInvalidRequest("grant_type is required")
	case grantClientCredentials:
	default:
		return &oauthError{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Description: "only the client_credentials grant is supported"}
	}
	if scope := form.Get("scope"); scope != "" {
		for _, sc := range strings.Fields(scope) {
			if sc != catalogScope {
				return &oauthError{Status: http.StatusBadRequest, Code: "invalid_scope",
					Description: `the only scope is "catalog"`}
			}
		}
	}
	return nil
}

// clientCredentials takes the client id and secret from HTTP Basic authentication or from the
// form body (RFC 6749 §2.3.1), refusing a request that uses both. Missing credentials are a
// failed client authentication.
func clientCredentials(req *http.Request, form url.Values) (id, secret string, oerr *oauthError) {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	scheme, _, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Basic") {
		// No Basic authentication (another scheme, such as a stale bearer token, is ignored).
		if formID == "" || formSecret == "" {
			return "", "", errOAuthInvalidClient
		}
		return formID, formSecret, nil
	}
	basicID, basicSecret, ok := req.BasicAuth()
	if !ok {
		return "", "", oauthInvalidRequest("malformed HTTP Basic authorization header")
	}
	// Basic credentials are form-encoded before being joined (RFC 6749 §2.3.1).
	id, err1 := url.QueryUnescape(basicID)
	secret, err2 := url.QueryUnescape(basicSecret)
	switch {
	case err1 != nil || err2 != nil:
		return "", "", oauthInvalidRequest("malformed HTTP Basic credentials")
	case formSecret != "":
		return "", "", oauthInvalidRequest("send the client credentials either with HTTP Basic or in the body, not both")
	case formID != "" && formID != id:
		return "", "", oauthInvalidRequest("client_id in the body differs from the HTTP Basic one")
	case id == "" || secret == "":
		return "", "", errOAuthInvalidClient
	}
	return id, secret, nil
}

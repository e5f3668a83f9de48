package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/policy"
)

// apiError is an error with the status and message the client sees. Its cause, if any, is
// logged, never sent.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
	Cause   error
}

func (e *apiError) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *apiError) Unwrap() error { return e.Cause }

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_argument", Message: fmt.Sprintf(format, args...)}
}

func errForbidden(reason string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "permission_denied", Message: reason}
}

func errNotFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(format, args...)}
}

// errAuditBacklog refuses a request whose audit row the audit log has no room for.
var errAuditBacklog = &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "the audit log is behind (its queue is full); retry later"}

// errorBody is the one JSON error shape of our API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Details   any    `json:"details,omitempty"`
}

// classify maps any error a handler returns to what the client sees. It is the only place
// that decides HTTP statuses for errors.
func classify(err error) *apiError {
	var (
		ae       *apiError
		he       *echo.HTTPError
		authErr  *auth.Error
		ve       *catalog.ValidationError
		breaking *catalog.BreakingChangeError
		veto     *catalog.GovernanceError
		maxBytes *http.MaxBytesError
		location *catalog.LocationError
		missing  *catalog.MissingMetadataError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &authErr):
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: authErr.Reason}
	case errors.As(err, &maxBytes):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("request body is larger than %d bytes", maxBytes.Limit)}
	case errors.As(err, &location):
		return &apiError{Status: http.StatusForbidden, Code: "forbidden_location", Message: location.Error()}
	case errors.As(err, &missing):
		return &apiError{Status: http.StatusNotFound, Code: "metadata_missing", Message: missing.Error(), Cause: err}
	case errors.As(err, &ve):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: ve.Error(), Details: ve.Problems}
	case errors.As(err, &breaking):
		return &apiError{Status: http.StatusConflict, Code: "breaking_change",
			Message: "the schema change breaks readers and writers of this dataset: " + breaking.Error(), Details: breaking.Changes}
	case errors.As(err, &veto):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "governance_veto", Message: veto.Error(), Details: veto.Changes}
	case errors.Is(err, catalog.ErrCommitStateUnknown):
		return &apiError{Status: http.StatusInternalServerError, Code: "commit_state_unknown",
			Message: "the commit's outcome is unknown; reload the table before retrying", Cause: err}
	case errors.Is(err, catalog.ErrNoSuchTable), errors.Is(err, catalog.ErrNoSuchNamespace), errors.Is(err, catalog.ErrNoSuchView):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, catalog.ErrNamespaceNotEmpty):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, catalog.ErrTableAlreadyExists), errors.Is(err, catalog.ErrNamespaceExists), errors.Is(err, catalog.ErrViewAlreadyExists):
		return &apiError{Status: http.StatusConflict, Code: "already_exists", Message: err.Error()}
	case errors.Is(err, catalog.ErrConcurrentUpdate), errors.Is(err, catalog.ErrCommitFailed):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, policy.ErrInvalidGrant):
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: err.Error()}
	case errors.Is(err, policy.ErrNoSuchGrant):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, policy.ErrGrantExists):
		return &apiError{Status: http.StatusConflict, Code: "already_exists", Message: err.Error()}
	case errors.As(err, &he):
		return fromEcho(he)
	case pg.Unavailable(err):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the catalog database is unavailable; retry later", Cause: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "internal error; quote the request id to the operator", Cause: err}
}

func fromEcho(he *echo.HTTPError) *apiError {
	msg := http.StatusText(he.Code)
	if s, ok := he.Message.(string); ok && s != "" {
		msg = s
	}
	code := "invalid_argument"
	switch he.Code {
	case http.StatusNotFound:
		code, msg = "not_found", "no such route"
	case http.StatusMethodNotAllowed:
		code = "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		code = "payload_too_large"
	case http.StatusUnsupportedMediaType:
		code = "unsupported_media_type"
	case http.StatusUnauthorized:
		code = "unauthenticated"
	case http.StatusServiceUnavailable:
		code = "unavailable"
	}
	if he.Code >= 500 {
		return &apiError{Status: he.Code, Code: "internal", Message: "internal error; quote the request id to the operator", Cause: he}
	}
	return &apiError{Status: he.Code, Code: code, Message: msg}
}

package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
)

// IcebergPrefix is where the Iceberg REST catalog is served: clients set
// uri = http://HOST:PORT/iceberg.
const IcebergPrefix = "/iceberg"

// icebergErrorBody is the Iceberg REST spec's ErrorModel.
type icebergErrorBody struct {
	Error icebergError `json:"error"`
}

type icebergError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
	// RequestID ties the answer to the server's logs and audit row.
	RequestID string `json:"request-id,omitempty"`
}

// icebergType names an error the way Iceberg clients classify it.
func icebergType(err error, ae *apiError) string {
	switch {
	case errors.Is(err, catalog.ErrNoSuchNamespace):
		return "NoSuchNamespaceException"
	case errors.Is(err, catalog.ErrNoSuchView):
		return "NoSuchViewException"
	case errors.Is(err, catalog.ErrNoSuchTable):
		return "NoSuchTableException"
	case errors.Is(err, catalog.ErrNamespaceNotEmpty):
		return "NamespaceNotEmptyException"
	case errors.Is(err, catalog.ErrCommitStateUnknown):
		return "CommitStateUnknownException"
	case errors.Is(err, catalog.ErrCommitFailed):
		return "CommitFailedException"
	case errors.Is(err, catalog.ErrTableAlreadyExists), errors.Is(err, catalog.ErrNamespaceExists), errors.Is(err, catalog.ErrViewAlreadyExists):
		return "AlreadyExistsException"
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return "BadRequestException"
	case http.StatusUnauthorized:
		return "NotAuthorizedException"
	case http.StatusForbidden:
		return "ForbiddenException"
	case http.StatusNotFound:
		return "NotFoundException"
	case http.StatusMethodNotAllowed:
		return "UnsupportedOperationException"
	case http.StatusConflict:
		return "AlreadyExistsException"
	case http.StatusUnprocessableEntity:
		return "UnprocessableEntityException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	}
	return "InternalServerError"
}

func isIcebergRequest(c echo.Context) bool {
	p := c.Request().URL.Path
	return len(p) >= len(IcebergPrefix) && p[:len(IcebergPrefix)] == IcebergPrefix
}

// invalidContent reports whether a validation error is about the content of metadata updates
// or a view version rather than the shape of the request.
func invalidContent(ve *catalog.ValidationError) bool {
	for _, p := range ve.Problems {
		if strings.HasPrefix(p.Field, "updates") || strings.HasPrefix(p.Field, "view-version") {
			return true
		}
	}
	return false
}

// writeIcebergError writes err in the Iceberg ErrorModel shape.
func writeIcebergError(c echo.Context, err error, ae *apiError, requestID string) error {
	status := ae.Status
	var invalid *catalog.ValidationError
	if errors.As(err, &invalid) {
		// Iceberg clients know invalid input as 400 BadRequestException; 422 stays for
		// governance vetoes, which they must not retry.
		status, ae = http.StatusBadRequest, &apiError{Status: http.StatusBadRequest, Message: ae.Message}
	}
	typ := icebergType(err, ae)
	if invalid != nil && invalidContent(invalid) {
		// Well-formed requests whose content iceberg rules refuse (an invalid view version,
		// an update the metadata builder rejects): Java clients raise IllegalArgumentException
		// for this type, as the reference implementation answers.
		typ = "IllegalArgumentException"
	}
	body := icebergErrorBody{Error: icebergError{Message: ae.Message, Type: typ, Code: status, RequestID: requestID}}
	if c.Request().Method == http.MethodHead {
		return c.NoContent(status)
	}
	return c.JSON(status, body)
}

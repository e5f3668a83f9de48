package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/internal/idempotency"
	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/policy"
)

// IdempotencyStore keeps the outcomes of mutations sent with an Idempotency-Key.
type IdempotencyStore interface {
	Begin(ctx context.Context, principal, key string, fingerprint []byte) (idempotency.Claim, *idempotency.Response, error)
	Complete(ctx context.Context, c idempotency.Claim, r idempotency.Response) error
	Release(ctx context.Context, c idempotency.Claim) error
}

const (
	headerIdempotencyKey      = "Idempotency-Key"
	headerIdempotencyReplayed = "Idempotency-Replayed"
	maxIdempotencyKeyLen      = 128
	// idempotencyStoreTimeout bounds storing or releasing a key after the handler ran; it
	// runs even when the client has gone.
	idempotencyStoreTimeout = 10 * time.Second
)

// replayedHeaders are the response headers stored with an outcome, besides Content-Type.
var replayedHeaders = []string{echo.HeaderLocation, "ETag"}

// idempotent makes mutations sent with an Idempotency-Key run at most once per key and
// principal within the key lifetime: a retry gets the first outcome replayed. Successes and
// terminal client errors are stored; other outcomes give the key back so a retry runs again.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		values := req.Header.Values(headerIdempotencyKey)
		r := reqOf(c)
		if len(values) == 0 || s.deps.Idempotency == nil || !r.authed || !idempotentRoute(req.Method, req.URL.Path) {
			return next(c)
		}
		if len(values) > 1 {
			return errBadRequest("send one %s header, not %d", headerIdempotencyKey, len(values))
		}
		key := values[0]
		if err := validIdempotencyKey(key); err != nil {
			return err
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			var maxBytes *http.MaxBytesError
			if errors.As(err, &maxBytes) {
				return maxBytes
			}
			if errors.Is(err, errSlowBody) {
				return err
			}
			return errBadRequest("cannot read request body")
		}
		req.Body = io.NopCloser(bytes.NewReader(body))

		ctx := req.Context()
		r.fingerprint = idempotency.Fingerprint(req.Method, req.URL.RequestURI(), body)
		claim, stored, err := s.deps.Idempotency.Begin(ctx, r.principal.Subject, key, r.fingerprint)
		switch {
		case errors.Is(err, idempotency.ErrKeyReused):
			return &apiError{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
				Message: fmt.Sprintf("%s %q was already used for a different request (method, path or body differ); send a new key", headerIdempotencyKey, key)}
		case errors.Is(err, idempotency.ErrInProgress):
			return &apiError{Status: http.StatusConflict, Code: "idempotency_key_in_progress",
				Message: fmt.Sprintf("a request with %s %q is still in progress; retry after it finishes", headerIdempotencyKey, key)}
		case err != nil && pg.Unavailable(err) && isIngestRequest(c):
			// The key store (Postgres) is down. Ingest goes on without it: the handler hands
			// the key and the request's fingerprint to JetStream, whose de-duplication window
			// makes a retry of the same batch a no-op.
			r.details = withDetails(r.details, map[string]any{"idempotency_key": key, "idempotency_store": "unavailable"})
			return next(c)
		case err != nil:
			return err
		}
		if stored != nil {
			r.details = withDetails(r.details, map[string]any{"idempotent_replay": true, "idempotency_key": key})
			if err := s.reauthorize(c, stored.Authz); err != nil {
				return err
			}
			return replay(c, stored)
		}
		r.details = withDetails(r.details, map[string]any{"idempotency_key": key})
		return s.runAndStore(c, next, claim)
	}
}

// runAndStore runs the handler with its response captured, writes the response of a returned
// error, then stores the outcome or releases the key.
func (s *Server) runAndStore(c echo.Context, next echo.HandlerFunc, claim idempotency.Claim) error {
	res := c.Response()
	capture := &capturingWriter{ResponseWriter: res.Writer}
	res.Writer = capture
	finished := false
	defer func() {
		res.Writer = capture.ResponseWriter
		if !finished { // the handler panicked: give the key back
			s.releaseKey(c, claim)
		}
	}()

	if err := next(c); err != nil {
		// Write the error response now, so that it is complete when it is stored.
		c.Error(err)
	}
	finished = true
	if !res.Committed || !storableStatus(res.Status) {
		s.releaseKey(c, claim)
		return nil
	}
	out := idempotency.Response{
		Status:      res.Status,
		ContentType: res.Header().Get(echo.HeaderContentType),
		Headers:     map[string]string{},
		Body:        capture.body.Bytes(),
	}
	for _, h := range replayedHeaders {
		if v := res.Header().Get(h); v != "" {
			out.Headers[h] = v
		}
	}
	if r := reqOf(c); r.decided {
		out.Authz, _ = json.Marshal(storedAuthz{Action: r.action, Resource: r.resource})
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), idempotencyStoreTimeout)
	defer cancel()
	if err := s.deps.Idempotency.Complete(ctx, claim, out); err != nil {
		s.log.Warn("storing the outcome of an idempotent request failed", "request_id", reqOf(c).id, "err", err)
	}
	return nil
}

func (s *Server) releaseKey(c echo.Context, claim idempotency.Claim) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), idempotencyStoreTimeout)
	defer cancel()
	if err := s.deps.Idempotency.Release(ctx, claim); err != nil {
		s.log.Warn("releasing an idempotency key failed", "request_id", reqOf(c).id, "err", err)
	}
}

// storedAuthz is what an idempotent request was authorized for.
type storedAuthz struct {
	Action   policy.Action   `json:"action"`
	Resource policy.Resource `json:"resource"`
}

// reauthorize decides the stored request's action again for today's principal, grants and
// policy: a replay must not outlive a revoked grant.
func (s *Server) reauthorize(c echo.Context, raw []byte) error {
	if len(raw) == 0 {
		return nil // the original never reached a policy decision (e.g. it was malformed)
	}
	var a storedAuthz
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("stored authorization of an idempotent request: %w", err)
	}
	return s.authorize(c, a.Action, a.Resource)
}

// replay writes a stored outcome.
func replay(c echo.Context, stored *idempotency.Response) error {
	h := c.Response().Header()
	for k, v := range stored.Headers {
		h.Set(k, v)
	}
	h.Set(headerIdempotencyReplayed, "true")
	if len(stored.Body) == 0 {
		return c.NoContent(stored.Status)
	}
	return c.Blob(stored.Status, stored.ContentType, stored.Body)
}

// idempotentRoute reports whether an Idempotency-Key applies to the request: mutations of
// the Iceberg catalog (but its token endpoint) and of our API.
func idempotentRoute(method, path string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	if path == IcebergPrefix+"/v1/oauth/tokens" {
		return false
	}
	return strings.HasPrefix(path, IcebergPrefix+"/v1/") || strings.HasPrefix(path, "/v1/")
}

// storableStatus reports whether an outcome is final: a success or a client error that a
// retry of the same request would get again.
func storableStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return status >= 200 && status < 300
}

func validIdempotencyKey(key string) error {
	if key == "" || len(key) > maxIdempotencyKeyLen {
		return errBadRequest("%s must be 1 to %d characters long", headerIdempotencyKey, maxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return errBadRequest("%s must be printable ASCII", headerIdempotencyKey)
		}
	}
	return nil
}

func withDetails(details, add map[string]any) map[string]any {
	if details == nil {
		details = make(map[string]any, len(add))
	}
	for k, v := range add {
		details[k] = v
	}
	return details
}

// capturingWriter copies what the handler writes, to store it.
type capturingWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *capturingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.body.Write(b[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer (flush, deadlines).
func (w *capturingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isoDuration formats d as an ISO-8601 duration (PT30M, PT1H30M, PT45S), as the Iceberg
// config's idempotency-key-lifetime.
func isoDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("P")
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dD", days)
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	b.WriteString("T")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}

package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
)

// request is what the middleware and handlers learn about one request, for its audit row.
type request struct {
	start     time.Time
	id        string
	principal policy.Principal
	authed    bool
	authFail  string
	action    policy.Action
	resource  policy.Resource
	decision  policy.Decision
	decided   bool
	audited   bool // the handler wrote the audit row inside its own transaction
	shed      bool // refused at once: the audit queue was full
	details   map[string]any
	// fingerprint identifies a request sent with an Idempotency-Key (method, URI, body).
	fingerprint []byte
}

const requestKey = "lakegate.request"

func reqOf(c echo.Context) *request {
	r, _ := c.Get(requestKey).(*request)
	if r == nil {
		r = &request{start: time.Now()}
		c.Set(requestKey, r)
	}
	return r
}

// publicPaths need no token. The token endpoint authenticates its clients itself.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true, oauthTokensPath: true}

// unauditedPaths write no audit row: the operational endpoints, which touch no data.
var unauditedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true}

func (s *Server) requestContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := &request{start: time.Now(), id: requestID(c.Request().Header.Get("X-Request-Id"))}
		c.Set(requestKey, r)
		c.Response().Header().Set("X-Request-Id", r.id)
		s.paceBody(c, r.start)
		limit := s.cfg.MaxBodyBytes
		switch {
		case isIcebergRequest(c):
			limit = s.cfg.CatalogBodyBytes
		case isIngestRequest(c):
			limit = s.deps.Ingest.MaxBodyBytes
		}
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, limit)
		return next(c)
	}
}

// requestID keeps a client's id when it is short and plain, or makes one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 && strings.Trim(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe writes the response for a handler error, then records metrics and the audit row
// of every request, whatever happened to it.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		r := reqOf(c)
		audit := !unauditedPaths[c.Path()]
		if audit {
			if rerr := s.deps.Audit.Reserve(); rerr != nil {
				// No room for this request's audit row: refuse it now rather than serve it
				// unaudited or make it wait for the audit writer.
				r.shed = true
			}
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panic", "request_id", r.id, "panic", p)
				err = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; quote the request id to the operator"}
			}
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" || status == http.StatusNotFound && c.Path() == "/*" {
				route = "unmatched"
			}
			s.metrics.observe(route, c.Request().Method, status, time.Since(r.start))
			switch {
			case !audit:
			case r.shed:
				// Audited if the queue has room again by now.
				if s.deps.Audit.Enqueue(c.Request().Context(), s.auditEntry(c, r, status)) != nil {
					s.log.Warn("request refused and not audited: the audit queue is full", "request_id", r.id, "method", c.Request().Method, "route", route)
				}
			case r.audited:
				s.deps.Audit.Release()
			default:
				s.deps.Audit.EnqueueReserved(c.Request().Context(), s.auditEntry(c, r, status))
			}
			err = nil
		}()
		if r.shed {
			return errAuditBacklog
		}
		return next(c)
	}
}

func (s *Server) auditEntry(c echo.Context, r *request, status int) lineage.AuditEntry {
	e := lineage.AuditEntry{
		At:             r.start.UTC(),
		RequestID:      r.id,
		Principal:      r.principal.Subject,
		Roles:          r.principal.Roles,
		Action:         string(r.action),
		Resource:       resourceString(r.resource),
		PolicyRevision: r.decision.Revision,
		Reason:         r.decision.Reason,
		Status:         status,
		LatencyMS:      float64(time.Since(r.start).Microseconds()) / 1000,
		Method:         c.Request().Method,
		Path:           c.Request().URL.Path,
		ClientAddr:     c.RealIP(),
		UserAgent:      truncate(c.Request().UserAgent(), 256),
		Details:        r.details,
	}
	switch {
	case r.shed:
		e.Decision = lineage.DecisionNone
		e.Reason = errAuditBacklog.Message
	case !r.authed:
		e.Decision = lineage.DecisionUnauthenticated
		e.Reason = r.authFail
	case !r.decided:
		e.Decision = lineage.DecisionNone
	case r.decision.Allow:
		e.Decision = lineage.DecisionAllow
	default:
		e.Decision = lineage.DecisionDeny
	}
	return e
}

// auditInTx returns a hook that writes the request's audit row inside a mutation's
// transaction, as if the request ended with status. The caller marks the request audited
// once the mutation has committed.
func (s *Server) auditInTx(c echo.Context, status int) func(context.Context, pgx.Tx) error {
	r := reqOf(c)
	return func(ctx context.Context, tx pgx.Tx) error {
		return s.deps.Audit.Insert(ctx, tx, s.auditEntry(c, r, status))
	}
}

func resourceString(r policy.Resource) string {
	switch {
	case r.Kind == "":
		return ""
	case r.Name != "":
		return r.Kind + ":" + r.Namespace + "." + r.Name
	case r.Namespace != "":
		return r.Kind + ":" + r.Namespace
	default:
		return r.Kind
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// authenticate verifies the bearer token of every non-public route.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if publicPaths[c.Path()] {
			return next(c)
		}
		r := reqOf(c)
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		var token string
		if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(rest)
		}
		if token == "" {
			r.authFail = "missing bearer token"
			if h != "" {
				r.authFail = "authorization header is not a bearer token"
			}
			return s.unauthenticated(c, r.authFail)
		}
		p, err := s.deps.Auth.Verify(c.Request().Context(), token)
		if err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) {
				r.authFail = ae.Reason
				return s.unauthenticated(c, ae.Reason)
			}
			return err
		}
		r.authed = true
		r.principal = policy.Principal{Subject: p.Subject, Roles: p.Roles}
		return next(c)
	}
}

func (s *Server) unauthenticated(c echo.Context, reason string) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="lakegate", error="invalid_token"`)
	return &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: reason}
}

// authorize asks the policy whether the request's principal may do action on res, once per
// request. A denial answers 403 with the policy's reason.
func (s *Server) authorize(c echo.Context, action policy.Action, res policy.Resource) error {
	r := reqOf(c)
	r.action, r.resource = action, res
	d, err := s.decide(c, action, res)
	r.decision, r.decided = d, true
	if err != nil {
		return err
	}
	if !d.Allow {
		return errForbidden(d.Reason)
	}
	return nil
}

// decide evaluates the policy without recording the decision on the request (used to filter
// list results item by item).
func (s *Server) decide(c echo.Context, action policy.Action, res policy.Resource) (policy.Decision, error) {
	r := reqOf(c)
	req := c.Request()
	return s.deps.Policy.Decide(req.Context(), policy.Input{
		Version:   policy.InputVersion,
		Principal: r.principal,
		Action:    action,
		Resource:  res,
		Context: policy.RequestContext{
			RequestID: r.id, ClientIP: c.RealIP(), Method: req.Method, Path: req.URL.Path, Time: r.start,
		},
	})
}

// writeError is echo's error handler: the one place errors become HTTP responses.
func (s *Server) writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	r := reqOf(c)
	ae := classify(err)
	if ae.Status >= 500 {
		s.log.Error("request failed", "request_id", r.id, "method", c.Request().Method, "route", c.Path(), "err", err)
	} else {
		s.log.Debug("request refused", "request_id", r.id, "status", ae.Status, "code", ae.Code)
	}
	if ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", "1")
	}
	if isIcebergRequest(c) {
		if werr := writeIcebergError(c, err, ae, r.id); werr != nil {
			s.log.Warn("write error response", "request_id", r.id, "err", werr)
		}
		return
	}
	body := errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message, RequestID: r.id, Details: ae.Details}}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.Status)
		return
	}
	if werr := c.JSON(ae.Status, body); werr != nil {
		s.log.Warn("write error response", "request_id", r.id, "err", werr)
	}
}

package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/api"
	"github.com/lakegate/lakegate/lineage"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	// Audit is the audit log's backlog: not ready from its high-water mark or when its
	// oldest unwritten row is older than its maximum lag (check "audit").
	Audit lineage.Backlog `json:"audit"`
}

func (s *Server) readyz(c echo.Context) error {
	out := readiness{Status: "ready", Checks: map[string]string{}, Audit: s.deps.Audit.Backlog()}
	status := http.StatusOK
	checks := s.deps.Ready(c.Request().Context())
	if checks == nil {
		checks = map[string]error{}
	}
	checks["audit"] = out.Audit.Err()
	for name, err := range checks {
		if err != nil {
			out.Checks[name] = err.Error()
			out.Status, status = "unavailable", http.StatusServiceUnavailable
			continue
		}
		out.Checks[name] = "ok"
	}
	return c.JSON(status, out)
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", api.Spec)
}

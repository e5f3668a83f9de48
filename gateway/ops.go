package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/api"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(c echo.Context) error {
	out := readiness{Status: "ready", Checks: map[string]string{}}
	status := http.StatusOK
	for name, err := range s.deps.Ready(c.Request().Context()) {
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

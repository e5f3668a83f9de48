package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
)

type auditList struct {
	Entries       []lineage.AuditEntry `json:"entries"`
	NextPageToken string               `json:"next_page_token,omitempty"`
}

func (s *Server) listAudit(c echo.Context) error {
	if err := s.authorize(c, policy.ActionAuditRead, policy.Resource{Kind: "audit"}); err != nil {
		return err
	}
	q := lineage.AuditQuery{
		Principal: c.QueryParam("principal"),
		Action:    c.QueryParam("action"),
		Resource:  c.QueryParam("resource"),
		Decision:  c.QueryParam("decision"),
	}
	var err error
	if q.Limit, err = intParam(c, "page_size", 100, 1, 1000); err != nil {
		return err
	}
	if q.Since, err = timeParam(c, "since"); err != nil {
		return err
	}
	if q.Until, err = timeParam(c, "until"); err != nil {
		return err
	}
	after, err := s.openPage(c, apiPage, 1)
	if err != nil {
		return err
	}
	if after != nil {
		if q.Before, err = strconv.ParseInt(after[0], 10, 64); err != nil {
			return fmt.Errorf("audit page cursor %q: %w", after[0], err) // sealed by this server: a bug
		}
	}
	entries, err := s.deps.Audit.Query(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := auditList{Entries: entries}
	if len(entries) == q.Limit {
		out.NextPageToken = s.nextPage(c, apiPage, []string{strconv.FormatInt(entries[len(entries)-1].ID, 10)})
	}
	return c.JSON(http.StatusOK, out)
}

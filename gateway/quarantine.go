package gateway

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/policy"
)

// quarantineWindow is how far back GET …/quarantine looks without a since parameter.
const quarantineWindow = 24 * time.Hour

type quarantineList struct {
	Records []catalog.QuarantinedRecord `json:"records"`
	// Truncated tells that more records matched than limit; narrow the window (until = the
	// oldest received_at returned) to see the rest.
	Truncated bool `json:"truncated"`
}

// getQuarantine answers GET /v1/datasets/{namespace}/{name}/quarantine: the dataset's most
// recent rejected records with their reasons. The quarantine holds records as producers sent
// them, so reading it is reading the data of the quarantine table: table.read_data on
// NAME__quarantine, the decision an engine reading it through the catalog gets.
func (s *Server) getQuarantine(c echo.Context) error {
	nsStr, name := c.Param("namespace"), c.Param("name")
	ns, err := catalog.ParseNamespace(nsStr)
	if err != nil {
		return err
	}
	if catalog.IsQuarantineTable(name) {
		return errBadRequest("%s.%s is a quarantine table; ask for its dataset's quarantine", nsStr, name)
	}
	if err := s.authorize(c, policy.ActionTableReadData, tableResource(ns, catalog.QuarantineTableName(name))); err != nil {
		return err
	}
	q := catalog.QuarantineQuery{BatchID: c.QueryParam("batch_id"), Rule: c.QueryParam("rule")}
	if q.Limit, err = intParam(c, "limit", 100, 1, 1000); err != nil {
		return err
	}
	if q.Since, err = timeParam(c, "since"); err != nil {
		return err
	}
	if q.Until, err = timeParam(c, "until"); err != nil {
		return err
	}
	if q.Since.IsZero() {
		q.Since = time.Now().Add(-quarantineWindow)
	}
	recs, truncated, err := s.deps.Datasets.ReadQuarantine(c.Request().Context(), ns, name, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, quarantineList{Records: recs, Truncated: truncated})
}

package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/policy"
)

// metricsReport is the spec's ReportMetricsRequest: a scan report (what an engine read:
// columns, filter) or a commit report.
type metricsReport struct {
	ReportType          string          `json:"report-type"`
	TableName           string          `json:"table-name"`
	SnapshotID          int64           `json:"snapshot-id"`
	Filter              json.RawMessage `json:"filter,omitempty"`
	SchemaID            *int            `json:"schema-id,omitempty"`
	ProjectedFieldIDs   []int           `json:"projected-field-ids,omitempty"`
	ProjectedFieldNames []string        `json:"projected-field-names,omitempty"`
	SequenceNumber      *int64          `json:"sequence-number,omitempty"`
	Operation           string          `json:"operation,omitempty"`
	Metrics             json.RawMessage `json:"metrics"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
}

// reportMetrics stores an engine's scan or commit report with the audit trail: the audit
// row of this request records who read which table, which columns and with what filter.
func (s *Server) reportMetrics(c echo.Context) error {
	var body metricsReport
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	switch body.ReportType {
	case "scan-report", "commit-report":
	default:
		return errBadRequest("report-type must be scan-report or commit-report, not %q", body.ReportType)
	}
	if _, _, err := s.tableFromPath(c, policy.ActionTableLoad); err != nil {
		return err
	}
	details := map[string]any{
		"report_type": body.ReportType,
		"snapshot_id": body.SnapshotID,
	}
	if body.ReportType == "scan-report" {
		details["projected_field_names"] = body.ProjectedFieldNames
		details["projected_field_ids"] = body.ProjectedFieldIDs
		if len(body.Filter) > 0 {
			details["filter"] = json.RawMessage(body.Filter)
		}
	} else {
		details["operation"] = body.Operation
		if body.SequenceNumber != nil {
			details["sequence_number"] = *body.SequenceNumber
		}
	}
	if len(body.Metrics) > 0 {
		details["metrics"] = json.RawMessage(body.Metrics)
	}
	reqOf(c).details = details
	return c.NoContent(http.StatusNoContent)
}

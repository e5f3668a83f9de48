package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
)

// Lineage records and queries lineage: producer → batch → snapshot → dataset.
type Lineage interface {
	RecordSnapshots(ctx context.Context, tx pgx.Tx, recs []lineage.SnapshotRecord) error
	Graph(ctx context.Context, ns, name string, depth, limit int) (lineage.Graph, error)
	SnapshotLineage(ctx context.Context, ns, name string, snapshotID int64) (lineage.SnapshotLineage, error)
}

// lineageResource is what lineage.read is decided on. The default policy lets roles admin
// and auditor read every dataset's lineage; anyone else needs a grant of lineage.read (or
// lineage.*, or *) on the dataset or a namespace covering it; dataset.read does not imply
// lineage.read.
func lineageResource(ns, name string) policy.Resource {
	return policy.Resource{Kind: "lineage", Namespace: ns, Name: name}
}

// lineageError maps the lineage store's not-found to a 404; the rest are classified as usual.
func lineageError(err error, format string, args ...any) error {
	if errors.Is(err, lineage.ErrNotFound) {
		return errNotFound(format, args...)
	}
	return err
}

// getLineage answers GET /v1/lineage?dataset=NS.NAME&depth=N&limit=M: the lineage graph of
// the dataset's most recent snapshots.
func (s *Server) getLineage(c echo.Context) error {
	ds := c.QueryParam("dataset")
	i := strings.LastIndexByte(ds, '.')
	if i <= 0 || i == len(ds)-1 {
		return errBadRequest("dataset must be NAMESPACE.NAME")
	}
	ns, name := ds[:i], ds[i+1:]
	if _, err := catalog.ParseNamespace(ns); err != nil {
		return errBadRequest("dataset must be NAMESPACE.NAME: %s", err)
	}
	depth, err := intParam(c, "depth", lineage.DepthProducers, lineage.DepthSnapshots, lineage.DepthProducers)
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", lineage.DefaultGraphLimit, 1, lineage.MaxGraphLimit)
	if err != nil {
		return err
	}
	if err := s.authorize(c, policy.ActionLineageRead, lineageResource(ns, name)); err != nil {
		return err
	}
	g, err := s.deps.Lineage.Graph(c.Request().Context(), ns, name, depth, limit)
	if err != nil {
		return lineageError(err, "dataset %s.%s does not exist", ns, name)
	}
	return c.JSON(http.StatusOK, g)
}

// getSnapshotLineage answers GET /v1/datasets/{namespace}/{name}/snapshots/{id}/lineage: the
// batches and producers that made one snapshot.
func (s *Server) getSnapshotLineage(c echo.Context) error {
	ns, name := c.Param("namespace"), c.Param("name")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errBadRequest("snapshot id must be a 64-bit integer")
	}
	if err := s.authorize(c, policy.ActionLineageRead, lineageResource(ns, name)); err != nil {
		return err
	}
	sl, err := s.deps.Lineage.SnapshotLineage(c.Request().Context(), ns, name, id)
	if err != nil {
		return lineageError(err, "snapshot %d of dataset %s.%s is unknown", id, ns, name)
	}
	return c.JSON(http.StatusOK, sl)
}

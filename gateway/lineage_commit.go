package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/lineage"
)

// catalogCommitHook is the hook of an Iceberg REST commit: in the commit's transaction it
// writes the request's audit row (as auditInTx) and a lineage row for every snapshot the
// commit adds, committed by the principal under the request's id. The snapshots a commit adds
// are exactly its add-snapshot updates, so they are read from the request rather than by
// comparing metadata.
func (s *Server) catalogCommitHook(c echo.Context, status int, changes []catalog.TableChange) catalog.TxHook {
	audit := s.auditInTx(c, status)
	r := reqOf(c)
	recs, recErr := addedSnapshots(changes, r.principal.Subject, r.id)
	return func(ctx context.Context, tx pgx.Tx) error {
		if recErr != nil {
			return recErr
		}
		if err := audit(ctx, tx); err != nil {
			return err
		}
		return s.deps.Lineage.RecordSnapshots(ctx, tx, recs)
	}
}

// addedSnapshots turns the add-snapshot updates of changes into lineage records.
func addedSnapshots(changes []catalog.TableChange, principal, requestID string) ([]lineage.SnapshotRecord, error) {
	var recs []lineage.SnapshotRecord
	for _, ch := range changes {
		for _, u := range ch.Updates {
			if u.Action() != table.UpdateAddSnapshot {
				continue
			}
			// The update's type is iceberg-go's own; its wire form is the spec's AddSnapshotUpdate.
			b, err := json.Marshal(u)
			if err != nil {
				return nil, fmt.Errorf("lineage: encode add-snapshot update: %w", err)
			}
			var wire struct {
				Snapshot *table.Snapshot `json:"snapshot"`
			}
			if err := json.Unmarshal(b, &wire); err != nil {
				return nil, fmt.Errorf("lineage: decode add-snapshot update: %w", err)
			}
			if wire.Snapshot == nil {
				continue
			}
			recs = append(recs, snapshotRecord(ch, wire.Snapshot, principal, requestID))
		}
	}
	return recs, nil
}

func snapshotRecord(ch catalog.TableChange, sn *table.Snapshot, principal, requestID string) lineage.SnapshotRecord {
	rec := lineage.SnapshotRecord{
		Namespace: ch.Namespace.String(), Dataset: ch.Name,
		SnapshotID: sn.SnapshotID, ParentSnapshotID: sn.ParentSnapshotID, SequenceNumber: sn.SequenceNumber,
		CommittedBy: principal, Source: lineage.SourceCatalog, RequestID: requestID,
	}
	if sn.Summary != nil {
		rec.Operation = string(sn.Summary.Operation)
		rec.AddedRecords = summaryInt(sn.Summary.Properties, "added-records")
		rec.AddedFiles = summaryInt(sn.Summary.Properties, "added-data-files")
	}
	return rec
}

func summaryInt(props map[string]string, key string) *int64 {
	v, err := strconv.ParseInt(props[key], 10, 64)
	if err != nil {
		return nil
	}
	return &v
}

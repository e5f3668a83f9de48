package lineage

import (
	"context"
	"fmt"
)

// CommittedBatches returns, of the given batch ids, those already committed, with their
// snapshot id: the streaming writer skips them on redelivery (exactly once).
func (s *Store) CommittedBatches(ctx context.Context, batchIDs []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(batchIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT batch_id, snapshot_id FROM lineage_batches
		WHERE batch_id = ANY($1) AND snapshot_id IS NOT NULL`, batchIDs)
	if err != nil {
		return nil, fmt.Errorf("lineage: committed batches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			snap int64
		)
		if err := rows.Scan(&id, &snap); err != nil {
			return nil, fmt.Errorf("lineage: committed batches: %w", err)
		}
		out[id] = snap
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lineage: committed batches: %w", err)
	}
	return out, nil
}

package catalog

import (
	"slices"
	"strconv"

	"github.com/apache/iceberg-go/table"
)

// MaxSnapshotsKey bounds a table's snapshot history: when a commit takes a table past it,
// the commit also expires the oldest snapshots that no branch or tag points at. It keeps
// metadata small and commit latency flat for tables that commit every second. Tables
// without the property (e.g. registered ones) keep their whole history.
const MaxSnapshotsKey = "lakegate.history.max-snapshots"

// DefaultMaxSnapshots is MaxSnapshotsKey's value for tables created by lakegate.
const DefaultMaxSnapshots = 200

// expiredSnapshots returns the ids of the oldest snapshots to drop when md holds more than
// the table's MaxSnapshotsKey snapshots; never one that a ref points at. It expires down to
// 90% of the limit, so the extra metadata pass runs once every tenth of the limit in
// commits rather than on every commit.
func expiredSnapshots(md table.Metadata) []int64 {
	limit, err := strconv.Atoi(md.Properties().Get(MaxSnapshotsKey, ""))
	snaps := md.Snapshots()
	if err != nil || limit <= 0 || len(snaps) <= limit {
		return nil
	}
	referenced := map[int64]bool{}
	for _, ref := range md.Refs() {
		referenced[ref.SnapshotID] = true
	}
	byAge := slices.Clone(snaps)
	slices.SortFunc(byAge, func(a, b table.Snapshot) int {
		if a.TimestampMs != b.TimestampMs {
			return int(a.TimestampMs - b.TimestampMs)
		}
		return int(a.SequenceNumber - b.SequenceNumber)
	})
	excess := len(snaps) - (limit - limit/10)
	var ids []int64
	for _, s := range byAge {
		if excess == 0 {
			break
		}
		if !referenced[s.SnapshotID] {
			ids = append(ids, s.SnapshotID)
			excess--
		}
	}
	return ids
}

package catalog

import (
	"strconv"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"
)

// history.expire.max-snapshot-age-ms expires old snapshots (with a tenth of hysteresis) but
// keeps history.expire.min-snapshots-to-keep and every snapshot a ref points at; the count
// limit applies beside it.
func TestExpiredSnapshotsByAgeAndCount(t *testing.T) {
	t0 := time.Now()
	// Snapshots 1..5 at 0, 1, 2, 70 and 71 minutes; a branch points at 3, main at 5.
	withProps := func(p iceberg.Properties) table.Metadata {
		t.Helper()
		md, err := table.NewMetadata(iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true}),
			iceberg.UnpartitionedSpec, table.UnsortedSortOrder, "file:///wh/t", p)
		require.NoError(t, err)
		for i, at := range []time.Duration{0, time.Minute, 2 * time.Minute, 70 * time.Minute, 71 * time.Minute} {
			id := int64(i + 1)
			ref := "main"
			if id == 3 {
				ref = "old-branch"
			}
			snap := table.Snapshot{SnapshotID: id, SequenceNumber: id, TimestampMs: t0.Add(at).UnixMilli(),
				ManifestList: "file:///wh/t/metadata/snap.avro", Summary: &table.Summary{Operation: table.OpAppend}}
			md, err = table.UpdateTableMetadata(md, []table.Update{table.NewAddSnapshotUpdate(&snap),
				table.NewSetSnapshotRefUpdate(ref, id, table.BranchRef, -1, -1, -1)}, "")
			require.NoError(t, err)
		}
		return md
	}
	md := withProps(iceberg.Properties{})
	hour := strconv.FormatInt(time.Hour.Milliseconds(), 10)

	require.Nil(t, expiredSnapshots(md, t0.Add(24*time.Hour)), "no retention property, no expiry")
	aged := withProps(iceberg.Properties{table.MaxSnapshotAgeMsKey: hour, table.MinSnapshotsToKeepKey: "2"})
	require.Nil(t, expiredSnapshots(aged, t0.Add(65*time.Minute)), "past the age, within the hysteresis")
	require.Equal(t, []int64{1, 2}, expiredSnapshots(aged, t0.Add(67*time.Minute)), "3 stays for its branch")
	require.Equal(t, []int64{1, 2}, expiredSnapshots(aged, t0.Add(200*time.Minute)), "the newest two stay")
	keep4 := withProps(iceberg.Properties{table.MaxSnapshotAgeMsKey: hour, table.MinSnapshotsToKeepKey: "4"})
	require.Equal(t, []int64{1}, expiredSnapshots(keep4, t0.Add(67*time.Minute)))

	counted := withProps(iceberg.Properties{MaxSnapshotsKey: "4"})
	require.Equal(t, []int64{1}, expiredSnapshots(counted, t0), "the oldest beyond the limit")
	require.Nil(t, expiredSnapshots(withProps(iceberg.Properties{MaxSnapshotsKey: "5"}), t0))
	both := withProps(iceberg.Properties{MaxSnapshotsKey: "4", table.MaxSnapshotAgeMsKey: hour, table.MinSnapshotsToKeepKey: "1"})
	require.Equal(t, []int64{1, 2}, expiredSnapshots(both, t0.Add(67*time.Minute)))
}

package catalog

import (
	"context"
	"errors"
	iofs "io/fs"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxSnapshotsKey bounds a table's snapshot history: when a commit takes a table past it,
// the commit also expires the oldest snapshots that no branch or tag points at. It keeps
// metadata small and commit latency flat for tables that commit every second. Tables
// without the property (e.g. registered ones) keep their whole history.
const MaxSnapshotsKey = "lakegate.history.max-snapshots"

// DefaultMaxSnapshots is MaxSnapshotsKey's value for tables created by lakegate.
const DefaultMaxSnapshots = 200

// DefaultManifestMinMergeCount is commit.manifest.min-count-to-merge for tables created by
// lakegate (Iceberg's default is 100): with appends every second, the manifest list of the
// current snapshot stays below this many entries, and a merge rewrites the merged manifest
// about every this many commits.
const DefaultManifestMinMergeCount = 32

// expiredSnapshots returns the ids of the snapshots a commit producing md expires, never one
// that a branch or tag points at:
//
//   - by count, when md holds more than the table's MaxSnapshotsKey snapshots: the oldest,
//     down to 90% of the limit, so the extra metadata pass (and the deletion of the expired
//     snapshots' files) runs once every tenth of the limit in commits rather than on every
//     commit;
//   - by age, when the table sets Iceberg's history.expire.max-snapshot-age-ms: the snapshots
//     older than that, once the oldest is older by a tenth more (the same hysteresis), always
//     keeping the newest history.expire.min-snapshots-to-keep (default 1).
func expiredSnapshots(md table.Metadata, now time.Time) []int64 {
	snaps := md.Snapshots()
	if len(snaps) == 0 {
		return nil
	}
	props := md.Properties()
	limit, err := strconv.Atoi(props.Get(MaxSnapshotsKey, ""))
	if err != nil {
		limit = 0
	}
	maxAgeMs, err := strconv.ParseInt(props.Get(table.MaxSnapshotAgeMsKey, ""), 10, 64)
	if err != nil {
		maxAgeMs = 0
	}
	if (limit <= 0 || len(snaps) <= limit) && maxAgeMs <= 0 {
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
	expired := map[int64]bool{}
	if limit > 0 && len(snaps) > limit {
		excess := len(snaps) - (limit - limit/10)
		for _, s := range byAge {
			if excess == 0 {
				break
			}
			if !referenced[s.SnapshotID] {
				expired[s.SnapshotID] = true
				excess--
			}
		}
	}
	if maxAgeMs > 0 {
		minKeep := max(props.GetInt(table.MinSnapshotsToKeepKey, 1), 0)
		candidates := byAge[:max(len(byAge)-minKeep, 0)]
		cutoff := now.UnixMilli() - maxAgeMs
		var (
			old      []int64
			oldestMs int64
		)
		for _, s := range candidates {
			if s.TimestampMs >= cutoff {
				break
			}
			if referenced[s.SnapshotID] {
				continue
			}
			if len(old) == 0 {
				oldestMs = s.TimestampMs
			}
			old = append(old, s.SnapshotID)
		}
		if len(old) > 0 && oldestMs < cutoff-maxAgeMs/10 {
			for _, id := range old {
				expired[id] = true
			}
		}
	}
	if len(expired) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(expired))
	for _, s := range byAge {
		if expired[s.SnapshotID] {
			ids = append(ids, s.SnapshotID)
		}
	}
	return ids
}

// hygieneMetrics count what the commit path's table hygiene does.
type hygieneMetrics struct {
	snapshotsExpired prometheus.Counter
	filesDeleted     prometheus.Counter
	cleanupFailures  prometheus.Counter
}

func newHygieneMetrics() *hygieneMetrics {
	return &hygieneMetrics{
		snapshotsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_catalog_snapshots_expired_total",
			Help: "Snapshots expired by commits (history.expire.max-snapshot-age-ms, lakegate.history.max-snapshots)."}),
		filesDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_catalog_expired_files_deleted_total",
			Help: "Manifest lists, manifests and data files that only expired snapshots reached, deleted after the commit."}),
		cleanupFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_catalog_expired_files_cleanup_failures_total",
			Help: "Commits whose deletion of expired snapshots' files failed (the files stay; the commit stands)."}),
	}
}

// Collectors are the catalog's Prometheus metrics, for the composition root to register.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.hygiene.snapshotsExpired, s.hygiene.filesDeleted, s.hygiene.cleanupFailures}
}

// deleteExpiredFiles removes, after a commit that expired snapshots, the files that only
// those snapshots reached: their manifest lists, and the manifests and data files that no
// remaining snapshot references (iceberg-go's reachability cleanup of an expiry). Tables with
// gc.enabled=false keep their files, and nothing outside the table's location is touched (a
// registered table may reference files it does not own). A failure is only logged: the commit
// has happened, and the files are merely left behind.
func (s *Service) deleteExpiredFiles(ctx context.Context, st *stagedCommit) {
	var removed atomic.Int64
	fsF := func(ctx context.Context) (icebergio.IO, error) {
		fs, err := s.fileIO(ctx, st.next.Location())
		if err != nil {
			return nil, err
		}
		return &confinedIO{IO: fs, own: st.own, removed: &removed}, nil
	}
	ident := table.Identifier(append(slices.Clone(st.Namespace), st.Name))
	pre := table.New(ident, st.withExpired, st.nextLoc, fsF, nil)
	post := table.New(ident, st.next, st.nextLoc, fsF, nil)
	err := table.NewRemoveSnapshotsUpdate(st.expired, true).PostCommit(s.withObjectStore(ctx), pre, post)
	s.hygiene.snapshotsExpired.Add(float64(len(st.expired)))
	s.hygiene.filesDeleted.Add(float64(removed.Load()))
	if err != nil {
		s.hygiene.cleanupFailures.Inc()
		s.logger.Warn("could not delete the files of expired snapshots; they stay in the warehouse",
			"table", st.Namespace.String()+"."+st.Name, "expired_snapshots", len(st.expired), "files_deleted", removed.Load(), "err", err)
		return
	}
	s.logger.Debug("deleted the files of expired snapshots", "table", st.Namespace.String()+"."+st.Name,
		"expired_snapshots", len(st.expired), "files_deleted", removed.Load())
}

// confinedIO is a FileIO that removes only files inside own (the location a table owns) and
// counts what it removed. Files already gone count as removed.
type confinedIO struct {
	icebergio.IO
	own     string
	removed *atomic.Int64
}

func (c *confinedIO) Remove(name string) error {
	if !owns(c.own, name) {
		return nil
	}
	err := c.IO.Remove(name)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return err
	}
	c.removed.Add(1)
	return nil
}

// DeleteFiles removes the files under prefix, in bulk when the FileIO can.
func (c *confinedIO) DeleteFiles(ctx context.Context, paths []string) ([]string, error) {
	inside := slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return !owns(c.own, p) })
	if bulk, ok := c.IO.(icebergio.BulkRemovableIO); ok {
		deleted, err := bulk.DeleteFiles(ctx, inside)
		c.removed.Add(int64(len(deleted)))
		return deleted, err
	}
	var (
		deleted []string
		errs    []error
	)
	for _, p := range inside {
		if err := c.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, p)
	}
	return deleted, errors.Join(errs...)
}

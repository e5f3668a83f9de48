package writers

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/table/compaction"

	"github.com/lakegate/lakegate/catalog"
)

// Small-file compaction. Every micro-batch is one snapshot with a few small Parquet files, so
// a dataset receiving data every second gains thousands of files a day. The writer compacts
// them in its own goroutine: every CompactInterval, each dataset that received commits since
// the last round has the small files of its recent partitions (those that received data within
// CompactLookback) bin-packed into files of about CompactTargetFileSize and committed as one
// `replace` snapshot through the catalog's commit function.
//
// Compaction yields to ingest: the rewrite is read and written without holding anything, and
// its commit is attempted only while no micro-batch of this writer is between loading the
// table and committing (never waiting for one). Appends that land meanwhile are kept: the
// rewrite is staged again on the newest snapshot, provided every snapshot since the one it
// was planned on is an append. When ingest wins every attempt (or another writer's commit
// lands first, failing the requirement), the round is abandoned, the files it wrote are
// deleted, and the dataset is compacted in a later round.

// compactAttempts bounds the commit attempts of one compaction round.
const compactAttempts = 3

// dirtySet holds the datasets that received commits since the last compaction round.
type dirtySet struct {
	mu  sync.Mutex
	set map[string]catalog.Namespace // by "ns\x00name"; the name is after the NUL
}

func (d *dirtySet) add(ns catalog.Namespace, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.set == nil {
		d.set = map[string]catalog.Namespace{}
	}
	d.set[ns.String()+"\x00"+name] = ns
}

type datasetRef struct {
	ns   catalog.Namespace
	name string
}

func (d *dirtySet) take() []datasetRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]datasetRef, 0, len(d.set))
	for _, k := range slices.Sorted(maps.Keys(d.set)) {
		out = append(out, datasetRef{ns: d.set[k], name: k[strings.IndexByte(k, 0)+1:]})
	}
	d.set = nil
	return out
}

// compactLoop runs compaction rounds until ctx ends.
func (w *Writer) compactLoop(ctx context.Context) {
	tick := time.NewTicker(w.cfg.CompactInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, ds := range w.dirty.take() {
			if ctx.Err() != nil {
				return
			}
			res, err := w.compact(ctx, ds.ns, ds.name)
			switch {
			case errors.Is(err, catalog.ErrNoSuchTable), errors.Is(err, catalog.ErrNoSuchNamespace):
				// dropped since it received data: nothing to compact
			case err != nil && ctx.Err() == nil:
				w.metrics.compactionFailures.Inc()
				w.log.Warn("compaction failed; retried in a later round", "dataset", ds.ns.String()+"."+ds.name, "err", err)
				w.dirty.add(ds.ns, ds.name)
			case res.abandoned:
				w.dirty.add(ds.ns, ds.name)
			}
		}
	}
}

// compactResult describes one compaction round.
type compactResult struct {
	snapshotID   int64
	filesRemoved int
	filesAdded   int
	bytesRemoved int64
	bytesAdded   int64
	abandoned    bool
}

// compact runs one compaction round on a dataset.
func (w *Writer) compact(ctx context.Context, ns catalog.Namespace, name string) (compactResult, error) {
	start := time.Now()
	md, loc, err := w.deps.Catalog.LoadTable(ctx, ns, name)
	if err != nil {
		return compactResult{}, err
	}
	planned := md.CurrentSnapshot()
	if planned == nil {
		return compactResult{}, nil
	}
	tbl := w.table(ns, name, md, loc, &capture{})
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return compactResult{}, fmt.Errorf("writers: plan compaction of %s.%s: %w", ns, name, err)
	}
	plan, err := w.compactionConfig().PlanCompaction(recentPartitions(md, tasks, start.Add(-w.cfg.CompactLookback)))
	if err != nil {
		return compactResult{}, fmt.Errorf("writers: plan compaction of %s.%s: %w", ns, name, err)
	}
	if len(plan.Groups) == 0 {
		return compactResult{}, nil
	}

	fsys, err := tbl.FS(ctx)
	if err != nil {
		return compactResult{}, err
	}
	var (
		groups []table.CompactionGroupResult
		res    compactResult
	)
	abandon := func() {
		var written []string
		for _, gr := range groups {
			for _, df := range gr.NewDataFiles {
				written = append(written, df.FilePath())
			}
		}
		w.removeFiles(fsys, written)
	}
	for _, g := range plan.Groups {
		gr, err := table.ExecuteCompactionGroup(ctx, tbl,
			table.CompactionTaskGroup{PartitionKey: g.PartitionKey, Tasks: g.Tasks, TotalSizeBytes: g.TotalSizeBytes},
			table.WithCompactionTargetFileSize(w.cfg.CompactTargetFileSize), table.WithCompactionScanConcurrency(1))
		groups = append(groups, gr)
		if err != nil {
			abandon()
			return compactResult{}, fmt.Errorf("writers: compact %s.%s: %w", ns, name, err)
		}
		res.filesRemoved += len(gr.OldDataFiles)
		res.filesAdded += len(gr.NewDataFiles)
		res.bytesRemoved += gr.BytesBefore
		res.bytesAdded += gr.BytesAfter
	}

attempts:
	for attempt := range compactAttempts {
		if attempt > 0 {
			sleep(ctx, time.Duration(20<<attempt)*time.Millisecond)
		}
		snap, err := w.commitRewrite(ctx, ns, name, planned, groups)
		switch {
		case err == nil:
			res.snapshotID = snap
			w.metrics.compactions.Inc()
			w.metrics.compactedFiles.Add(float64(res.filesRemoved))
			w.metrics.compactionFiles.Add(float64(res.filesAdded))
			w.metrics.compactedBytes.Add(float64(res.bytesRemoved))
			w.metrics.compactionDuration.Observe(time.Since(start).Seconds())
			w.log.Info("compacted small files", "dataset", ns.String()+"."+name, "snapshot_id", snap,
				"files_removed", res.filesRemoved, "files_added", res.filesAdded, "bytes", res.bytesRemoved, "duration", time.Since(start))
			return res, nil
		case errors.Is(err, errYielded), errors.Is(err, catalog.ErrCommitFailed):
			w.log.Debug("compaction yielded to ingest", "dataset", ns.String()+"."+name, "attempt", attempt+1, "err", err)
		case errors.Is(err, errStale):
			w.log.Debug("compaction is stale", "dataset", ns.String()+"."+name, "err", err)
			break attempts
		default:
			if !errors.Is(err, catalog.ErrCommitStateUnknown) {
				abandon()
			}
			return compactResult{}, err
		}
	}
	abandon()
	w.metrics.compactionsAbandoned.Inc()
	w.log.Info("compaction abandoned: ingest commits came first; retried in a later round", "dataset", ns.String()+"."+name)
	return compactResult{abandoned: true}, nil
}

// errYielded marks a compaction commit given up because an ingest commit was under way;
// errStale one whose table changed in a way the rewrite cannot be staged over.
var (
	errYielded = errors.New("writers: compaction yields to an ingest commit")
	errStale   = errors.New("writers: the table changed other than by appends since compaction planned")
)

// commitRewrite stages the rewrite on the table's newest snapshot and commits it, unless a
// micro-batch is being committed. Staged manifests are removed when the commit does not
// happen.
func (w *Writer) commitRewrite(ctx context.Context, ns catalog.Namespace, name string, planned *table.Snapshot, groups []table.CompactionGroupResult) (int64, error) {
	md, loc, err := w.deps.Catalog.LoadTable(ctx, ns, name)
	if err != nil {
		return 0, err
	}
	if !onlyAppendsSince(md, planned.SnapshotID) {
		return 0, errStale
	}
	cio := &capture{}
	tbl := w.table(ns, name, md, loc, cio)
	txn := tbl.NewTransaction()
	rw := txn.NewRewrite(iceberg.Properties{"lakegate.compaction": "small-files"})
	for _, gr := range groups {
		rw.ApplyResult(gr)
	}
	if err := rw.Commit(ctx); err != nil {
		return 0, fmt.Errorf("%w: stage rewrite of %s.%s: %w", errStale, ns, name, err)
	}
	if _, err := txn.Commit(ctx); !errors.Is(err, errCaptured) {
		if err == nil {
			err = errors.New("iceberg-go committed without the catalog")
		}
		return 0, fmt.Errorf("writers: prepare compaction commit of %s.%s: %w", ns, name, err)
	}
	snap := addedSnapshot(cio.updates)
	if snap == nil {
		return 0, fmt.Errorf("writers: compaction of %s.%s staged no snapshot", ns, name)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return 0, err
	}
	if w.beforeRewriteCommit != nil {
		w.beforeRewriteCommit()
	}
	if !w.commitMu.TryLock() {
		w.removeFiles(fsys, stagedFiles(fsys, snap, md.CurrentSnapshot()))
		return 0, errYielded
	}
	_, err = w.deps.Catalog.CommitTables(ctx, []catalog.TableChange{{Namespace: ns, Name: name, Requirements: cio.reqs, Updates: cio.updates}}, nil)
	w.commitMu.Unlock()
	if err != nil {
		if !errors.Is(err, catalog.ErrCommitStateUnknown) {
			w.removeFiles(fsys, stagedFiles(fsys, snap, md.CurrentSnapshot()))
		}
		return 0, err
	}
	w.removeFiles(fsys, mergeLeftovers(fsys, snap))
	return snap.SnapshotID, nil
}

// table returns an iceberg-go table on md that writes through the warehouse's FileIO and
// commits into cio.
func (w *Writer) table(ns catalog.Namespace, name string, md table.Metadata, loc string, cio *capture) *table.Table {
	ident := table.Identifier(append(slices.Clone(ns), name))
	return table.New(ident, md, loc, icebergio.LoadFSFunc(w.deps.Catalog.IOProperties(), loc), cio)
}

func (w *Writer) compactionConfig() compaction.Config {
	cfg := compaction.DefaultConfig()
	cfg.TargetFileSizeBytes = w.cfg.CompactTargetFileSize
	cfg.MinFileSizeBytes = cfg.TargetFileSizeBytes * 3 / 4
	cfg.MaxFileSizeBytes = cfg.TargetFileSizeBytes * 9 / 5
	cfg.MinInputFiles = uint(w.cfg.CompactMinFiles)
	return cfg
}

// recentPartitions keeps the tasks of the partitions that received a file from a snapshot
// committed at or after since.
func recentPartitions(md table.Metadata, tasks []table.FileScanTask, since time.Time) []table.FileScanTask {
	minSeq := int64(-1)
	for _, s := range md.Snapshots() {
		if s.TimestampMs >= since.UnixMilli() && (minSeq < 0 || s.SequenceNumber < minSeq) {
			minSeq = s.SequenceNumber
		}
	}
	if minSeq < 0 {
		return nil
	}
	recent := map[string]bool{}
	for _, t := range tasks {
		if t.DataSequenceNumber != nil && *t.DataSequenceNumber >= minSeq {
			recent[partitionKey(t.File)] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(tasks), func(t table.FileScanTask) bool { return !recent[partitionKey(t.File)] })
}

func partitionKey(df iceberg.DataFile) string {
	p := df.Partition()
	var b strings.Builder
	fmt.Fprintf(&b, "%d", df.SpecID())
	for _, id := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "/%d=%v", id, p[id])
	}
	return b.String()
}

// onlyAppendsSince reports whether every snapshot from md's current one back to (not
// including) the snapshot id is an append, i.e. a rewrite planned at id can be staged on md.
func onlyAppendsSince(md table.Metadata, id int64) bool {
	for s := md.CurrentSnapshot(); s != nil; {
		if s.SnapshotID == id {
			return true
		}
		if s.Summary == nil || s.Summary.Operation != table.OpAppend {
			return false
		}
		if s.ParentSnapshotID == nil {
			return false
		}
		s = md.SnapshotByID(*s.ParentSnapshotID)
	}
	return false
}

// stagedFiles are the files staging snap wrote: its manifest list and the manifests it lists
// that base does not (none of them referenced by a committed snapshot when snap was not
// committed), and the merge leftovers.
func stagedFiles(fsys icebergio.IO, snap *table.Snapshot, base *table.Snapshot) []string {
	out := append([]string{snap.ManifestList}, mergeLeftovers(fsys, snap)...)
	mans, err := snap.Manifests(fsys)
	if err != nil {
		return out
	}
	kept := map[string]bool{}
	if base != nil {
		if baseMans, err := base.Manifests(fsys); err == nil {
			for _, m := range baseMans {
				kept[m.FilePath()] = true
			}
		} else {
			return out
		}
	}
	for _, m := range mans {
		if !kept[m.FilePath()] {
			out = append(out, m.FilePath())
		}
	}
	return out
}

// mergeLeftovers are the manifests iceberg-go wrote for snap but did not list in it: with
// manifest merging, the manifest of the new files is written, then merged into a bigger one,
// and left on disk. They are named <commit uuid>-m<n>.avro beside snap's manifest list,
// snap-<id>-<attempt>-<commit uuid>.avro, for n from 0 to the highest one listed.
func mergeLeftovers(fsys icebergio.IO, snap *table.Snapshot) []string {
	base := path.Base(snap.ManifestList)
	parts := strings.SplitN(strings.TrimSuffix(base, ".avro"), "-", 4)
	if len(parts) != 4 || parts[0] != "snap" {
		return nil
	}
	uuid, dir := parts[3], strings.TrimSuffix(snap.ManifestList, base)
	mans, err := snap.Manifests(fsys)
	if err != nil {
		return nil
	}
	listed, highest := map[int]bool{}, -1
	for _, m := range mans {
		var n int
		if _, err := fmt.Sscanf(path.Base(m.FilePath()), uuid+"-m%d.avro", &n); err == nil && strings.HasPrefix(m.FilePath(), dir) {
			listed[n] = true
			highest = max(highest, n)
		}
	}
	var out []string
	for n := range highest {
		if !listed[n] {
			out = append(out, fmt.Sprintf("%s%s-m%d.avro", dir, uuid, n))
		}
	}
	return out
}

// removeFiles deletes files that no snapshot references; a failure leaves an orphan behind
// and is only logged.
func (w *Writer) removeFiles(fsys icebergio.IO, paths []string) {
	for _, p := range paths {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			w.log.Warn("could not remove an unreferenced file", "location", p, "err", err)
		}
	}
}

// removeMergeLeftovers deletes the manifests that iceberg-go wrote for a committed snapshot
// but merged away (see mergeLeftovers).
func (w *Writer) removeMergeLeftovers(ctx context.Context, snap *table.Snapshot) {
	fsys, err := icebergio.LoadFS(ctx, w.deps.Catalog.IOProperties(), snap.ManifestList)
	if err != nil {
		return
	}
	w.removeFiles(fsys, mergeLeftovers(fsys, snap))
}

// discardStaged deletes what staging uncommitted snapshots (nil ones are skipped) wrote: the
// data files they added, the manifests written for them (those with their snapshot id; the
// parent's manifests they list stay), their manifest lists and merge leftovers.
func (w *Writer) discardStaged(ctx context.Context, snaps ...*table.Snapshot) {
	for _, snap := range snaps {
		if snap == nil {
			continue
		}
		fsys, err := icebergio.LoadFS(ctx, w.deps.Catalog.IOProperties(), snap.ManifestList)
		if err != nil {
			continue
		}
		paths := append([]string{snap.ManifestList}, mergeLeftovers(fsys, snap)...)
		if mans, err := snap.Manifests(fsys); err == nil {
			for _, m := range mans {
				if m.SnapshotID() != snap.SnapshotID {
					continue
				}
				paths = append(paths, m.FilePath())
				entries, err := m.FetchEntries(fsys, true)
				if err != nil {
					continue
				}
				for _, e := range entries {
					if e.Status() == iceberg.EntryStatusADDED && e.SnapshotID() == snap.SnapshotID {
						paths = append(paths, e.DataFile().FilePath())
					}
				}
			}
		}
		w.removeFiles(fsys, paths)
	}
}

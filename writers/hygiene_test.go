package writers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/tabletest"
)

// ingest publishes batches [from, to) of 10 ids each, one snapshot per batch.
func (h *harness) ingest(from, to int64) {
	for b := from; b < to; b++ {
		h.waitWatermark(h.publish(fmt.Sprintf("batch-%d", b), b*10, (b+1)*10))
	}
}

func (h *harness) current() *table.Table {
	md, loc, err := h.cat.LoadTable(h.t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(h.t, err)
	return table.New(table.Identifier{"iot", "events"}, md, loc, icebergio.LoadFSFunc(nil, loc), nil)
}

// dataFiles counts the data files of the current snapshot.
func (h *harness) dataFiles() int {
	tasks, err := h.current().Scan().PlanFiles(h.t.Context())
	require.NoError(h.t, err)
	return len(tasks)
}

// requireNoOrphans checks that every file in the table's directory is reached by a snapshot.
func (h *harness) requireNoOrphans() {
	md := h.current().Metadata()
	reachable := tabletest.Reachable(h.t, md)
	for _, f := range tabletest.Files(h.t, md.Location()) {
		require.True(h.t, reachable[f], "%s is on disk but no snapshot reaches it", f)
	}
}

func compactingConfig(h *harness) {
	h.cfg.CompactTargetFileSize = 1 << 20
	h.cfg.CompactMinFiles = 2
}

// The writer compacts the small files of a dataset that received data, on its interval: the
// table has fewer files and exactly the same rows, and no file is left behind.
func TestCompactionRewritesSmallFiles(t *testing.T) {
	h := newHarness(t)
	compactingConfig(h)
	h.cfg.CompactInterval = 200 * time.Millisecond
	// Merge manifests early, so that the manifests merged away are removed too.
	_, _, err := h.cat.Commit(t.Context(), catalog.Namespace{"iot"}, "events", nil,
		[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{table.ManifestMinMergeCountKey: "3"})}, nil)
	require.NoError(t, err)
	stop := h.run()
	defer stop()
	h.ingest(0, 12)
	require.Eventually(t, func() bool {
		return h.current().CurrentSnapshot().Summary.Operation == table.OpReplace
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, seqIDs(120), h.ids())
	require.Less(t, h.dataFiles(), 12)
	h.ingest(12, 14)
	require.Equal(t, seqIDs(140), h.ids())
	require.Eventually(t, func() bool { return h.dataFiles() == 1 }, 20*time.Second, 50*time.Millisecond)
	stop()
	require.Equal(t, seqIDs(140), h.ids())
	h.requireNoOrphans()
}

// A compaction whose commit finds that a micro-batch landed first stages its rewrite again on
// the newest snapshot: both the batch and the compaction are kept.
func TestCompactionYieldsToIngestAndRebases(t *testing.T) {
	h := newHarness(t)
	compactingConfig(h)
	w, stop := h.start()
	defer stop()
	h.ingest(0, 6)
	attempts := 0
	w.BeforeRewriteCommit(func() {
		attempts++
		if attempts == 1 {
			h.ingest(6, 7)
		}
	})
	removed, added, abandoned, err := w.Compact(t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(t, err)
	require.False(t, abandoned)
	require.Equal(t, 2, attempts)
	require.Equal(t, 6, removed)
	require.Equal(t, 1, added)
	require.Equal(t, seqIDs(70), h.ids())
	require.Equal(t, 2, h.dataFiles(), "the compacted file and the batch that came first")
	h.requireNoOrphans()
}

// When ingest keeps committing first, the round is abandoned: its files are deleted, the
// table is untouched, and a later round compacts.
func TestCompactionAbandonedWhileIngestWins(t *testing.T) {
	h := newHarness(t)
	compactingConfig(h)
	w, stop := h.start()
	defer stop()
	h.ingest(0, 6)
	next := int64(6)
	w.BeforeRewriteCommit(func() {
		h.ingest(next, next+1)
		next++
	})
	_, _, abandoned, err := w.Compact(t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(t, err)
	require.True(t, abandoned)
	require.Equal(t, seqIDs(next*10), h.ids())
	require.Equal(t, int(next), h.dataFiles())
	require.NotEqual(t, table.OpReplace, h.current().CurrentSnapshot().Summary.Operation)
	h.requireNoOrphans()

	w.BeforeRewriteCommit(nil)
	removed, added, abandoned, err := w.Compact(t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(t, err)
	require.False(t, abandoned)
	require.Equal(t, int(next), removed)
	require.Equal(t, 1, added)
	require.Equal(t, seqIDs(next*10), h.ids())
	require.Equal(t, 1, h.dataFiles())
	h.requireNoOrphans()
	require.True(t, strings.HasPrefix(h.current().CurrentSnapshot().Summary.Properties["lakegate.compaction"], "small-files"))
}

// BenchmarkCompaction measures a compaction round of 50 micro-batch files of 2,000 rows each
// (100,000 rows) into one file, reporting rows and input bytes per second.
func BenchmarkCompaction(b *testing.B) {
	h := newHarness(b)
	compactingConfig(h)
	h.cfg.CompactTargetFileSize = 128 << 20
	w, stop := h.start()
	defer stop()
	const files, rows = 50, 2000
	var rowsDone, bytesDone float64
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for f := range int64(files) {
			from := (int64(i)*files + f) * rows
			h.waitWatermark(h.publish(fmt.Sprintf("bench-%d-%d", i, f), from, from+rows))
		}
		tasks, err := h.current().Scan().PlanFiles(b.Context())
		require.NoError(b, err)
		var before int64
		for _, t := range tasks {
			before += t.File.FileSizeBytes()
		}
		b.StartTimer()
		start := time.Now()
		removed, _, abandoned, err := w.Compact(b.Context(), catalog.Namespace{"iot"}, "events")
		elapsed += time.Since(start)
		require.NoError(b, err)
		require.False(b, abandoned)
		require.Equal(b, len(tasks), removed)
		rowsDone += float64((int64(i) + 1) * files * rows)
		bytesDone += float64(before)
	}
	b.ReportMetric(rowsDone/elapsed.Seconds(), "rows/s")
	b.ReportMetric(bytesDone/elapsed.Seconds()/(1<<20), "MiB/s")
}

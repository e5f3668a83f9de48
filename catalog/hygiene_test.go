package catalog_test

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/internal/tabletest"
)

// viaService is the table.CatalogIO of iceberg-go tables committed through the catalog's
// commit function, as an engine's commits through the REST catalog are.
type viaService struct{ s *catalog.Service }

func (v viaService) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	md, loc, err := v.s.LoadTable(ctx, catalog.Namespace(ident[:len(ident)-1]), ident[len(ident)-1])
	if err != nil {
		return nil, err
	}
	return table.New(ident, md, loc, icebergio.LoadFSFunc(nil, loc), v), nil
}

func (v viaService) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	return v.s.Commit(ctx, catalog.Namespace(ident[:len(ident)-1]), ident[len(ident)-1], reqs, updates, nil)
}

// plainTable is a table of one long column "id" created by lakegate (with its default
// properties), with extra properties set.
func plainTable(t testing.TB, s *catalog.Service, props iceberg.Properties) *table.Table {
	t.Helper()
	ctx := t.Context()
	ns := catalog.Namespace{"hyg"}
	require.NoError(t, s.CreateNamespace(ctx, ns, nil, nil))
	_, err := s.CreateDataset(ctx, catalog.Dataset{Namespace: ns, Name: "t",
		Schema: catalog.Schema{Fields: []catalog.Field{{Name: "id", Type: catalog.Type{Primitive: "long"}, Required: true}}}}, nil)
	require.NoError(t, err)
	if len(props) > 0 {
		_, _, err = s.Commit(ctx, ns, "t", nil, []table.Update{table.NewSetPropertiesUpdate(props)}, nil)
		require.NoError(t, err)
	}
	tbl, err := viaService{s}.LoadTable(ctx, table.Identifier{"hyg", "t"})
	require.NoError(t, err)
	return tbl
}

// appendIDs appends ids [from, to) in one snapshot and returns the table after the commit.
func appendIDs(t testing.TB, tbl *table.Table, from, to int64) *table.Table {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Append(i)
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecord(sc, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	rdr, err := array.NewRecordReader(sc, []arrow.Record{rec})
	require.NoError(t, err)
	defer rdr.Release()
	txn := tbl.NewTransaction()
	require.NoError(t, txn.Append(t.Context(), rdr, nil))
	next, err := txn.Commit(t.Context())
	require.NoError(t, err)
	return next
}

func idRange(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// Files of expired snapshots are deleted after the commit that expires them: manifest lists,
// manifests that only they reached, and data files deleted from the table since. Every file a
// remaining snapshot reaches is still there, and the table scans as before.
func TestExpiryDeletesFilesOfExpiredSnapshots(t *testing.T) {
	s, _ := newService(t)
	tbl := plainTable(t, s, iceberg.Properties{catalog.MaxSnapshotsKey: "10", table.ManifestMinMergeCountKey: "4"})

	// ever holds every file some snapshot reached at some point.
	ever := map[string]bool{}
	var firstLists []string
	for i := range int64(12) {
		tbl = appendIDs(t, tbl, i*10, (i+1)*10)
		maps.Copy(ever, tabletest.Reachable(t, tbl.Metadata()))
		firstLists = append(firstLists, strings.TrimPrefix(tbl.CurrentSnapshot().ManifestList, "file://"))
	}
	// Delete whole files (ids 0..39 are the first four appends' files): they stay reachable
	// from older snapshots until those expire.
	txn := tbl.NewTransaction()
	require.NoError(t, txn.Delete(t.Context(), iceberg.LessThan(iceberg.Reference("id"), int64(40)), nil))
	tbl, err := txn.Commit(t.Context())
	require.NoError(t, err)
	for i := int64(12); i < 40; i++ {
		tbl = appendIDs(t, tbl, i*10, (i+1)*10)
		maps.Copy(ever, tabletest.Reachable(t, tbl.Metadata()))
	}

	md := tbl.Metadata()
	require.LessOrEqual(t, len(md.Snapshots()), 10)
	reachable := tabletest.Reachable(t, md)
	var gone, dataGone int
	for f := range ever {
		if reachable[f] {
			_, err := os.Stat(f)
			require.NoError(t, err, "a remaining snapshot reaches %s", f)
			continue
		}
		_, err := os.Stat(f)
		require.ErrorIs(t, err, os.ErrNotExist, "%s is reachable from no remaining snapshot", f)
		gone++
		if strings.HasSuffix(f, ".parquet") {
			dataGone++
		}
	}
	require.Equal(t, 4, dataGone, "the four deleted data files are gone")
	require.Greater(t, gone, 30+4)
	for _, l := range firstLists {
		require.True(t, ever[l])
		require.False(t, reachable[l], "the first snapshots expired")
	}
	// Nothing that a snapshot ever reached is left behind. (iceberg-go leaves the manifest
	// of an append's new files on disk when it merges it into a bigger one; no snapshot ever
	// lists that one, and the writer removes it after its commits.)
	for _, f := range tabletest.Files(t, md.Location()) {
		require.True(t, reachable[f] || !ever[f], "%s of an expired snapshot is still on disk", f)
	}
	require.Equal(t, idRange(40, 400), tabletest.IDs(t, tbl))
	// Time travel to the oldest remaining snapshot still reads.
	oldest := md.Snapshots()[0]
	at, err := tbl.Scan(table.WithSnapshotID(oldest.SnapshotID)).ToArrowTable(t.Context())
	require.NoError(t, err)
	at.Release()
}

// Manifest merging keeps the manifest list of a table appended to every second short.
func TestManifestMergingBoundsManifestCount(t *testing.T) {
	s, _ := newService(t)
	tbl := plainTable(t, s, nil)
	merge, _ := strconv.Atoi(tbl.Properties()[table.ManifestMinMergeCountKey])
	require.Equal(t, catalog.DefaultManifestMinMergeCount, merge)
	fsys, err := tbl.FS(t.Context())
	require.NoError(t, err)
	most := 0
	for i := range int64(300) {
		tbl = appendIDs(t, tbl, i, i+1)
		mans, err := tbl.CurrentSnapshot().Manifests(fsys)
		require.NoError(t, err)
		most = max(most, len(mans))
	}
	require.LessOrEqual(t, most, catalog.DefaultManifestMinMergeCount, "manifests in the current snapshot")
	require.Equal(t, idRange(0, 300), tabletest.IDs(t, tbl))
	require.LessOrEqual(t, len(tbl.Metadata().Snapshots()), catalog.DefaultMaxSnapshots)
}

// BenchmarkAppendCommitsWithHistory appends 2,000 one-row snapshots to a lakegate table
// (default properties: manifest merging, expiry at 200 snapshots with deletion of the expired
// snapshots' files) and reports the median commit latency of the first and the last 50
// appends, and their ratio.
func BenchmarkAppendCommitsWithHistory(b *testing.B) {
	const commits, window = 2000, 50
	for b.Loop() {
		s, err := catalog.New(catalog.Config{Warehouse: "file://" + b.TempDir()}, pgtest.Pool(b), slog.New(slog.DiscardHandler))
		require.NoError(b, err)
		tbl := plainTable(b, s, nil)
		lat := make([]time.Duration, 0, commits)
		for i := range int64(commits) {
			start := time.Now()
			tbl = appendIDs(b, tbl, i, i+1)
			lat = append(lat, time.Since(start))
		}
		med := func(d []time.Duration) time.Duration {
			d = slices.Clone(d)
			slices.Sort(d)
			return d[len(d)/2]
		}
		first, last := med(lat[:window]), med(lat[commits-window:])
		b.ReportMetric(float64(first.Microseconds())/1000, "ms/commit-first")
		b.ReportMetric(float64(last.Microseconds())/1000, "ms/commit-last")
		b.ReportMetric(float64(last)/float64(first), "ratio")
		fsys, err := tbl.FS(b.Context())
		require.NoError(b, err)
		mans, err := tbl.CurrentSnapshot().Manifests(fsys)
		require.NoError(b, err)
		b.ReportMetric(float64(len(mans)), "manifests")
	}
}

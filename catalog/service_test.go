package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/pgtest"
)

func newService(t *testing.T) (*catalog.Service, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := catalog.New(catalog.Config{Warehouse: "file://" + dir}, pgtest.Pool(t), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return s, dir
}

func events() catalog.Dataset {
	return catalog.Dataset{
		Namespace: catalog.Namespace{"iot", "plant1"}, Name: "events",
		Schema: catalog.Schema{Fields: []catalog.Field{
			{Name: "id", Type: catalog.Type{Primitive: "long"}, Required: true},
			{Name: "ts", Type: catalog.Type{Primitive: "timestamptz"}, Required: true},
			{Name: "temp", Type: catalog.Type{Primitive: "double"}},
		}},
		Partitioning: []catalog.PartitionField{{Field: "ts", Transform: "hour"}},
	}
}

func metadataFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".metadata.json") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestCreateDatasetIsAtomic(t *testing.T) {
	s, dir := newService(t)
	ctx := t.Context()
	d, err := s.CreateDataset(ctx, events(), nil)
	require.NoError(t, err)
	require.Len(t, metadataFiles(t, dir), 1)
	require.Equal(t, "iot.plant1", d.Namespace.String())

	// A hook that fails rolls everything back, including the metadata file.
	ev := events()
	ev.Name = "events2"
	boom := errors.New("boom")
	_, err = s.CreateDataset(ctx, ev, func(context.Context, pgx.Tx) error { return boom })
	require.ErrorIs(t, err, boom)
	_, err = s.GetDataset(ctx, ev.Namespace, ev.Name)
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)
	require.Len(t, metadataFiles(t, dir), 1, "the aborted create left no metadata file")

	// Already exists.
	_, err = s.CreateDataset(ctx, events(), nil)
	require.ErrorIs(t, err, catalog.ErrTableAlreadyExists)
	require.Len(t, metadataFiles(t, dir), 1)
}

// Concurrent commits on one table: each either wins the compare-and-swap or gets
// ErrCommitFailed; none is lost or applied twice.
func TestCommitCompareAndSwap(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	_, err := s.CreateDataset(ctx, events(), nil)
	require.NoError(t, err)
	ns := catalog.Namespace{"iot", "plant1"}

	const writers = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      int
		conflict int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			md, _, err := s.LoadTable(ctx, ns, "events")
			if err != nil {
				t.Error(err)
				return
			}
			key := "writer." + string(rune('a'+i))
			_, _, err = s.Commit(ctx, ns, "events",
				[]table.Requirement{table.AssertTableUUID(md.TableUUID())},
				[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{key: "1"})}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, catalog.ErrCommitFailed):
				conflict++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, writers, won+conflict)
	require.GreaterOrEqual(t, won, 1)
	md, loc, err := s.LoadTable(ctx, ns, "events")
	require.NoError(t, err)
	n := 0
	for k := range md.Properties() {
		if strings.HasPrefix(k, "writer.") {
			n++
		}
	}
	require.Equal(t, won, n, "exactly the winners' changes are in the table")
	require.Contains(t, loc, "/metadata/0000"+string(rune('0'+won))+"-")

	// A failed requirement is a commit failure too.
	_, _, err = s.Commit(ctx, ns, "events", []table.Requirement{table.AssertCurrentSchemaID(42)}, nil, nil)
	require.ErrorIs(t, err, catalog.ErrCommitFailed)
	_, _, err = s.Commit(ctx, ns, "nope", nil, nil, nil)
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)
}

func TestConfigValidate(t *testing.T) {
	for _, wh := range []string{"", "relative/path", "ftp://x/y", "s3://", "file://rel"} {
		require.Error(t, catalog.Config{Warehouse: wh}.Validate(), wh)
	}
	for _, wh := range []string{"file:///tmp/wh", "s3://bucket/prefix"} {
		require.NoError(t, catalog.Config{Warehouse: wh}.Validate(), wh)
	}
}

func TestParseNamespace(t *testing.T) {
	ns, err := catalog.ParseNamespace("sales.eu")
	require.NoError(t, err)
	require.Equal(t, catalog.Namespace{"sales", "eu"}, ns)
	// Names as Iceberg accepts them: mixed case, '-', spaces, Unicode.
	ns, err = catalog.ParseNamespace("Sales-EU.x y.données")
	require.NoError(t, err)
	require.Equal(t, catalog.Namespace{"Sales-EU", "x y", "données"}, ns)
	for _, bad := range []string{"", "sales..eu", ".x", "a.b.c.d.e.f.g.h.i", "x/y", "x*", "x\x00y", "x\x1fy", "\xff", strings.Repeat("a", 129)} {
		_, err := catalog.ParseNamespace(bad)
		var ve *catalog.ValidationError
		require.ErrorAs(t, err, &ve, bad)
	}
}

// Two lakegate processes on one database: a change made through one evicts the other's
// cached copy through Postgres notifications.
func TestDatasetCacheCoherentAcrossProcesses(t *testing.T) {
	pool := pgtest.Pool(t)
	dir := "file://" + t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	a, err := catalog.New(catalog.Config{Warehouse: dir}, pool, logger)
	require.NoError(t, err)
	b, err := catalog.New(catalog.Config{Warehouse: dir}, pool, logger)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = a.Run(ctx) }()

	ev := events()
	_, err = b.CreateDataset(ctx, ev, nil)
	require.NoError(t, err)
	d, err := a.GetDataset(ctx, ev.Namespace, ev.Name) // cached in a now
	require.NoError(t, err)
	require.Equal(t, int64(1), d.Version)

	owner := "team-z"
	_, _, err = b.UpdateDataset(ctx, ev.Namespace, ev.Name, catalog.DatasetUpdate{Owner: &owner}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		d, err := a.GetDataset(ctx, ev.Namespace, ev.Name)
		return err == nil && d.Owner == "team-z" && d.Version == 2
	}, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, b.DeleteDataset(ctx, ev.Namespace, ev.Name, false, nil))
	require.Eventually(t, func() bool {
		_, err := a.GetDataset(ctx, ev.Namespace, ev.Name)
		return errors.Is(err, catalog.ErrNoSuchTable)
	}, 5*time.Second, 10*time.Millisecond)
}

// Commits keep the history bounded: past lakegate.history.max-snapshots the oldest
// unreferenced snapshots are expired in the same commit, and the metadata log has no
// duplicates.
func TestCommitExpiresOldSnapshots(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	_, err := s.CreateDataset(ctx, events(), nil)
	require.NoError(t, err)
	ns := catalog.Namespace{"iot", "plant1"}
	base, _, err := s.Commit(ctx, ns, "events", nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{catalog.MaxSnapshotsKey: "5"})}, nil)
	require.NoError(t, err)

	var parent *int64
	for i := int64(1); i <= 12; i++ {
		snap := table.Snapshot{SnapshotID: i, ParentSnapshotID: parent, SequenceNumber: i, TimestampMs: time.Now().UnixMilli() + i,
			ManifestList: base.Location() + "/metadata/snap.avro", Summary: &table.Summary{Operation: table.OpAppend}}
		_, _, err := s.Commit(ctx, ns, "events", nil, []table.Update{
			table.NewAddSnapshotUpdate(&snap),
			table.NewSetSnapshotRefUpdate("main", i, table.BranchRef, -1, -1, -1),
		}, nil)
		require.NoError(t, err, "commit %d", i)
		id := i
		parent = &id
	}
	md, _, err := s.LoadTable(ctx, ns, "events")
	require.NoError(t, err)
	var ids []int64
	for _, sn := range md.Snapshots() {
		ids = append(ids, sn.SnapshotID)
	}
	require.Equal(t, []int64{8, 9, 10, 11, 12}, ids)
	require.Equal(t, int64(12), md.CurrentSnapshot().SnapshotID)
	seen := map[string]bool{}
	for e := range md.PreviousFiles() {
		require.False(t, seen[e.MetadataFile], "metadata log lists %s twice", e.MetadataFile)
		seen[e.MetadataFile] = true
	}
}

// A commit whose requirements still hold after a concurrent commit is retried by the server
// instead of failing: writers racing on unrelated properties all succeed.
func TestCommitRetriesLostSwaps(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	_, err := s.CreateDataset(ctx, events(), nil)
	require.NoError(t, err)
	ns := catalog.Namespace{"iot", "plant1"}
	_, _, err = s.Commit(ctx, ns, "events", nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"commit.retry.num-retries": "50"})}, nil)
	require.NoError(t, err)
	md, _, err := s.LoadTable(ctx, ns, "events")
	require.NoError(t, err)
	uuid := md.TableUUID()

	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				_, _, err := s.Commit(ctx, ns, "events", []table.Requirement{table.AssertTableUUID(uuid)},
					[]table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{fmt.Sprintf("racer%d.%d", w, i): "x"})}, nil)
				if err != nil {
					t.Errorf("writer %d commit %d: %v", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	md, _, err = s.LoadTable(ctx, ns, "events")
	require.NoError(t, err)
	n := 0
	for k := range md.Properties() {
		if strings.HasPrefix(k, "racer") {
			n++
		}
	}
	require.Equal(t, 15, n)
}

// A table whose current metadata file is gone is a MissingMetadataError naming the table and
// the file, for loads and commits alike, in a process that never cached the file.
func TestMissingMetadataFile(t *testing.T) {
	dir := t.TempDir()
	pool := pgtest.Pool(t)
	a, err := catalog.New(catalog.Config{Warehouse: "file://" + dir}, pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx := t.Context()
	d, err := a.CreateDataset(ctx, events(), nil)
	require.NoError(t, err)
	require.NoError(t, os.Remove(strings.TrimPrefix(d.MetadataLocation, "file://")))

	b, err := catalog.New(catalog.Config{Warehouse: "file://" + dir}, pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, _, err = b.LoadTable(ctx, d.Namespace, d.Name)
	var missing *catalog.MissingMetadataError
	require.ErrorAs(t, err, &missing)
	require.Equal(t, d.MetadataLocation, missing.Location)
	require.Contains(t, err.Error(), "iot.plant1.events")
	_, _, err = b.Commit(ctx, d.Namespace, d.Name, nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"a": "b"})}, nil)
	require.ErrorIs(t, err, catalog.ErrMissingMetadata)
}

package lineage_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/lineage"
)

// newStore returns a store on a fresh database holding the datasets named (namespace, name
// pairs): lineage rows reference their dataset.
func newStore(t *testing.T, datasets ...string) (*lineage.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	for i := 0; i+1 < len(datasets); i += 2 {
		ns, name := datasets[i], datasets[i+1]
		_, err := pool.Exec(t.Context(), `INSERT INTO namespaces (name, levels) VALUES ($1, string_to_array($1, '.')) ON CONFLICT DO NOTHING`, ns)
		require.NoError(t, err)
		_, err = pool.Exec(t.Context(), `INSERT INTO catalog_entries (namespace, name, kind, metadata_location) VALUES ($1, $2, 'table', 'file:///m.json')`, ns, name)
		require.NoError(t, err)
		_, err = pool.Exec(t.Context(), `INSERT INTO datasets (namespace, name, schema) VALUES ($1, $2, '{"fields":[]}')`, ns, name)
		require.NoError(t, err)
	}
	return lineage.NewStore(pool), pool
}

// inTx runs fn in a committed transaction.
func inTx(t *testing.T, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(t.Context())
}

func ptr[T any](v T) *T { return &v }

func TestWatermarkOnlyMovesForward(t *testing.T) {
	s, pool := newStore(t, "iot", "events")
	ctx := t.Context()
	wm, err := s.Watermark(ctx, "iot", "events")
	require.NoError(t, err)
	require.Zero(t, wm, "no watermark before the first commit")

	advance := func(seq uint64) uint64 {
		t.Helper()
		var got uint64
		require.NoError(t, inTx(t, pool, func(tx pgx.Tx) (err error) {
			got, err = s.AdvanceWatermark(ctx, tx, "iot", "events", seq)
			return err
		}))
		return got
	}
	require.Equal(t, uint64(10), advance(10))
	require.Equal(t, uint64(10), advance(5), "an older sequence does not move it back")
	require.Equal(t, uint64(10), advance(10))
	require.Equal(t, uint64(42), advance(42))
	wm, err = s.Watermark(ctx, "iot", "events")
	require.NoError(t, err)
	require.Equal(t, uint64(42), wm)

	// It moves only with its transaction.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	got, err := s.AdvanceWatermark(ctx, tx, "iot", "events", 100)
	require.NoError(t, err)
	require.Equal(t, uint64(100), got)
	require.NoError(t, tx.Rollback(ctx))
	wm, err = s.Watermark(ctx, "iot", "events")
	require.NoError(t, err)
	require.Equal(t, uint64(42), wm)

	err = inTx(t, pool, func(tx pgx.Tx) error {
		_, err := s.AdvanceWatermark(ctx, tx, "iot", "events", math.MaxUint64)
		return err
	})
	require.ErrorIs(t, err, lineage.ErrInvalid)
}

func TestRecordBatchesMarksCommitted(t *testing.T) {
	s, pool := newStore(t, "iot", "events", "iot", "other")
	ctx := t.Context()
	received := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pending := []lineage.BatchRecord{
		{BatchID: "b1", Namespace: "iot", Dataset: "events", Producer: "alice", ProducerRoles: []string{"producer"},
			Accepted: 10, Rejected: 1, PolicyRevision: "rev1", ReceivedAt: received},
		{BatchID: "b2", Namespace: "iot", Dataset: "events", Producer: "bob", Accepted: 5, StreamSeq: ptr(uint64(8))},
	}
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error { return s.RecordBatches(ctx, tx, pending) }))
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error {
		return s.RecordSnapshots(ctx, tx, []lineage.SnapshotRecord{{Namespace: "iot", Dataset: "events", SnapshotID: 77,
			Operation: "append", CommittedBy: lineage.CommittedByWriter, Source: lineage.SourceIngest,
			FirstSeq: ptr(uint64(7)), LastSeq: ptr(uint64(8))}})
	}))
	sl, err := s.SnapshotLineage(ctx, "iot", "events", 77)
	require.NoError(t, err)
	require.Empty(t, sl.Batches, "pending batches belong to no snapshot")

	// The writer marks them committed: only the snapshot id (and a missing stream sequence)
	// changes; what the gateway recorded stays.
	commit := []lineage.BatchRecord{
		{BatchID: "b1", Namespace: "iot", Dataset: "events", Producer: "alice", StreamSeq: ptr(uint64(7)), SnapshotID: ptr(int64(77))},
		{BatchID: "b2", Namespace: "iot", Dataset: "events", Producer: "bob", SnapshotID: ptr(int64(77))},
		// A batch the writer knows only from its message: inserted committed.
		{BatchID: "b3", Namespace: "iot", Dataset: "events", Producer: "carol", Accepted: 2, StreamSeq: ptr(uint64(9)), SnapshotID: ptr(int64(77))},
	}
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error { return s.RecordBatches(ctx, tx, commit) }))
	sl, err = s.SnapshotLineage(ctx, "iot", "events", 77)
	require.NoError(t, err)
	require.Len(t, sl.Batches, 3)
	byID := map[string]lineage.BatchRecord{}
	for _, b := range sl.Batches {
		byID[b.BatchID] = b
		require.Equal(t, int64(77), *b.SnapshotID)
		require.NotNil(t, b.CommittedAt)
	}
	b1 := byID["b1"]
	require.Equal(t, "alice", b1.Producer)
	require.Equal(t, []string{"producer"}, b1.ProducerRoles)
	require.Equal(t, int64(10), b1.Accepted)
	require.Equal(t, int64(1), b1.Rejected)
	require.Equal(t, "rev1", b1.PolicyRevision)
	require.True(t, received.Equal(b1.ReceivedAt))
	require.Equal(t, uint64(7), *b1.StreamSeq)
	require.Equal(t, uint64(8), *byID["b2"].StreamSeq, "a recorded stream sequence is kept")
	require.Equal(t, int64(2), byID["b3"].Accepted)

	// Committing a batch again in the same snapshot is a no-op; in another snapshot, or for
	// another dataset, a conflict that rolls the commit back.
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error { return s.RecordBatches(ctx, tx, commit[:1]) }))
	err = inTx(t, pool, func(tx pgx.Tx) error {
		return s.RecordBatches(ctx, tx, []lineage.BatchRecord{{BatchID: "b1", Namespace: "iot", Dataset: "events", Producer: "alice", SnapshotID: ptr(int64(78))}})
	})
	require.ErrorIs(t, err, lineage.ErrConflict)
	err = inTx(t, pool, func(tx pgx.Tx) error {
		return s.RecordBatches(ctx, tx, []lineage.BatchRecord{{BatchID: "b1", Namespace: "iot", Dataset: "other", Producer: "alice"}})
	})
	require.ErrorIs(t, err, lineage.ErrConflict)
	err = inTx(t, pool, func(tx pgx.Tx) error {
		return s.RecordBatches(ctx, tx, []lineage.BatchRecord{{BatchID: "b9", Namespace: "iot", Dataset: "events"}})
	})
	require.ErrorIs(t, err, lineage.ErrInvalid, "a batch needs a producer")

	// Lineage rows reference their dataset: an unknown one is refused by Postgres.
	err = inTx(t, pool, func(tx pgx.Tx) error {
		return s.RecordBatches(ctx, tx, []lineage.BatchRecord{{BatchID: "b10", Namespace: "iot", Dataset: "nope", Producer: "x"}})
	})
	require.Error(t, err)
}

// fixture: iot.events has two ingest snapshots (batches from alice and bob) and, newest, a
// catalog commit by carol; one batch is still pending.
func fixture(t *testing.T) *lineage.Store {
	t.Helper()
	s, pool := newStore(t, "iot", "events")
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snapshots := []lineage.SnapshotRecord{
		{Namespace: "iot", Dataset: "events", SnapshotID: 1001, SequenceNumber: 1, Operation: "append", CommittedBy: lineage.CommittedByWriter,
			Source: lineage.SourceIngest, FirstSeq: ptr(uint64(1)), LastSeq: ptr(uint64(2)), AddedRecords: ptr(int64(15)), CommittedAt: t0},
		{Namespace: "iot", Dataset: "events", SnapshotID: 1002, ParentSnapshotID: ptr(int64(1001)), SequenceNumber: 2, Operation: "append",
			CommittedBy: lineage.CommittedByWriter, Source: lineage.SourceIngest, FirstSeq: ptr(uint64(3)), LastSeq: ptr(uint64(3)), CommittedAt: t0.Add(time.Minute)},
		{Namespace: "iot", Dataset: "events", SnapshotID: 1003, ParentSnapshotID: ptr(int64(1002)), SequenceNumber: 3, Operation: "overwrite",
			CommittedBy: "carol", Source: lineage.SourceCatalog, RequestID: "req-1", AddedFiles: ptr(int64(1)), CommittedAt: t0.Add(2 * time.Minute)},
	}
	batches := []lineage.BatchRecord{
		{BatchID: "b1", Namespace: "iot", Dataset: "events", Producer: "alice", ProducerRoles: []string{"producer"}, Accepted: 10, StreamSeq: ptr(uint64(1)), SnapshotID: ptr(int64(1001))},
		{BatchID: "b2", Namespace: "iot", Dataset: "events", Producer: "bob", ProducerRoles: []string{"producer", "sensor"}, Accepted: 5, StreamSeq: ptr(uint64(2)), SnapshotID: ptr(int64(1001))},
		{BatchID: "b3", Namespace: "iot", Dataset: "events", Producer: "alice", ProducerRoles: []string{"etl"}, Accepted: 3, StreamSeq: ptr(uint64(3)), SnapshotID: ptr(int64(1002))},
		{BatchID: "b4", Namespace: "iot", Dataset: "events", Producer: "dave", Accepted: 1, StreamSeq: ptr(uint64(4))},
	}
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error {
		if err := s.RecordSnapshots(ctx, tx, snapshots); err != nil {
			return err
		}
		return s.RecordBatches(ctx, tx, batches)
	}))
	// Recording a snapshot again changes nothing.
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error { return s.RecordSnapshots(ctx, tx, snapshots[:1]) }))
	return s
}

type shape struct {
	nodes map[string]string // id → kind
	edges map[lineage.Edge]bool
}

func shapeOf(g lineage.Graph) shape {
	sh := shape{nodes: map[string]string{}, edges: map[lineage.Edge]bool{}}
	for _, n := range g.Nodes {
		sh.nodes[n.ID] = n.Kind
	}
	for _, e := range g.Edges {
		sh.edges[e] = true
	}
	return sh
}

func TestGraphDepths(t *testing.T) {
	s := fixture(t)
	ctx := t.Context()
	const ds = "dataset:iot.events"
	versionOf := []lineage.Edge{
		{From: "snapshot:1001", To: ds, Kind: lineage.EdgeVersionOf},
		{From: "snapshot:1002", To: ds, Kind: lineage.EdgeVersionOf},
		{From: "snapshot:1003", To: ds, Kind: lineage.EdgeVersionOf},
	}
	committedIn := []lineage.Edge{
		{From: "batch:b1", To: "snapshot:1001", Kind: lineage.EdgeCommittedIn},
		{From: "batch:b2", To: "snapshot:1001", Kind: lineage.EdgeCommittedIn},
		{From: "batch:b3", To: "snapshot:1002", Kind: lineage.EdgeCommittedIn},
	}
	produced := []lineage.Edge{
		{From: "producer:alice", To: "batch:b1", Kind: lineage.EdgeProduced},
		{From: "producer:bob", To: "batch:b2", Kind: lineage.EdgeProduced},
		{From: "producer:alice", To: "batch:b3", Kind: lineage.EdgeProduced},
		{From: "producer:carol", To: "snapshot:1003", Kind: lineage.EdgeCommitted},
	}
	edges := func(groups ...[]lineage.Edge) map[lineage.Edge]bool {
		m := map[lineage.Edge]bool{}
		for _, g := range groups {
			for _, e := range g {
				m[e] = true
			}
		}
		return m
	}
	snapNodes := map[string]string{ds: "dataset", "snapshot:1001": "snapshot", "snapshot:1002": "snapshot", "snapshot:1003": "snapshot"}
	batchNodes := map[string]string{"batch:b1": "batch", "batch:b2": "batch", "batch:b3": "batch"}
	prodNodes := map[string]string{"producer:alice": "producer", "producer:bob": "producer", "producer:carol": "producer"}
	union := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}

	tests := []struct {
		depth int
		want  shape
	}{
		{1, shape{snapNodes, edges(versionOf)}},
		{2, shape{union(snapNodes, batchNodes), edges(versionOf, committedIn)}},
		{3, shape{union(snapNodes, batchNodes, prodNodes), edges(versionOf, committedIn, produced)}},
		{0, shape{union(snapNodes, batchNodes, prodNodes), edges(versionOf, committedIn, produced)}}, // default 3
	}
	for _, tt := range tests {
		g, err := s.Graph(ctx, "iot", "events", tt.depth, 0)
		require.NoError(t, err)
		require.Equal(t, tt.want, shapeOf(g), "depth %d", tt.depth)
		require.Len(t, g.Nodes, len(tt.want.nodes), "depth %d: no duplicate nodes", tt.depth)
		require.False(t, g.Truncated)
		require.Equal(t, lineage.Dataset{Namespace: "iot", Name: "events"}, g.Dataset)
	}

	// Nodes carry their records; snapshots come newest first.
	g, err := s.Graph(ctx, "iot", "events", 3, 0)
	require.NoError(t, err)
	require.Equal(t, 3, g.Depth)
	require.Equal(t, "snapshot:1003", g.Nodes[1].ID)
	sn := g.Nodes[1].Attributes.(lineage.SnapshotRecord)
	require.Equal(t, lineage.SourceCatalog, sn.Source)
	require.Equal(t, "carol", sn.CommittedBy)
	require.Equal(t, "req-1", sn.RequestID)
	require.Nil(t, sn.FirstSeq)
	for _, n := range g.Nodes {
		if n.ID == "producer:alice" {
			p := n.Attributes.(lineage.Producer)
			require.Equal(t, 2, p.Batches)
			require.Equal(t, []string{"etl", "producer"}, p.Roles)
		}
	}

	// limit keeps the most recent snapshots and says that there are more.
	g, err = s.Graph(ctx, "iot", "events", 2, 1)
	require.NoError(t, err)
	require.True(t, g.Truncated)
	require.Equal(t, shape{
		nodes: map[string]string{ds: "dataset", "snapshot:1003": "snapshot"},
		edges: edges([]lineage.Edge{versionOf[2]}),
	}, shapeOf(g))
	g, err = s.Graph(ctx, "iot", "events", 2, 2)
	require.NoError(t, err)
	require.Equal(t, shape{
		nodes: map[string]string{ds: "dataset", "snapshot:1003": "snapshot", "snapshot:1002": "snapshot", "batch:b3": "batch"},
		edges: edges(versionOf[1:], committedIn[2:]),
	}, shapeOf(g))

	_, err = s.Graph(ctx, "iot", "nope", 3, 10)
	require.ErrorIs(t, err, lineage.ErrNotFound)
	_, err = s.Graph(ctx, "iot", "events", 4, 10)
	require.ErrorIs(t, err, lineage.ErrInvalid)
}

func TestGraphOfDatasetWithoutSnapshots(t *testing.T) {
	s, _ := newStore(t, "iot", "empty")
	g, err := s.Graph(t.Context(), "iot", "empty", 3, 10)
	require.NoError(t, err)
	require.Equal(t, []lineage.Node{{ID: "dataset:iot.empty", Kind: lineage.NodeDataset, Attributes: lineage.Dataset{Namespace: "iot", Name: "empty"}}}, g.Nodes)
	require.Empty(t, g.Edges)
}

func TestSnapshotLineage(t *testing.T) {
	s := fixture(t)
	ctx := t.Context()

	sl, err := s.SnapshotLineage(ctx, "iot", "events", 1001)
	require.NoError(t, err)
	require.Equal(t, int64(1001), sl.Snapshot.SnapshotID)
	require.Equal(t, lineage.SourceIngest, sl.Snapshot.Source)
	require.Equal(t, uint64(1), *sl.Snapshot.FirstSeq)
	require.Equal(t, uint64(2), *sl.Snapshot.LastSeq)
	require.Equal(t, int64(15), *sl.Snapshot.AddedRecords)
	var ids []string
	for _, b := range sl.Batches {
		ids = append(ids, b.BatchID)
	}
	require.ElementsMatch(t, []string{"b1", "b2"}, ids)
	require.Equal(t, []lineage.Producer{
		{Name: "alice", Roles: []string{"producer"}, Batches: 1},
		{Name: "bob", Roles: []string{"producer", "sensor"}, Batches: 1},
	}, sl.Producers)

	// A catalog commit has no batches; its committer is its producer.
	sl, err = s.SnapshotLineage(ctx, "iot", "events", 1003)
	require.NoError(t, err)
	require.Empty(t, sl.Batches)
	require.Equal(t, []lineage.Producer{{Name: "carol", Roles: []string{}}}, sl.Producers)
	require.Equal(t, int64(1002), *sl.Snapshot.ParentSnapshotID)
	require.Equal(t, "overwrite", sl.Snapshot.Operation)

	_, err = s.SnapshotLineage(ctx, "iot", "events", 9999)
	require.ErrorIs(t, err, lineage.ErrNotFound)
	_, err = s.SnapshotLineage(ctx, "iot", "other", 1001)
	require.ErrorIs(t, err, lineage.ErrNotFound)
}

func TestRecordSnapshotsValidates(t *testing.T) {
	s, pool := newStore(t, "iot", "events")
	ctx := t.Context()
	for _, r := range []lineage.SnapshotRecord{
		{Namespace: "iot", Dataset: "events", SnapshotID: 1, CommittedBy: "a", Source: "spark"},
		{Namespace: "iot", Dataset: "events", SnapshotID: 1, Source: lineage.SourceCatalog},
		{Namespace: "iot", Dataset: "events", SnapshotID: 1, CommittedBy: "a", Source: lineage.SourceIngest, FirstSeq: ptr(uint64(1))},
		{Namespace: "iot", Dataset: "events", SnapshotID: 1, CommittedBy: "a", Source: lineage.SourceIngest, FirstSeq: ptr(uint64(3)), LastSeq: ptr(uint64(2))},
		{Dataset: "events", SnapshotID: 1, CommittedBy: "a", Source: lineage.SourceCatalog},
	} {
		err := inTx(t, pool, func(tx pgx.Tx) error { return s.RecordSnapshots(ctx, tx, []lineage.SnapshotRecord{r}) })
		require.ErrorIs(t, err, lineage.ErrInvalid, "%+v", r)
	}
}

// Lineage follows its dataset: a rename carries it, a drop removes it.
func TestLineageFollowsDataset(t *testing.T) {
	s, pool := newStore(t, "iot", "events")
	ctx := t.Context()
	require.NoError(t, inTx(t, pool, func(tx pgx.Tx) error {
		if err := s.RecordSnapshots(ctx, tx, []lineage.SnapshotRecord{{Namespace: "iot", Dataset: "events", SnapshotID: 5,
			CommittedBy: "alice", Source: lineage.SourceCatalog}}); err != nil {
			return err
		}
		return s.RecordBatches(ctx, tx, []lineage.BatchRecord{{BatchID: "b", Namespace: "iot", Dataset: "events", Producer: "p", SnapshotID: ptr(int64(5))}})
	}))
	_, err := pool.Exec(ctx, `UPDATE catalog_entries SET name = 'renamed' WHERE namespace = 'iot' AND name = 'events'`)
	require.NoError(t, err)
	sl, err := s.SnapshotLineage(ctx, "iot", "renamed", 5)
	require.NoError(t, err)
	require.Len(t, sl.Batches, 1)

	_, err = pool.Exec(ctx, `DELETE FROM catalog_entries WHERE namespace = 'iot' AND name = 'renamed'`)
	require.NoError(t, err)
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM lineage_snapshots) + (SELECT count(*) FROM lineage_batches)`).Scan(&n))
	require.Zero(t, n)
}

package lineage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Lineage follows the path of data: producer → batch → snapshot → dataset. A producer (a
// principal) sends a batch of records to the ingest API; the streaming writer commits batches
// into a table snapshot; a snapshot is one version of a dataset. External engines committing
// through the Iceberg REST catalog make snapshots without batches: their committer is the
// snapshot's producer. Names follow OpenLineage where they fit: a dataset is a namespace and
// a name, a producer is named by its principal.

// Sources of a snapshot.
const (
	SourceIngest  = "ingest"  // committed by lakegate's streaming writer
	SourceCatalog = "catalog" // committed by an external engine through the Iceberg REST catalog
)

// CommittedByWriter is the committed_by of the snapshots the streaming writer commits.
const CommittedByWriter = "writer"

// Node kinds of a lineage graph.
const (
	NodeProducer = "producer"
	NodeBatch    = "batch"
	NodeSnapshot = "snapshot"
	NodeDataset  = "dataset"
)

// Edge kinds of a lineage graph, read from → to.
const (
	EdgeProduced    = "produced"     // producer → batch
	EdgeCommittedIn = "committed_in" // batch → snapshot
	EdgeCommitted   = "committed"    // producer → snapshot, for catalog commits (no batches)
	EdgeVersionOf   = "version_of"   // snapshot → dataset
)

// Graph depths: how far from the dataset a graph reaches.
const (
	DepthSnapshots = 1 // snapshots → dataset
	DepthBatches   = 2 // + batches → snapshots
	DepthProducers = 3 // + producers → batches (and committers → catalog snapshots)
)

// Limits of the queries.
const (
	DefaultGraphLimit = 100   // snapshots in a graph when the caller gives no limit
	MaxGraphLimit     = 1000  // most snapshots in a graph
	MaxBatches        = 10000 // most batches in a graph or a snapshot's lineage
)

var (
	// ErrNotFound is returned for an unknown dataset or snapshot.
	ErrNotFound = errors.New("lineage: not found")
	// ErrConflict is returned when a batch is already recorded for another dataset or was
	// committed in another snapshot.
	ErrConflict = errors.New("lineage: conflict")
	// ErrInvalid is returned for a record that cannot be stored.
	ErrInvalid = errors.New("lineage: invalid record")
)

// Dataset names a dataset, as OpenLineage does: a namespace and a name.
type Dataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// SnapshotRecord is one table snapshot lakegate knows about.
type SnapshotRecord struct {
	Namespace        string `json:"namespace"`
	Dataset          string `json:"dataset"`
	SnapshotID       int64  `json:"snapshot_id"`
	ParentSnapshotID *int64 `json:"parent_snapshot_id,omitempty"`
	// SequenceNumber is Iceberg's data sequence number of the snapshot (0 in format v1).
	SequenceNumber int64  `json:"sequence_number"`
	Operation      string `json:"operation"`
	// CommittedBy is the principal that committed it, or CommittedByWriter.
	CommittedBy string `json:"committed_by"`
	Source      string `json:"source"`
	// FirstSeq and LastSeq are the JetStream sequence range the snapshot covers; nil for
	// catalog commits.
	FirstSeq *uint64 `json:"first_seq,omitempty"`
	LastSeq  *uint64 `json:"last_seq,omitempty"`
	// RequestID is the audit request id of a catalog commit.
	RequestID    string `json:"request_id,omitempty"`
	AddedRecords *int64 `json:"added_records,omitempty"`
	AddedFiles   *int64 `json:"added_files,omitempty"`
	// CommittedAt is when the commit happened; zero records the transaction's time.
	CommittedAt time.Time `json:"committed_at"`
}

// BatchRecord is one ingest request batch (one JetStream message).
type BatchRecord struct {
	BatchID        string   `json:"batch_id"`
	Namespace      string   `json:"namespace"`
	Dataset        string   `json:"dataset"`
	Producer       string   `json:"producer"`
	ProducerRoles  []string `json:"producer_roles"`
	Accepted       int64    `json:"accepted"`
	Rejected       int64    `json:"rejected"`
	StreamSeq      *uint64  `json:"stream_seq,omitempty"`
	PolicyRevision string   `json:"policy_revision"`
	// ReceivedAt is when the gateway accepted the batch; zero records the transaction's time.
	ReceivedAt time.Time `json:"received_at"`
	// SnapshotID is the snapshot that committed the batch; nil while it is pending.
	SnapshotID *int64 `json:"snapshot_id,omitempty"`
	// CommittedAt is when it was committed; nil while pending, and when SnapshotID is given a
	// nil CommittedAt records the transaction's time.
	CommittedAt *time.Time `json:"committed_at,omitempty"`
}

// Producer is a principal that produced batches or committed snapshots.
type Producer struct {
	Name    string   `json:"name"`
	Roles   []string `json:"roles"`
	Batches int      `json:"batches"`
}

// Node is a node of a lineage graph. Attributes is a Dataset, a SnapshotRecord, a
// BatchRecord or a Producer, by Kind.
type Node struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Attributes any    `json:"attributes"`
}

// Edge is a directed edge of a lineage graph.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// Graph is the lineage of a dataset's most recent snapshots.
type Graph struct {
	Dataset Dataset `json:"dataset"`
	Depth   int     `json:"depth"`
	Nodes   []Node  `json:"nodes"`
	Edges   []Edge  `json:"edges"`
	// Truncated reports that the dataset has older snapshots than the graph shows, or that
	// the graph's snapshots have more than MaxBatches batches.
	Truncated bool `json:"truncated"`
}

// SnapshotLineage is what made one snapshot: its batches and their producers (for a catalog
// commit, the principal that committed it).
type SnapshotLineage struct {
	Snapshot  SnapshotRecord `json:"snapshot"`
	Batches   []BatchRecord  `json:"batches"`
	Producers []Producer     `json:"producers"`
	// Truncated reports that the snapshot has more than MaxBatches batches.
	Truncated bool `json:"truncated"`
}

// Node ids.
func datasetNodeID(ns, name string) string { return "dataset:" + ns + "." + name }
func snapshotNodeID(id int64) string       { return fmt.Sprintf("snapshot:%d", id) }
func batchNodeID(id string) string         { return "batch:" + id }
func producerNodeID(name string) string    { return "producer:" + name }

// Store records and queries lineage in Postgres. Its writes take the caller's transaction,
// so that lineage commits together with the catalog commit it describes.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a lineage store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

func seqParam(field string, v *uint64) (any, error) {
	if v == nil {
		return nil, nil
	}
	if *v > math.MaxInt64 {
		return nil, fmt.Errorf("%w: %s %d is out of range", ErrInvalid, field, *v)
	}
	return int64(*v), nil
}

func seqValue(v *int64) *uint64 {
	if v == nil {
		return nil
	}
	u := uint64(*v)
	return &u
}

func timeParam(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (r SnapshotRecord) validate() error {
	switch {
	case r.Namespace == "" || r.Dataset == "":
		return fmt.Errorf("%w: snapshot %d names no dataset", ErrInvalid, r.SnapshotID)
	case r.Source != SourceIngest && r.Source != SourceCatalog:
		return fmt.Errorf("%w: snapshot %d: source %q is not %q or %q", ErrInvalid, r.SnapshotID, r.Source, SourceIngest, SourceCatalog)
	case r.CommittedBy == "":
		return fmt.Errorf("%w: snapshot %d: committed_by is empty", ErrInvalid, r.SnapshotID)
	case (r.FirstSeq == nil) != (r.LastSeq == nil):
		return fmt.Errorf("%w: snapshot %d: first_seq and last_seq go together", ErrInvalid, r.SnapshotID)
	case r.FirstSeq != nil && *r.FirstSeq > *r.LastSeq:
		return fmt.Errorf("%w: snapshot %d: first_seq %d is after last_seq %d", ErrInvalid, r.SnapshotID, *r.FirstSeq, *r.LastSeq)
	}
	return nil
}

const insertSnapshotSQL = `INSERT INTO lineage_snapshots (namespace, dataset, snapshot_id, parent_snapshot_id, sequence_number,
	operation, committed_by, source, first_seq, last_seq, request_id, added_records, added_files, committed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, COALESCE($14::timestamptz, now()))
	ON CONFLICT (namespace, dataset, snapshot_id) DO NOTHING`

// RecordSnapshots records snapshots inside tx. A snapshot already recorded is left as it is.
func (s *Store) RecordSnapshots(ctx context.Context, tx pgx.Tx, recs []SnapshotRecord) error {
	if len(recs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range recs {
		if err := r.validate(); err != nil {
			return err
		}
		first, err := seqParam("first_seq", r.FirstSeq)
		if err != nil {
			return err
		}
		last, err := seqParam("last_seq", r.LastSeq)
		if err != nil {
			return err
		}
		b.Queue(insertSnapshotSQL, r.Namespace, r.Dataset, r.SnapshotID, r.ParentSnapshotID, r.SequenceNumber,
			r.Operation, r.CommittedBy, r.Source, first, last, r.RequestID, r.AddedRecords, r.AddedFiles, timeParam(r.CommittedAt))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("lineage: record snapshots: %w", err)
	}
	return nil
}

// upsertBatchSQL inserts a batch, or marks an existing one committed. A batch keeps the
// first snapshot that committed it; the row comes back only when it belongs to the dataset.
const upsertBatchSQL = `INSERT INTO lineage_batches (batch_id, namespace, dataset, producer, producer_roles, accepted, rejected,
	stream_seq, policy_revision, received_at, snapshot_id, committed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, COALESCE($10::timestamptz, now()), $11::bigint,
		CASE WHEN $11::bigint IS NULL THEN NULL ELSE COALESCE($12::timestamptz, now()) END)
	ON CONFLICT (batch_id) DO UPDATE SET
		snapshot_id = COALESCE(lineage_batches.snapshot_id, EXCLUDED.snapshot_id),
		committed_at = COALESCE(lineage_batches.committed_at, EXCLUDED.committed_at),
		stream_seq = COALESCE(lineage_batches.stream_seq, EXCLUDED.stream_seq)
	WHERE lineage_batches.namespace = EXCLUDED.namespace AND lineage_batches.dataset = EXCLUDED.dataset
	RETURNING snapshot_id`

// RecordBatches records batches inside tx: a new batch is inserted; a batch already recorded
// is marked committed when its record carries a snapshot id. A batch recorded for another
// dataset, or already committed in another snapshot, is ErrConflict.
func (s *Store) RecordBatches(ctx context.Context, tx pgx.Tx, recs []BatchRecord) error {
	if len(recs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range recs {
		if r.BatchID == "" || r.Namespace == "" || r.Dataset == "" || r.Producer == "" {
			return fmt.Errorf("%w: batch %q needs an id, a dataset and a producer", ErrInvalid, r.BatchID)
		}
		if r.Accepted < 0 || r.Rejected < 0 {
			return fmt.Errorf("%w: batch %q: negative counts", ErrInvalid, r.BatchID)
		}
		seq, err := seqParam("stream_seq", r.StreamSeq)
		if err != nil {
			return err
		}
		roles := r.ProducerRoles
		if roles == nil {
			roles = []string{}
		}
		var committedAt any
		if r.CommittedAt != nil {
			committedAt = *r.CommittedAt
		}
		b.Queue(upsertBatchSQL, r.BatchID, r.Namespace, r.Dataset, r.Producer, roles, r.Accepted, r.Rejected,
			seq, r.PolicyRevision, timeParam(r.ReceivedAt), r.SnapshotID, committedAt)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for _, r := range recs {
		var stored *int64
		err := br.QueryRow().Scan(&stored)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: batch %q is recorded for another dataset than %s.%s", ErrConflict, r.BatchID, r.Namespace, r.Dataset)
		case err != nil:
			return fmt.Errorf("lineage: record batch %q: %w", r.BatchID, err)
		case r.SnapshotID != nil && stored != nil && *stored != *r.SnapshotID:
			return fmt.Errorf("%w: batch %q was committed in snapshot %d already", ErrConflict, r.BatchID, *stored)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("lineage: record batches: %w", err)
	}
	return nil
}

// AdvanceWatermark moves the dataset's stream watermark to seq inside tx, never backwards,
// and returns the watermark stored.
func (s *Store) AdvanceWatermark(ctx context.Context, tx pgx.Tx, ns, dataset string, seq uint64) (uint64, error) {
	if ns == "" || dataset == "" {
		return 0, fmt.Errorf("%w: watermark names no dataset", ErrInvalid)
	}
	v, err := seqParam("watermark", &seq)
	if err != nil {
		return 0, err
	}
	var stored int64
	err = tx.QueryRow(ctx, `INSERT INTO stream_watermarks (namespace, dataset, last_seq) VALUES ($1, $2, $3)
		ON CONFLICT (namespace, dataset) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = now()
			WHERE stream_watermarks.last_seq < EXCLUDED.last_seq
		RETURNING last_seq`, ns, dataset, v).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		// Not advanced: the stored watermark is at or beyond seq.
		err = tx.QueryRow(ctx, `SELECT last_seq FROM stream_watermarks WHERE namespace = $1 AND dataset = $2`, ns, dataset).Scan(&stored)
	}
	if err != nil {
		return 0, fmt.Errorf("lineage: advance watermark of %s.%s: %w", ns, dataset, err)
	}
	return uint64(stored), nil
}

// Watermark returns the dataset's stream watermark, 0 when nothing was committed from the
// stream.
func (s *Store) Watermark(ctx context.Context, ns, dataset string) (uint64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT last_seq FROM stream_watermarks WHERE namespace = $1 AND dataset = $2`, ns, dataset).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("lineage: watermark of %s.%s: %w", ns, dataset, err)
	}
	return uint64(v), nil
}

const snapshotColumns = `namespace, dataset, snapshot_id, parent_snapshot_id, sequence_number, operation, committed_by, source,
	first_seq, last_seq, request_id, added_records, added_files, committed_at`

func scanSnapshot(row pgx.Row) (SnapshotRecord, error) {
	var (
		r           SnapshotRecord
		first, last *int64
	)
	err := row.Scan(&r.Namespace, &r.Dataset, &r.SnapshotID, &r.ParentSnapshotID, &r.SequenceNumber, &r.Operation,
		&r.CommittedBy, &r.Source, &first, &last, &r.RequestID, &r.AddedRecords, &r.AddedFiles, &r.CommittedAt)
	r.FirstSeq, r.LastSeq = seqValue(first), seqValue(last)
	return r, err
}

const batchColumns = `batch_id, namespace, dataset, producer, producer_roles, accepted, rejected, stream_seq, policy_revision,
	received_at, snapshot_id, committed_at`

func scanBatch(row pgx.Row) (BatchRecord, error) {
	var (
		r   BatchRecord
		seq *int64
	)
	err := row.Scan(&r.BatchID, &r.Namespace, &r.Dataset, &r.Producer, &r.ProducerRoles, &r.Accepted, &r.Rejected, &seq,
		&r.PolicyRevision, &r.ReceivedAt, &r.SnapshotID, &r.CommittedAt)
	r.StreamSeq = seqValue(seq)
	return r, err
}

// readTx runs fn in a read-only repeatable-read transaction: one consistent view of lineage.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("lineage: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// batchesOf returns the batches committed in the given snapshots of a dataset, at most
// MaxBatches, and whether there were more.
func batchesOf(ctx context.Context, tx pgx.Tx, ns, dataset string, snapshotIDs []int64) ([]BatchRecord, bool, error) {
	rows, err := tx.Query(ctx, `SELECT `+batchColumns+` FROM lineage_batches
		WHERE namespace = $1 AND dataset = $2 AND snapshot_id = ANY($3)
		ORDER BY received_at, batch_id LIMIT $4`, ns, dataset, snapshotIDs, MaxBatches+1)
	if err != nil {
		return nil, false, fmt.Errorf("lineage: query batches: %w", err)
	}
	batches, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BatchRecord, error) { return scanBatch(row) })
	if err != nil {
		return nil, false, fmt.Errorf("lineage: query batches: %w", err)
	}
	if len(batches) > MaxBatches {
		return batches[:MaxBatches], true, nil
	}
	return batches, false, nil
}

// producers collects the producers of batches and the committers of catalog snapshots, by
// name.
func producers(batches []BatchRecord, snapshots []SnapshotRecord) []Producer {
	byName := map[string]*Producer{}
	get := func(name string) *Producer {
		p := byName[name]
		if p == nil {
			p = &Producer{Name: name, Roles: []string{}}
			byName[name] = p
		}
		return p
	}
	for _, b := range batches {
		p := get(b.Producer)
		p.Batches++
		for _, role := range b.ProducerRoles {
			if !slices.Contains(p.Roles, role) {
				p.Roles = append(p.Roles, role)
			}
		}
	}
	for _, sn := range snapshots {
		if sn.Source == SourceCatalog {
			get(sn.CommittedBy)
		}
	}
	out := make([]Producer, 0, len(byName))
	for _, p := range byName {
		slices.Sort(p.Roles)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Producer) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func datasetExists(ctx context.Context, tx pgx.Tx, ns, name string) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM datasets WHERE namespace = $1 AND name = $2)`, ns, name).Scan(&ok); err != nil {
		return fmt.Errorf("lineage: look up dataset %s.%s: %w", ns, name, err)
	}
	if !ok {
		return fmt.Errorf("%w: dataset %s.%s", ErrNotFound, ns, name)
	}
	return nil
}

// Graph returns the lineage of the dataset's most recent limit snapshots (newest first),
// reaching depth steps from the dataset: DepthSnapshots, DepthBatches or DepthProducers (the
// default, for depth 0). limit 0 is DefaultGraphLimit. An unknown dataset is ErrNotFound.
func (s *Store) Graph(ctx context.Context, ns, name string, depth, limit int) (Graph, error) {
	if depth == 0 {
		depth = DepthProducers
	}
	if depth < DepthSnapshots || depth > DepthProducers {
		return Graph{}, fmt.Errorf("%w: depth %d is not from %d to %d", ErrInvalid, depth, DepthSnapshots, DepthProducers)
	}
	if limit == 0 {
		limit = DefaultGraphLimit
	}
	if limit < 1 || limit > MaxGraphLimit {
		return Graph{}, fmt.Errorf("%w: limit %d is not from 1 to %d", ErrInvalid, limit, MaxGraphLimit)
	}
	g := Graph{Dataset: Dataset{Namespace: ns, Name: name}, Depth: depth, Nodes: []Node{}, Edges: []Edge{}}
	var (
		snapshots []SnapshotRecord
		batches   []BatchRecord
	)
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := datasetExists(ctx, tx, ns, name); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+snapshotColumns+` FROM lineage_snapshots WHERE namespace = $1 AND dataset = $2
			ORDER BY committed_at DESC, sequence_number DESC, snapshot_id DESC LIMIT $3`, ns, name, limit+1)
		if err != nil {
			return fmt.Errorf("lineage: query snapshots: %w", err)
		}
		if snapshots, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (SnapshotRecord, error) { return scanSnapshot(row) }); err != nil {
			return fmt.Errorf("lineage: query snapshots: %w", err)
		}
		if len(snapshots) > limit {
			snapshots, g.Truncated = snapshots[:limit], true
		}
		if depth < DepthBatches || len(snapshots) == 0 {
			return nil
		}
		ids := make([]int64, len(snapshots))
		for i, sn := range snapshots {
			ids[i] = sn.SnapshotID
		}
		var more bool
		batches, more, err = batchesOf(ctx, tx, ns, name, ids)
		g.Truncated = g.Truncated || more
		return err
	})
	if err != nil {
		return Graph{}, err
	}

	dsID := datasetNodeID(ns, name)
	g.Nodes = append(g.Nodes, Node{ID: dsID, Kind: NodeDataset, Attributes: g.Dataset})
	for _, sn := range snapshots {
		id := snapshotNodeID(sn.SnapshotID)
		g.Nodes = append(g.Nodes, Node{ID: id, Kind: NodeSnapshot, Attributes: sn})
		g.Edges = append(g.Edges, Edge{From: id, To: dsID, Kind: EdgeVersionOf})
	}
	for _, b := range batches {
		id := batchNodeID(b.BatchID)
		g.Nodes = append(g.Nodes, Node{ID: id, Kind: NodeBatch, Attributes: b})
		g.Edges = append(g.Edges, Edge{From: id, To: snapshotNodeID(*b.SnapshotID), Kind: EdgeCommittedIn})
	}
	if depth < DepthProducers {
		return g, nil
	}
	for _, p := range producers(batches, snapshots) {
		g.Nodes = append(g.Nodes, Node{ID: producerNodeID(p.Name), Kind: NodeProducer, Attributes: p})
	}
	for _, b := range batches {
		g.Edges = append(g.Edges, Edge{From: producerNodeID(b.Producer), To: batchNodeID(b.BatchID), Kind: EdgeProduced})
	}
	for _, sn := range snapshots {
		if sn.Source == SourceCatalog {
			g.Edges = append(g.Edges, Edge{From: producerNodeID(sn.CommittedBy), To: snapshotNodeID(sn.SnapshotID), Kind: EdgeCommitted})
		}
	}
	return g, nil
}

// SnapshotLineage returns what made one snapshot of a dataset: the snapshot, the batches it
// committed and their producers. An unknown snapshot is ErrNotFound.
func (s *Store) SnapshotLineage(ctx context.Context, ns, dataset string, snapshotID int64) (SnapshotLineage, error) {
	var out SnapshotLineage
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		sn, err := scanSnapshot(tx.QueryRow(ctx, `SELECT `+snapshotColumns+` FROM lineage_snapshots
			WHERE namespace = $1 AND dataset = $2 AND snapshot_id = $3`, ns, dataset, snapshotID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: snapshot %d of %s.%s", ErrNotFound, snapshotID, ns, dataset)
		}
		if err != nil {
			return fmt.Errorf("lineage: query snapshot: %w", err)
		}
		out.Snapshot = sn
		out.Batches, out.Truncated, err = batchesOf(ctx, tx, ns, dataset, []int64{snapshotID})
		return err
	})
	if err != nil {
		return SnapshotLineage{}, err
	}
	out.Producers = producers(out.Batches, []SnapshotRecord{out.Snapshot})
	return out, nil
}

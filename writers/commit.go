package writers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/envelope"
	"github.com/lakegate/lakegate/lineage"
)

// Catalog is the part of the catalog the writer commits through.
type Catalog interface {
	LoadTable(ctx context.Context, ns catalog.Namespace, name string) (table.Metadata, string, error)
	CommitTables(ctx context.Context, changes []catalog.TableChange, hook catalog.TxHook) ([]catalog.Committed, error)
	EnsureQuarantineTable(ctx context.Context, ns catalog.Namespace, name string) error
	IOProperties() iceberg.Properties
}

// Lineage records what the writer commits, inside the commit transaction.
type Lineage interface {
	CommittedBatches(ctx context.Context, batchIDs []string) (map[string]int64, error)
	RecordBatches(ctx context.Context, tx pgx.Tx, recs []lineage.BatchRecord) error
	RecordSnapshots(ctx context.Context, tx pgx.Tx, recs []lineage.SnapshotRecord) error
	AdvanceWatermark(ctx context.Context, tx pgx.Tx, ns, dataset string, seq uint64) (uint64, error)
}

// errPermanent marks a failure that no retry will fix (the dataset is gone, the message is
// not ours): its messages are terminated rather than redelivered forever.
var errPermanent = errors.New("permanent")

func acceptedOf(m jetstream.Msg) int {
	n, _ := strconv.Atoi(m.Headers().Get(envelope.HeaderAccepted))
	return n
}

// item is one message of a micro-batch.
type item struct {
	msg  jetstream.Msg
	meta envelope.Meta
	seq  uint64
}

// process commits the gathered messages, one snapshot per dataset, and acknowledges them.
func (w *Writer) process(ctx context.Context, msgs []jetstream.Msg) {
	var order []string
	groups := map[string][]jetstream.Msg{}
	for _, m := range msgs {
		if _, ok := groups[m.Subject()]; !ok {
			order = append(order, m.Subject())
		}
		groups[m.Subject()] = append(groups[m.Subject()], m)
	}
	for _, subj := range order {
		group := groups[subj]
		for attempt := 0; ; attempt++ {
			err := w.commitGroup(ctx, subj, group)
			if err == nil {
				break
			}
			if errors.Is(err, errPermanent) {
				w.log.Error("batches cannot be committed; terminating their messages", "subject", subj, "messages", len(group), "err", err)
				w.metrics.dropped.Add(float64(len(group)))
				for _, m := range group {
					_ = m.Term()
				}
				break
			}
			if ctx.Err() != nil {
				return // unacknowledged: redelivered after a restart
			}
			w.metrics.commitRetries.Inc()
			w.log.Warn("commit failed; retrying", "subject", subj, "attempt", attempt+1, "err", err)
			for _, m := range group {
				_ = m.InProgress()
			}
			sleep(ctx, min(time.Duration(1<<min(attempt, 5))*100*time.Millisecond, 5*time.Second))
		}
	}
}

// commitGroup commits one dataset's messages as one snapshot and acknowledges them.
func (w *Writer) commitGroup(ctx context.Context, subject string, msgs []jetstream.Msg) error {
	ns, name, err := w.datasetOf(subject)
	if err != nil {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	items := make([]item, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		meta, err := envelope.MetaFromHeaders(m.Headers().Get)
		if err != nil {
			w.log.Error("message without batch headers; terminated", "subject", subject, "err", err)
			_ = m.Term()
			continue
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		if md.NumDelivered > 1 {
			w.metrics.redelivered.Inc()
		}
		items = append(items, item{msg: m, meta: meta, seq: md.Sequence.Stream})
		ids = append(ids, meta.BatchID)
	}
	// Exactly once: batches whose id the lineage already holds were committed before a crash
	// or a redelivery; acknowledge them without writing again.
	done, err := w.deps.Lineage.CommittedBatches(ctx, ids)
	if err != nil {
		return err
	}
	var (
		pending []item
		dupes   []item // the same batch twice in this micro-batch: a producer's retry
		seen    = map[string]bool{}
	)
	for _, it := range items {
		if _, ok := done[it.meta.BatchID]; ok {
			w.metrics.skipped.Inc()
			_ = it.msg.Ack()
			continue
		}
		if seen[it.meta.BatchID] {
			dupes = append(dupes, it)
			continue
		}
		seen[it.meta.BatchID] = true
		pending = append(pending, it)
	}
	if len(pending) == 0 {
		return nil
	}
	slices.SortFunc(pending, func(a, b item) int { return int(a.seq) - int(b.seq) })

	records, pending := w.decode(pending)
	defer records.release()
	if len(pending) == 0 {
		return nil
	}

	start := time.Now()
	snap, qsnap, err := w.appendAndCommit(ctx, ns, name, pending, records)
	if err != nil {
		if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
			return fmt.Errorf("%w: %w", errPermanent, err)
		}
		return err
	}
	w.metrics.commitLatency.Observe(time.Since(start).Seconds())
	for _, it := range dupes {
		w.metrics.skipped.Inc()
		_ = it.msg.Ack()
	}
	now := time.Now()
	for _, it := range pending {
		if err := it.msg.Ack(); err != nil {
			w.log.Warn("ack after commit failed; the redelivery will be skipped", "batch_id", it.meta.BatchID, "err", err)
		}
		w.metrics.freshness.Observe(now.Sub(it.meta.ReceivedAt).Seconds())
	}
	w.metrics.records.Add(float64(countRows(records.accepted)))
	w.metrics.quarantined.Add(float64(countRows(records.rejected)))
	for _, c := range []struct {
		name string
		snap *table.Snapshot
	}{{name, snap}, {catalog.QuarantineTableName(name), qsnap}} {
		if c.snap != nil {
			w.log.Debug("committed micro-batch", "table", ns.String()+"."+c.name, "batches", len(pending), "snapshot_id", c.snap.SnapshotID)
			w.dirty.add(ns, c.name)
			w.removeMergeLeftovers(ctx, c.snap)
		}
	}
	return nil
}

// decoded are a micro-batch's records: the accepted ones for the dataset's table and the
// rejected ones for its quarantine table.
type decoded struct {
	accepted, rejected []arrow.Record
}

func (d decoded) release() {
	for _, r := range append(d.accepted, d.rejected...) {
		r.Release()
	}
}

// decode authenticates and decodes the payloads. A payload that fails is not a lakegate
// batch: its message is terminated and the others go on.
func (w *Writer) decode(items []item) (decoded, []item) {
	var (
		d    decoded
		kept []item
	)
	for _, it := range items {
		acc, rej, err := envelope.Decode(w.deps.Key, it.msg.Data(), memory.DefaultAllocator)
		if err != nil {
			w.log.Error("message is not a valid lakegate batch; terminated", "batch_id", it.meta.BatchID, "err", err)
			w.metrics.dropped.Inc()
			_ = it.msg.Term()
			continue
		}
		if acc != nil {
			d.accepted = append(d.accepted, acc)
		}
		if rej != nil {
			d.rejected = append(d.rejected, rej)
		}
		kept = append(kept, it)
	}
	return d, kept
}

func countRows(recs []arrow.Record) int64 {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	return n
}

// appendAndCommit writes the accepted records as Parquet data files of the dataset's table,
// and the rejected ones into its quarantine table (created on first need), with iceberg-go,
// and commits both snapshots through the catalog in one transaction that also records the
// lineage and advances the watermark. It returns the new snapshots (nil for a table that got
// no records).
func (w *Writer) appendAndCommit(ctx context.Context, ns catalog.Namespace, name string, items []item, records decoded) (snap, qsnap *table.Snapshot, err error) {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	props := summaryProps(items)
	data, snap, err := w.prepareAppend(ctx, ns, name, records.accepted, props)
	if err != nil {
		return nil, nil, err
	}
	changes := []catalog.TableChange{data}
	if len(records.rejected) > 0 {
		if err := w.deps.Catalog.EnsureQuarantineTable(ctx, ns, name); err != nil {
			return nil, nil, fmt.Errorf("writers: quarantine table of %s.%s: %w", ns, name, err)
		}
		var q catalog.TableChange
		if q, qsnap, err = w.prepareAppend(ctx, ns, catalog.QuarantineTableName(name), records.rejected, props); err != nil {
			return nil, nil, err
		}
		changes = append(changes, q)
	}
	hook := func(ctx context.Context, tx pgx.Tx) error {
		return w.recordLineage(ctx, tx, ns, name, items, snap, qsnap)
	}
	if _, err := w.deps.Catalog.CommitTables(ctx, changes, hook); err != nil {
		if !errors.Is(err, catalog.ErrCommitStateUnknown) {
			// Not committed: the retry writes the batch anew, so these files would be orphans.
			w.discardStaged(ctx, snap, qsnap)
		}
		return nil, nil, err
	}
	return snap, qsnap, nil
}

// prepareAppend writes records into table ns.name's files and returns the change that
// commits them (nil snapshot when there are no records), without committing it.
func (w *Writer) prepareAppend(ctx context.Context, ns catalog.Namespace, name string, records []arrow.Record, props iceberg.Properties) (catalog.TableChange, *table.Snapshot, error) {
	md, loc, err := w.deps.Catalog.LoadTable(ctx, ns, name)
	if err != nil {
		return catalog.TableChange{}, nil, err
	}
	cio := &capture{}
	txn := w.table(ns, name, md, loc, cio).NewTransaction()
	if len(records) > 0 {
		rdr, err := array.NewRecordReader(records[0].Schema(), records)
		if err != nil {
			return catalog.TableChange{}, nil, fmt.Errorf("%w: batches of %s.%s disagree on their schema: %w", errPermanent, ns, name, err)
		}
		err = txn.Append(ctx, rdr, props)
		rdr.Release()
		if err != nil {
			return catalog.TableChange{}, nil, fmt.Errorf("writers: append to %s.%s: %w", ns, name, err)
		}
	}
	if _, err := txn.Commit(ctx); !errors.Is(err, errCaptured) {
		if err == nil {
			err = errors.New("iceberg-go committed without the catalog")
		}
		return catalog.TableChange{}, nil, fmt.Errorf("writers: prepare commit of %s.%s: %w", ns, name, err)
	}
	snap := addedSnapshot(cio.updates)
	// iceberg-go writes nothing for columns whose field ids do not match the table's: never
	// acknowledge records that did not make it into the snapshot.
	if want := countRows(records); want > 0 && (snap == nil || snap.Summary == nil || snap.Summary.Properties["added-records"] != strconv.FormatInt(want, 10)) {
		return catalog.TableChange{}, nil, fmt.Errorf("writers: append to %s.%s wrote a snapshot without the batch's %d records", ns, name, want)
	}
	return catalog.TableChange{Namespace: ns, Name: name, Requirements: cio.reqs, Updates: cio.updates}, snap, nil
}

// summaryProps are the snapshot summary properties that tie a snapshot to its batches.
func summaryProps(items []item) iceberg.Properties {
	var ids, producers, revisions []string
	accepted, rejected := 0, 0
	for _, it := range items {
		ids = append(ids, it.meta.BatchID)
		producers = append(producers, it.meta.Producer)
		revisions = append(revisions, it.meta.PolicyRevision)
		accepted += it.meta.Accepted
		rejected += it.meta.Rejected
	}
	slices.Sort(producers)
	slices.Sort(revisions)
	return iceberg.Properties{
		"lakegate.batch-ids":        strings.Join(ids, ","),
		"lakegate.stream-seq-first": strconv.FormatUint(items[0].seq, 10),
		"lakegate.stream-seq-last":  strconv.FormatUint(items[len(items)-1].seq, 10),
		"lakegate.producers":        strings.Join(slices.Compact(producers), ","),
		"lakegate.policy-revisions": strings.Join(slices.Compact(revisions), ","),
		"lakegate.accepted":         strconv.Itoa(accepted),
		"lakegate.rejected":         strconv.Itoa(rejected),
	}
}

func (w *Writer) recordLineage(ctx context.Context, tx pgx.Tx, ns catalog.Namespace, name string, items []item, snap, qsnap *table.Snapshot) error {
	first, last := items[0].seq, items[len(items)-1].seq
	var (
		snapID *int64
		snaps  []lineage.SnapshotRecord
	)
	if snap != nil {
		snapID = &snap.SnapshotID
		snaps = append(snaps, ingestSnapshot(ns, name, snap, first, last))
	}
	if qsnap != nil {
		snaps = append(snaps, ingestSnapshot(ns, catalog.QuarantineTableName(name), qsnap, first, last))
	}
	if len(snaps) > 0 {
		if err := w.deps.Lineage.RecordSnapshots(ctx, tx, snaps); err != nil {
			return err
		}
	}
	batches := make([]lineage.BatchRecord, len(items))
	for i, it := range items {
		seq := it.seq
		batches[i] = lineage.BatchRecord{BatchID: it.meta.BatchID, Namespace: ns.String(), Dataset: name, Producer: it.meta.Producer, ProducerRoles: it.meta.ProducerRoles,
			Accepted: int64(it.meta.Accepted), Rejected: int64(it.meta.Rejected), StreamSeq: &seq, PolicyRevision: it.meta.PolicyRevision,
			ReceivedAt: it.meta.ReceivedAt, SnapshotID: snapID}
	}
	if err := w.deps.Lineage.RecordBatches(ctx, tx, batches); err != nil {
		return err
	}
	_, err := w.deps.Lineage.AdvanceWatermark(ctx, tx, ns.String(), name, last)
	return err
}

// ingestSnapshot is the lineage record of a snapshot the writer committed to ns.name.
func ingestSnapshot(ns catalog.Namespace, name string, snap *table.Snapshot, first, last uint64) lineage.SnapshotRecord {
	rec := lineage.SnapshotRecord{Namespace: ns.String(), Dataset: name, SnapshotID: snap.SnapshotID, ParentSnapshotID: snap.ParentSnapshotID,
		SequenceNumber: snap.SequenceNumber, Operation: string(table.OpAppend), CommittedBy: lineage.CommittedByWriter,
		Source: lineage.SourceIngest, FirstSeq: &first, LastSeq: &last}
	if snap.Summary != nil {
		if n, err := strconv.ParseInt(snap.Summary.Properties["added-records"], 10, 64); err == nil {
			rec.AddedRecords = &n
		}
		if n, err := strconv.ParseInt(snap.Summary.Properties["added-data-files"], 10, 64); err == nil {
			rec.AddedFiles = &n
		}
	}
	return rec
}

// errCaptured stops iceberg-go's own commit: the writer commits the captured change itself,
// through the catalog's commit function and with its lineage rows in the same transaction.
var errCaptured = errors.New("commit captured by the writer")

// capture is the table.CatalogIO handed to iceberg-go: it records the requirements and
// updates iceberg-go would commit instead of committing them.
type capture struct {
	reqs    []table.Requirement
	updates []table.Update
}

func (c *capture) LoadTable(context.Context, table.Identifier) (*table.Table, error) {
	return nil, errors.New("writers: the capturing catalog loads no tables")
}

func (c *capture) CommitTable(_ context.Context, _ table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	c.reqs, c.updates = reqs, updates
	return nil, "", errCaptured
}

// addedSnapshot returns the snapshot an add-snapshot update carries, if any.
func addedSnapshot(updates []table.Update) *table.Snapshot {
	for _, u := range updates {
		if u.Action() != table.UpdateAddSnapshot {
			continue
		}
		b, err := json.Marshal(u)
		if err != nil {
			continue
		}
		var wire struct {
			Snapshot *table.Snapshot `json:"snapshot"`
		}
		if json.Unmarshal(b, &wire) == nil && wire.Snapshot != nil {
			return wire.Snapshot
		}
	}
	return nil
}

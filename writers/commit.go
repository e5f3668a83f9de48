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

	records, pending, release := w.decode(pending)
	defer release()
	if len(pending) == 0 {
		return nil
	}

	start := time.Now()
	snap, err := w.appendAndCommit(ctx, ns, name, pending, records)
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
	w.metrics.records.Add(float64(countRows(records)))
	if snap != nil {
		w.log.Debug("committed micro-batch", "dataset", ns.String()+"."+name, "batches", len(pending), "snapshot_id", snap.SnapshotID)
		w.dirty.add(ns, name)
		w.removeMergeLeftovers(ctx, snap)
	}
	return nil
}

// decode authenticates and decodes the payloads. A payload that fails is not a lakegate
// batch: its message is terminated and the others go on.
func (w *Writer) decode(items []item) ([]arrow.Record, []item, func()) {
	var (
		recs []arrow.Record
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
		if rej != nil {
			rej.Release() // the quarantine table is written by a later step of the writer
		}
		if acc != nil {
			recs = append(recs, acc)
		}
		kept = append(kept, it)
	}
	return recs, kept, func() {
		for _, r := range recs {
			r.Release()
		}
	}
}

func countRows(recs []arrow.Record) int64 {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	return n
}

// appendAndCommit writes the records as Parquet data files with iceberg-go and commits the
// snapshot through the catalog, recording lineage and the watermark in the same transaction.
func (w *Writer) appendAndCommit(ctx context.Context, ns catalog.Namespace, name string, items []item, records []arrow.Record) (*table.Snapshot, error) {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	md, loc, err := w.deps.Catalog.LoadTable(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	cio := &capture{}
	tbl := w.table(ns, name, md, loc, cio)

	props := summaryProps(items)
	txn := tbl.NewTransaction()
	if len(records) > 0 {
		rdr, err := array.NewRecordReader(records[0].Schema(), records)
		if err != nil {
			return nil, fmt.Errorf("%w: batches of %s.%s disagree on their schema: %w", errPermanent, ns, name, err)
		}
		err = txn.Append(ctx, rdr, props)
		rdr.Release()
		if err != nil {
			return nil, fmt.Errorf("writers: append to %s.%s: %w", ns, name, err)
		}
	}
	if _, err := txn.Commit(ctx); !errors.Is(err, errCaptured) {
		if err == nil {
			err = errors.New("iceberg-go committed without the catalog")
		}
		return nil, fmt.Errorf("writers: prepare commit of %s.%s: %w", ns, name, err)
	}

	snap := addedSnapshot(cio.updates)
	hook := func(ctx context.Context, tx pgx.Tx) error {
		return w.recordLineage(ctx, tx, ns, name, items, snap)
	}
	if _, err := w.deps.Catalog.CommitTables(ctx, []catalog.TableChange{{Namespace: ns, Name: name, Requirements: cio.reqs, Updates: cio.updates}}, hook); err != nil {
		return nil, err
	}
	return snap, nil
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

func (w *Writer) recordLineage(ctx context.Context, tx pgx.Tx, ns catalog.Namespace, name string, items []item, snap *table.Snapshot) error {
	first, last := items[0].seq, items[len(items)-1].seq
	var snapID *int64
	if snap != nil {
		id := snap.SnapshotID
		snapID = &id
		rec := lineage.SnapshotRecord{Namespace: ns.String(), Dataset: name, SnapshotID: id, ParentSnapshotID: snap.ParentSnapshotID,
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
		if err := w.deps.Lineage.RecordSnapshots(ctx, tx, []lineage.SnapshotRecord{rec}); err != nil {
			return err
		}
	}
	batches := make([]lineage.BatchRecord, len(items))
	for i, it := range items {
		seq := it.seq
		batches[i] = lineage.BatchRecord{BatchID: it.meta.BatchID, Namespace: ns.String(), Dataset: name, Producer: it.meta.Producer,
			Accepted: int64(it.meta.Accepted), Rejected: int64(it.meta.Rejected), StreamSeq: &seq, PolicyRevision: it.meta.PolicyRevision,
			ReceivedAt: it.meta.ReceivedAt, SnapshotID: snapID}
	}
	if err := w.deps.Lineage.RecordBatches(ctx, tx, batches); err != nil {
		return err
	}
	_, err := w.deps.Lineage.AdvanceWatermark(ctx, tx, ns.String(), name, last)
	return err
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

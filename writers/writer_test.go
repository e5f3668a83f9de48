package writers_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/envelope"
	"github.com/lakegate/lakegate/internal/natsembed"
	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/internal/stream"
	"github.com/lakegate/lakegate/internal/tabletest"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/writers"
)

var key = []byte("writer-test-key-of-32-bytes!!!!!")

type harness struct {
	t       testing.TB
	cat     *catalog.Service
	lin     *lineage.Store
	js      jetstream.JetStream
	cfg     writers.Config
	arrowSc *arrow.Schema
}

func newHarness(t testing.TB) *harness {
	pool := pgtest.Pool(t)
	logger := slog.New(slog.DiscardHandler)
	cat, err := catalog.New(catalog.Config{Warehouse: "file://" + t.TempDir()}, pool, logger)
	require.NoError(t, err)
	_, err = cat.CreateDataset(t.Context(), catalog.Dataset{Namespace: catalog.Namespace{"iot"}, Name: "events",
		Schema: catalog.Schema{Fields: []catalog.Field{
			{Name: "id", Type: catalog.Type{Primitive: "long"}, Required: true},
			{Name: "device", Type: catalog.Type{Primitive: "string"}},
		}}}, nil)
	require.NoError(t, err)
	md, _, err := cat.LoadTable(t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(t, err)
	sc, err := table.SchemaToArrowSchema(md.CurrentSchema(), nil, true, false)
	require.NoError(t, err)

	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	cfg := writers.Config{MaxLinger: 50 * time.Millisecond}
	_, err = stream.Ensure(t.Context(), js, cfg.Stream)
	require.NoError(t, err)
	return &harness{t: t, cat: cat, lin: lineage.NewStore(pool), js: js, cfg: cfg, arrowSc: sc}
}

// run starts a writer until the returned stop is called.
func (h *harness) run() (stop func()) {
	_, stop = h.start()
	return stop
}

// start starts a writer until the returned stop is called.
func (h *harness) start() (*writers.Writer, func()) {
	return h.startWith(h.cat)
}

// startWith starts a writer that commits through cat.
func (h *harness) startWith(cat writers.Catalog) (*writers.Writer, func()) {
	w, err := writers.New(h.cfg, writers.Deps{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		JS: h.js, Catalog: cat, Lineage: h.lin, Key: key})
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	return w, func() { cancel(); <-done }
}

// publish sends one batch of ids [from, to) and returns its stream sequence.
func (h *harness) publish(batchID string, from, to int64) uint64 {
	seq, _, err := h.tryPublish(batchID, from, to)
	require.NoError(h.t, err)
	return seq
}

// tryPublish is publish that returns the error, and the message's size.
func (h *harness) tryPublish(batchID string, from, to int64) (uint64, int, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, h.arrowSc)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("dev-%d", i%7))
	}
	rec := b.NewRecord()
	defer rec.Release()
	payload, err := envelope.Encode(key, rec, nil)
	require.NoError(h.t, err)
	msg := nats.NewMsg(h.cfg.Stream.WithDefaults().Subject("iot", "events"))
	msg.Data = payload
	meta := envelope.Meta{BatchID: batchID, Producer: "sensor-1", PolicyRevision: "sha256:test", Accepted: int(to - from), ReceivedAt: time.Now()}
	for k, v := range meta.Headers() {
		msg.Header.Set(k, v)
	}
	ack, err := h.js.PublishMsg(h.t.Context(), msg)
	if err != nil {
		return 0, 0, err
	}
	return ack.Sequence, len(msg.Data), nil
}

func (h *harness) waitWatermark(seq uint64) {
	require.Eventually(h.t, func() bool {
		wm, err := h.lin.Watermark(context.Background(), "iot", "events")
		return err == nil && wm >= seq
	}, 20*time.Second, 20*time.Millisecond)
}

func (h *harness) ids() []int64 {
	md, loc, err := h.cat.LoadTable(h.t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(h.t, err)
	return tabletest.IDs(h.t, table.New(table.Identifier{"iot", "events"}, md, loc, icebergio.LoadFSFunc(nil, loc), nil))
}

func seqIDs(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

// Batches become snapshots with their lineage and the watermark, and a redelivered batch
// (the same batch id in a new message, as after a crash before the ack) is not written twice.
func TestWriterCommitsExactlyOnce(t *testing.T) {
	h := newHarness(t)
	stop := h.run()
	var last uint64
	for b := range int64(10) {
		last = h.publish(fmt.Sprintf("batch-%d", b), b*100, (b+1)*100)
	}
	h.waitWatermark(last)
	require.Equal(t, seqIDs(1000), h.ids())

	md, _, err := h.cat.LoadTable(t.Context(), catalog.Namespace{"iot"}, "events")
	require.NoError(t, err)
	snap := md.CurrentSnapshot()
	require.NotNil(t, snap)
	require.Contains(t, snap.Summary.Properties["lakegate.batch-ids"], "batch-9")
	require.Equal(t, fmt.Sprint(last), snap.Summary.Properties["lakegate.stream-seq-last"])
	require.Equal(t, "sensor-1", snap.Summary.Properties["lakegate.producers"])

	g, err := h.lin.SnapshotLineage(t.Context(), "iot", "events", snap.SnapshotID)
	require.NoError(t, err)
	require.NotEmpty(t, g)

	// A redelivery of committed batches is acknowledged and skipped.
	again := h.publish("batch-3", 300, 400)
	h.publish("batch-10", 1000, 1100)
	next := h.publish("batch-11", 1100, 1200)
	require.Greater(t, next, again)
	h.waitWatermark(next)
	require.Equal(t, seqIDs(1200), h.ids())

	// A restarted writer resumes from the durable consumer and keeps exactly-once.
	stop()
	last = h.publish("batch-12", 1200, 1300)
	h.publish("batch-12", 1200, 1300) // a producer's retry that JetStream did not de-duplicate
	stop = h.run()
	defer stop()
	h.waitWatermark(last)
	require.Eventually(t, func() bool { return len(h.ids()) == 1300 }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, seqIDs(1300), h.ids())
}

// A message that is not a lakegate batch (no headers, or a payload without our MAC) is
// terminated instead of blocking the dataset; the batches around it commit.
func TestWriterTerminatesForeignMessages(t *testing.T) {
	h := newHarness(t)
	stop := h.run()
	defer stop()
	h.publish("ok-1", 0, 10)
	_, err := h.js.Publish(t.Context(), h.cfg.Stream.WithDefaults().Subject("iot", "events"), []byte("not a batch"))
	require.NoError(t, err)
	msg := nats.NewMsg(h.cfg.Stream.WithDefaults().Subject("iot", "events"))
	msg.Data = []byte{1, 2, 3}
	for k, v := range (envelope.Meta{BatchID: "forged", Producer: "mallory", Accepted: 1, ReceivedAt: time.Now()}).Headers() {
		msg.Header.Set(k, v)
	}
	_, err = h.js.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
	last := h.publish("ok-2", 10, 20)
	h.waitWatermark(last)
	require.Equal(t, seqIDs(20), h.ids())
}

// failingCatalog refuses the first fails commits, as a Postgres outage or a lost race would.
type failingCatalog struct {
	*catalog.Service
	fails atomic.Int32
}

func (c *failingCatalog) CommitTables(ctx context.Context, changes []catalog.TableChange, hook catalog.TxHook) ([]catalog.Committed, error) {
	if c.fails.Add(-1) >= 0 {
		return nil, errors.New("injected: the catalog is unavailable")
	}
	return c.Service.CommitTables(ctx, changes, hook)
}

// A micro-batch whose commit failed is written anew by the retry; the files of the failed
// attempts are deleted, so nothing is left that no snapshot reaches.
func TestFailedCommitLeavesNoFiles(t *testing.T) {
	h := newHarness(t)
	cat := &failingCatalog{Service: h.cat}
	cat.fails.Store(3)
	_, stop := h.startWith(cat)
	defer stop()
	h.waitWatermark(h.publish("batch-0", 0, 100))
	require.Equal(t, seqIDs(100), h.ids())
	require.Negative(t, cat.fails.Load(), "the commit failed 3 times before it went through")
	h.requireNoOrphans()
}

// Committed batches leave the stream: its size limit bounds what awaits a commit, so ingest
// goes on however much has been accepted before.
func TestWriterTrimsCommittedBatches(t *testing.T) {
	h := newHarness(t)
	h.cfg.Stream.MaxBytes = 16 << 10
	h.cfg.Stream.MaxMsgSize = 8 << 10
	str, err := stream.Ensure(t.Context(), h.js, h.cfg.Stream)
	require.NoError(t, err)
	stop := h.run()
	defer stop()

	accepted := 0
	for b := range int64(40) {
		require.Eventually(t, func() bool {
			_, size, err := h.tryPublish(fmt.Sprintf("batch-%d", b), b*100, (b+1)*100)
			if err != nil {
				return false
			}
			accepted += size
			return true
		}, 20*time.Second, 50*time.Millisecond, "batch %d is accepted once committed batches are trimmed", b)
	}
	require.Greater(t, accepted, int(h.cfg.Stream.MaxBytes), "more was accepted than the stream holds")
	info, err := str.Info(t.Context())
	require.NoError(t, err)
	h.waitWatermark(info.State.LastSeq)
	require.Equal(t, seqIDs(4000), h.ids())
	require.Eventually(t, func() bool {
		info, err := str.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	}, 20*time.Second, 50*time.Millisecond, "every committed batch is trimmed")
}

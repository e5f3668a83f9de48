// Package writers turns accepted ingest batches buffered in NATS JetStream into Iceberg
// snapshots: a durable pull consumer gathers batches per dataset into micro-batches (by
// records, bytes or linger), appends them as zstd Parquet with iceberg-go, and commits one
// snapshot per micro-batch through the catalog's one commit function. The lineage rows and
// the stream watermark are written in the commit's own Postgres transaction, and messages are
// acknowledged only after it: a batch already committed (its id is in the lineage) is never
// written again, whatever is redelivered.
package writers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/stream"
)

// Config tunes micro-batching.
type Config struct {
	Stream     stream.Config
	Durable    string        // durable consumer name, default lakegate-writer
	MaxRecords int           // records per micro-batch, default 200,000
	MaxBytes   int           // payload bytes per micro-batch, default 64 MiB
	MaxLinger  time.Duration // longest a batch waits for company, default 500ms
	FetchSize  int           // messages per fetch, default 256
	AckWait    time.Duration // redelivery delay of an unacknowledged message, default 2m

	// CompactInterval is how often the datasets that received data are compacted (see
	// hygiene.go); zero disables compaction.
	CompactInterval time.Duration
	// CompactTargetFileSize is the size compaction aims at for its files, default 128 MiB;
	// files under 75% of it are small.
	CompactTargetFileSize int64
	// CompactMinFiles is the fewest small files of a partition worth a rewrite, default 5.
	CompactMinFiles int
	// CompactLookback is how recent a partition's data must be for compaction to look at
	// it, default 6h.
	CompactLookback time.Duration
}

// Validate checks the settings, naming the bad one.
func (c Config) Validate() error {
	switch {
	case c.MaxRecords < 0:
		return errors.New("writer-max-records: must not be negative")
	case c.MaxBytes < 0:
		return errors.New("writer-max-bytes: must not be negative")
	case c.MaxLinger < 0:
		return errors.New("writer-max-linger: must not be negative")
	case c.CompactInterval < 0:
		return errors.New("writer-compact-interval: must not be negative")
	case c.CompactTargetFileSize < 0:
		return errors.New("writer-compact-target-file-size: must not be negative")
	case c.CompactMinFiles < 0:
		return errors.New("writer-compact-min-files: must not be negative")
	case c.CompactLookback < 0:
		return errors.New("writer-compact-lookback: must not be negative")
	case c.AckWait != 0 && c.AckWait < time.Second:
		return errors.New("writer-ack-wait: must be at least 1s")
	}
	return c.Stream.Validate()
}

func (c Config) withDefaults() Config {
	c.Stream = c.Stream.WithDefaults()
	if c.Durable == "" {
		c.Durable = "lakegate-writer"
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 200_000
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxLinger == 0 {
		c.MaxLinger = 500 * time.Millisecond
	}
	if c.FetchSize == 0 {
		c.FetchSize = 256
	}
	if c.AckWait == 0 {
		c.AckWait = 2 * time.Minute
	}
	if c.CompactTargetFileSize == 0 {
		c.CompactTargetFileSize = 128 << 20
	}
	if c.CompactMinFiles == 0 {
		c.CompactMinFiles = 5
	}
	if c.CompactLookback == 0 {
		c.CompactLookback = 6 * time.Hour
	}
	return c
}

// Deps are the writer's collaborators.
type Deps struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	JS       jetstream.JetStream
	Catalog  Catalog
	Lineage  Lineage
	// Key authenticates batch payloads (shared with the gateway).
	Key []byte
}

// Writer consumes the stream and commits snapshots.
type Writer struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	metrics *metrics

	// commitMu is held by a micro-batch from loading its table to its commit; compaction
	// commits only when it can take it at once (compaction yields to ingest).
	commitMu sync.Mutex
	// dirty are the datasets compaction looks at next.
	dirty dirtySet
	// beforeRewriteCommit, if set, runs before each compaction commit attempt (tests).
	beforeRewriteCommit func()
}

// New returns a writer; Run starts it.
func New(cfg Config, deps Deps) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(deps.Key) < 16 {
		return nil, errors.New("writers: the batch signing key must be at least 16 bytes")
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	return &Writer{cfg: cfg.withDefaults(), deps: deps, log: deps.Logger, metrics: m}, nil
}

// Run consumes until ctx ends. A micro-batch that cannot be committed (Postgres down) is
// retried with backoff while its messages are kept in progress: the stream keeps buffering
// new batches meanwhile, and nothing is acknowledged before it is committed.
func (w *Writer) Run(ctx context.Context) error {
	str, err := stream.Ensure(ctx, w.deps.JS, w.cfg.Stream)
	if err != nil {
		return err
	}
	cons, err := w.deps.JS.CreateOrUpdateConsumer(ctx, w.cfg.Stream.Name, jetstream.ConsumerConfig{
		Durable:       w.cfg.Durable,
		Description:   "lakegate writers: micro-batches into Iceberg snapshots",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxAckPending: 100_000,
		FilterSubject: w.cfg.Stream.SubjectPrefix + ".>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("writers: consumer: %w", err)
	}
	w.log.Info("writer consuming", "stream", w.cfg.Stream.Name, "consumer", w.cfg.Durable)
	if w.cfg.CompactInterval > 0 {
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { w.compactLoop(ctx) })
	}
	var lagAt time.Time
	var (
		trim      trimmer
		untrimmed bool // batches were settled since the last trim
	)
	for ctx.Err() == nil {
		if time.Since(lagAt) >= lagInterval {
			w.observeLag(ctx, cons)
			lagAt = time.Now()
		}
		msgs, err := w.gather(ctx, cons)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("fetch from the stream failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if len(msgs) > 0 {
			w.process(ctx, msgs)
			untrimmed = true
		}
		if untrimmed && time.Since(trim.at) >= trimInterval {
			untrimmed = !trim.run(ctx, str, cons, w.log)
		}
	}
	return nil
}

// trimInterval is how often at most the writer removes settled batches from the stream.
const trimInterval = time.Second

// trimmer removes the batches that are settled (committed, or terminated) from the stream.
// The stream's retention keeps messages until its limits, so without this every accepted
// batch would count against --stream-max-bytes until it ages out, and ingest would answer
// 429 once that many bytes had ever been accepted. The limits are meant to bound what
// awaits a commit.
type trimmer struct {
	at    time.Time
	floor uint64 // the stream is trimmed below this sequence
}

// run purges the stream below the consumer's acknowledgement floor: every message at or
// below it is settled. It reports whether it got that far.
func (t *trimmer) run(ctx context.Context, str jetstream.Stream, cons jetstream.Consumer, log *slog.Logger) bool {
	t.at = time.Now()
	info, err := cons.Info(ctx)
	if err != nil {
		log.Warn("reading the consumer's acknowledgement floor failed; the stream is trimmed later", "err", err)
		return false
	}
	floor := info.AckFloor.Stream + 1
	if floor <= t.floor {
		return true
	}
	if err := str.Purge(ctx, jetstream.WithPurgeSequence(floor)); err != nil {
		log.Warn("trimming settled batches from the stream failed; retrying later", "err", err)
		return false
	}
	t.floor = floor
	return true
}

// gather fetches messages until a micro-batch is full or the linger time has passed since the
// first message arrived. Idle, it polls for a first message.
func (w *Writer) gather(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	var (
		msgs     []jetstream.Msg
		records  int
		bytes    int
		deadline time.Time
	)
	add := func(batch jetstream.MessageBatch) error {
		for m := range batch.Messages() {
			if len(msgs) == 0 {
				deadline = time.Now().Add(w.cfg.MaxLinger)
			}
			msgs = append(msgs, m)
			records += acceptedOf(m)
			bytes += len(m.Data())
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
	// Short polls: Fetch does not watch ctx, so this bounds how long a shutdown waits.
	first, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	if err := add(first); err != nil || len(msgs) == 0 {
		return msgs, err
	}
	for ctx.Err() == nil && records < w.cfg.MaxRecords && bytes < w.cfg.MaxBytes && time.Now().Before(deadline) {
		more, err := cons.FetchNoWait(w.cfg.FetchSize)
		if err != nil {
			return msgs, err
		}
		before := len(msgs)
		if err := add(more); err != nil {
			return msgs, err
		}
		if len(msgs) == before {
			sleep(ctx, min(time.Until(deadline), 5*time.Millisecond))
		}
	}
	return msgs, nil
}

// lagInterval is how often the stream lag gauges are refreshed.
const lagInterval = 5 * time.Second

// observeLag sets the stream lag gauges from the consumer's state.
func (w *Writer) observeLag(ctx context.Context, cons jetstream.Consumer) {
	info, err := cons.Info(ctx)
	if err != nil {
		return // the fetch that follows reports an unreachable stream
	}
	w.metrics.pending.Set(float64(info.NumPending))
	w.metrics.ackPending.Set(float64(info.NumAckPending))
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// namespaceOf parses a subject's dataset.
func (w *Writer) datasetOf(subject string) (catalog.Namespace, string, error) {
	nsStr, name, err := w.cfg.Stream.Dataset(subject)
	if err != nil {
		return nil, "", err
	}
	ns, err := catalog.ParseNamespace(nsStr)
	if err != nil {
		return nil, "", err
	}
	return ns, name, nil
}

// Package lineage stores and queries lakegate's provenance in Postgres: the access/audit log
// (who did what, allowed or not) and, with the streaming writer, the lineage of snapshots.
package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakegate/lakegate/internal/pg"
)

// AuditEntry is one audited request.
type AuditEntry struct {
	ID             int64          `json:"id"`
	At             time.Time      `json:"at"`
	RequestID      string         `json:"request_id"`
	Principal      string         `json:"principal"`
	Roles          []string       `json:"roles"`
	Action         string         `json:"action"`
	Resource       string         `json:"resource"`
	Decision       string         `json:"decision"`
	PolicyRevision string         `json:"policy_revision"`
	Reason         string         `json:"reason"`
	Status         int            `json:"status"`
	LatencyMS      float64        `json:"latency_ms"`
	Method         string         `json:"method"`
	Path           string         `json:"path"`
	ClientAddr     string         `json:"client_addr"`
	UserAgent      string         `json:"user_agent"`
	Details        map[string]any `json:"details,omitempty"`
}

// Decisions recorded in the audit log.
const (
	DecisionAllow           = "allow"
	DecisionDeny            = "deny"
	DecisionUnauthenticated = "unauthenticated"
	DecisionNone            = "none" // the request never reached a policy decision (e.g. malformed)
)

// ErrQueueFull is returned when the queue of rows waiting for the batch writer has no room:
// the request should be refused (503) rather than wait or go unaudited.
var ErrQueueFull = errors.New("audit: the queue of rows to write is full")

// AuditConfig tunes the batching of read-path audit rows.
type AuditConfig struct {
	BatchSize     int           // rows per COPY; default 1000
	FlushInterval time.Duration // longest a row waits; default 200ms
	// QueueSize bounds the rows queued or reserved by requests in progress; beyond it Reserve
	// and Enqueue fail fast with ErrQueueFull (nothing waits, nothing is dropped). Default 16384.
	QueueSize int
	// MaxLag is the age of the oldest unwritten row beyond which Backlog reports the log not
	// ready; default 30s. The log is also not ready from 90% of QueueSize.
	MaxLag time.Duration
	// SpillDir keeps, as JSON lines, the rows not written when the writer is stopped (Postgres
	// down at shutdown); Run writes them first at the next start. Empty loses them (logged).
	SpillDir string
}

// Validate checks the settings.
func (c AuditConfig) Validate() error {
	if c.BatchSize < 0 || c.QueueSize < 0 || c.FlushInterval < 0 {
		return errors.New("audit: batch size, queue size and flush interval must not be negative")
	}
	if c.MaxLag < 0 {
		return errors.New("audit-max-lag: must not be negative")
	}
	return nil
}

func (c *AuditConfig) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.QueueSize == 0 {
		c.QueueSize = 16384
	}
	if c.MaxLag == 0 {
		c.MaxLag = 30 * time.Second
	}
}

// AuditLog writes audit rows: mutations write theirs inside their own transaction (Insert);
// everything else is queued and written in batches (Enqueue). Every row is made storable
// first (Storable); a batch Postgres refuses for its content is split down to the refused
// row, which is written in an isolated form. The writer waits only for an unavailable
// database; when it is stopped, what it could not write is spilled to disk.
type AuditLog struct {
	cfg    AuditConfig
	pool   *pgxpool.Pool
	logger *slog.Logger

	mu            sync.Mutex
	queue         []queuedRow
	reserved      int       // rooms claimed by requests in progress (Reserve)
	inFlight      int       // rows taken by the writer and not yet written
	inFlightSince time.Time // when the oldest of them was queued
	closed        bool      // Close was called or the writer stopped: rows are written directly
	started       bool
	cancelRun     context.CancelFunc
	wake          chan struct{}
	done          chan struct{}
	spillMu       sync.Mutex
	stopErr       error // the spill at the writer's stop failed: rows lost

	written, failures, escaped, isolated, spilled, replayed, refused prometheus.Counter
	lost                                                             *prometheus.CounterVec
}

type queuedRow struct {
	e  AuditEntry
	at time.Time
}

// NewAuditLog returns an audit log; call Run to start its writer and Close to drain it.
func NewAuditLog(cfg AuditConfig, pool *pgxpool.Pool, logger *slog.Logger, reg prometheus.Registerer) (*AuditLog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	a := &AuditLog{cfg: cfg, pool: pool, logger: logger, wake: make(chan struct{}, 1), done: make(chan struct{})}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "lakegate_audit_" + name, Help: help})
	}
	a.written = counter("rows_written_total", "Audit rows written to Postgres by the batch writer.")
	a.failures = counter("write_failures_total", "Failed attempts to write a batch of audit rows (retried).")
	a.escaped = counter("rows_escaped_total", "Audit rows whose text had to be escaped or cut to be storable.")
	a.isolated = counter("rows_isolated_total", "Audit rows Postgres refused for their content, written in an isolated, escaped form.")
	a.spilled = counter("rows_spilled_total", "Audit rows not written at shutdown, kept in the spill directory.")
	a.replayed = counter("rows_replayed_total", "Spilled audit rows written at start.")
	a.refused = counter("queue_full_total", "Requests refused (503) because the audit queue was full.")
	a.lost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lakegate_audit_rows_lost_total",
		Help: "Audit rows neither written nor spilled (logged instead): unwritable even isolated, or the spill failed."}, []string{"reason"})
	collectors := []prometheus.Collector{a.written, a.failures, a.escaped, a.isolated, a.spilled, a.replayed, a.refused, a.lost,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lakegate_audit_queue_rows", Help: "Audit rows waiting to be written."},
			func() float64 { b := a.Backlog(); return float64(b.Queued + b.InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lakegate_audit_oldest_unwritten_age_seconds",
			Help: "Age of the oldest audit row waiting to be written (0 when none waits)."},
			func() float64 { return a.Backlog().OldestUnwrittenSeconds }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("audit: register metrics: %w", err)
		}
	}
	return a, nil
}

const insertAuditSQL = `INSERT INTO audit_log (at, request_id, principal, roles, action, resource, decision, policy_revision,
	reason, status, latency_ms, method, path, client_addr, user_agent, details)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

var auditColumns = []string{"at", "request_id", "principal", "roles", "action", "resource", "decision", "policy_revision",
	"reason", "status", "latency_ms", "method", "path", "client_addr", "user_agent", "details"}

func (e AuditEntry) values() []any {
	roles := e.Roles
	if roles == nil {
		roles = []string{}
	}
	var details any
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err == nil {
			details = b
		}
	}
	return []any{e.At, e.RequestID, e.Principal, roles, e.Action, e.Resource, e.Decision, e.PolicyRevision,
		e.Reason, e.Status, e.LatencyMS, e.Method, e.Path, e.ClientAddr, e.UserAgent, details}
}

// prepare makes e storable, counting the rows that had to be escaped.
func (a *AuditLog) prepare(e AuditEntry) AuditEntry {
	e, changed := e.storable()
	if changed {
		a.escaped.Inc()
	}
	return e
}

// Insert writes e inside tx, so that a mutation and its audit row commit together.
func (a *AuditLog) Insert(ctx context.Context, tx pgx.Tx, e AuditEntry) error {
	if _, err := tx.Exec(ctx, insertAuditSQL, a.prepare(e).values()...); err != nil {
		return fmt.Errorf("audit: insert: %w", err)
	}
	return nil
}

// Reserve claims room in the queue for the row of a request that is starting, so that its
// row can be queued without waiting when it ends (EnqueueReserved), or given back (Release).
// When the queue is full it returns ErrQueueFull at once: refuse the request.
func (a *AuditLog) Reserve() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed && len(a.queue)+a.reserved >= a.cfg.QueueSize {
		a.refused.Inc()
		return ErrQueueFull
	}
	a.reserved++
	return nil
}

// Release gives back a room claimed by Reserve whose row went elsewhere (Insert).
func (a *AuditLog) Release() {
	a.mu.Lock()
	a.reserved = max(a.reserved-1, 0)
	a.mu.Unlock()
}

// EnqueueReserved queues e in the room claimed by Reserve. It never waits.
func (a *AuditLog) EnqueueReserved(ctx context.Context, e AuditEntry) {
	_ = a.enqueue(ctx, e, true)
}

// Enqueue queues e for the batch writer without a reservation. It never waits: when the
// queue is full it returns ErrQueueFull. After Close it writes e directly.
func (a *AuditLog) Enqueue(ctx context.Context, e AuditEntry) error {
	return a.enqueue(ctx, e, false)
}

func (a *AuditLog) enqueue(ctx context.Context, e AuditEntry, reserved bool) error {
	e = a.prepare(e)
	a.mu.Lock()
	if reserved {
		a.reserved = max(a.reserved-1, 0)
	}
	if a.closed {
		a.mu.Unlock()
		a.writeDirect(ctx, e)
		return nil
	}
	if !reserved && len(a.queue)+a.reserved >= a.cfg.QueueSize {
		a.mu.Unlock()
		return ErrQueueFull
	}
	a.queue = append(a.queue, queuedRow{e: e, at: time.Now()})
	full := len(a.queue) >= a.cfg.BatchSize
	a.mu.Unlock()
	if full {
		a.signal()
	}
	return nil
}

func (a *AuditLog) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// writeDirect writes one row after the writer has stopped, on a context that outlives the
// request; if Postgres is unavailable the row is spilled.
func (a *AuditLog) writeDirect(ctx context.Context, e AuditEntry) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := a.store(wctx, []AuditEntry{e}); err != nil {
		a.logger.Warn("audit write failed after shutdown began; spilling the row", "err", err)
		_ = a.spill([]AuditEntry{e})
	}
}

// Backlog is what waits to be written, for readiness and metrics.
type Backlog struct {
	Queued                 int     `json:"queued"`    // rows waiting for the writer
	InFlight               int     `json:"in_flight"` // rows being written (or retried)
	Reserved               int     `json:"reserved"`  // requests in progress whose row is to come
	Capacity               int     `json:"capacity"`  // queued + reserved beyond which requests are refused
	HighWater              int     `json:"high_water"`
	OldestUnwrittenSeconds float64 `json:"oldest_unwritten_seconds"`
	MaxLagSeconds          float64 `json:"max_lag_seconds"`
}

// Backlog reports the rows waiting to be written.
func (a *AuditLog) Backlog() Backlog {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := Backlog{Queued: len(a.queue), InFlight: a.inFlight, Reserved: a.reserved, Capacity: a.cfg.QueueSize,
		HighWater: max(a.cfg.QueueSize*9/10, 1), MaxLagSeconds: a.cfg.MaxLag.Seconds()}
	var oldest time.Time
	switch {
	case a.inFlight > 0:
		oldest = a.inFlightSince
	case len(a.queue) > 0:
		oldest = a.queue[0].at
	}
	if !oldest.IsZero() {
		b.OldestUnwrittenSeconds = time.Since(oldest).Seconds()
	}
	return b
}

// Err says why the backlog makes the log not ready: queued and reserved rows at the
// high-water mark, or an unwritten row older than the maximum lag.
func (b Backlog) Err() error {
	if b.Queued+b.Reserved >= b.HighWater {
		return fmt.Errorf("audit backlog: %d rows queued or reserved, high-water mark %d of capacity %d", b.Queued+b.Reserved, b.HighWater, b.Capacity)
	}
	if b.OldestUnwrittenSeconds > b.MaxLagSeconds {
		return fmt.Errorf("audit backlog: the oldest unwritten row is %.1fs old, more than %.0fs", b.OldestUnwrittenSeconds, b.MaxLagSeconds)
	}
	return nil
}

// Run writes spilled rows, then queued rows in batches, until Close has been called and the
// queue is drained, or ctx ends: then what is left is spilled.
func (a *AuditLog) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	if a.started {
		closed := a.closed
		a.mu.Unlock()
		if closed {
			return nil // closed before it started: Close wrote the rows
		}
		return errors.New("audit: Run called twice")
	}
	a.started, a.cancelRun = true, cancel
	a.mu.Unlock()
	defer close(a.done)

	a.replay(ctx)
	ticker := time.NewTicker(a.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-a.wake:
		case <-ticker.C:
		case <-ctx.Done():
		}
		for {
			batch, closed := a.take()
			if len(batch) == 0 {
				if closed {
					return nil
				}
				break
			}
			if rest := a.writeWithRetry(ctx, batch); len(rest) > 0 {
				a.stop(rest)
				return nil
			}
			a.mu.Lock()
			a.inFlight = 0
			a.mu.Unlock()
		}
		if ctx.Err() != nil {
			a.stop(nil)
			return nil
		}
	}
}

// take hands the writer the next batch.
func (a *AuditLog) take() ([]AuditEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := min(len(a.queue), a.cfg.BatchSize)
	if n == 0 {
		return nil, a.closed
	}
	batch := make([]AuditEntry, n)
	for i := range batch {
		batch[i] = a.queue[i].e
	}
	a.inFlight, a.inFlightSince = n, a.queue[0].at
	a.queue = slices.Delete(a.queue, 0, n)
	return batch, a.closed
}

// stop ends the writer: rows enqueued from now on are written directly, and the unwritten
// ones are spilled.
func (a *AuditLog) stop(unwritten []AuditEntry) {
	a.mu.Lock()
	a.closed = true
	for _, q := range a.queue {
		unwritten = append(unwritten, q.e)
	}
	a.queue, a.inFlight = nil, 0
	a.mu.Unlock()
	a.stopErr = a.spill(unwritten)
}

// Close stops queueing and waits until every queued row is written. When ctx ends first, the
// writer is stopped and the rows it has not written are spilled to disk; the error says that
// rows were lost because the spill failed.
func (a *AuditLog) Close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	if !a.started {
		// No writer: do its work here (a later Run has nothing to do).
		a.started = true
		rows := make([]AuditEntry, 0, len(a.queue))
		for _, q := range a.queue {
			rows = append(rows, q.e)
		}
		a.queue = nil
		a.mu.Unlock()
		close(a.done)
		a.replay(ctx)
		for i := 0; i < len(rows); i += a.cfg.BatchSize {
			if rest := a.writeWithRetry(ctx, rows[i:min(i+a.cfg.BatchSize, len(rows))]); len(rest) > 0 {
				return a.spill(append(rest, rows[min(i+a.cfg.BatchSize, len(rows)):]...))
			}
		}
		return nil
	}
	cancel := a.cancelRun
	a.mu.Unlock()
	a.signal()
	select {
	case <-a.done:
	case <-ctx.Done():
		b := a.Backlog()
		a.logger.Warn("audit rows not all written by the shutdown deadline; spilling the rest", "rows", b.Queued+b.InFlight)
		cancel()
		<-a.done
	}
	return a.stopErr // set by the writer before done closed
}

// writeWithRetry writes batch, waiting and retrying while Postgres is unavailable: audit
// rows are not dropped because Postgres blipped. It returns the rows not written when ctx
// ended first.
func (a *AuditLog) writeWithRetry(ctx context.Context, batch []AuditEntry) []AuditEntry {
	backoff := 100 * time.Millisecond
	for {
		n, err := a.store(ctx, batch)
		batch = batch[n:]
		if err == nil {
			return nil
		}
		a.failures.Inc()
		if ctx.Err() != nil {
			return batch
		}
		a.logger.Warn("audit write failed; retrying", "rows", len(batch), "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return batch
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// store writes rows, splitting a batch Postgres refuses for its content down to the refused
// rows, which are written isolated. It returns how many rows from the start are done and an
// error only when the rest could not be written for another reason (Postgres unavailable).
func (a *AuditLog) store(ctx context.Context, rows []AuditEntry) (int, error) {
	err := a.write(ctx, rows)
	if err == nil {
		a.written.Add(float64(len(rows)))
		return len(rows), nil
	}
	if !refusedForContent(err) {
		return 0, err
	}
	if len(rows) == 1 {
		return a.isolate(ctx, rows[0], err)
	}
	mid := len(rows) / 2
	n, err := a.store(ctx, rows[:mid])
	if err != nil {
		return n, err
	}
	m, err := a.store(ctx, rows[mid:])
	return n + m, err
}

// isolate writes the isolated form of a row Postgres refused, or logs the row when even
// that is refused: a row is never retried forever, nor dropped silently.
func (a *AuditLog) isolate(ctx context.Context, e AuditEntry, cause error) (int, error) {
	reason := cause.Error()
	var pgErr *pgconn.PgError
	if errors.As(cause, &pgErr) {
		reason = pgErr.Code + " " + pgErr.Message
	}
	row := e.isolated(reason)
	err := a.write(ctx, []AuditEntry{row})
	switch {
	case err == nil:
		a.isolated.Inc()
		a.written.Inc()
		a.logger.Error("audit row refused by Postgres; written isolated and escaped", "request_id", row.RequestID, "cause", reason)
		return 1, nil
	case !refusedForContent(err):
		return 0, err
	}
	a.lost.WithLabelValues("unwritable").Inc()
	b, _ := json.Marshal(row)
	a.logger.Error("audit row unwritable even isolated; recorded in this log only", "row", string(b), "cause", reason, "err", err)
	return 1, nil
}

// refusedForContent reports whether Postgres refused a write for what it holds (data
// exception, integrity violation, program limit), which no retry cures.
func refusedForContent(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pg.Unavailable(err) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

func (a *AuditLog) write(ctx context.Context, batch []AuditEntry) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if len(batch) == 1 {
		_, err := a.pool.Exec(ctx, insertAuditSQL, batch[0].values()...)
		return err
	}
	_, err := a.pool.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumns,
		pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) { return batch[i].values(), nil }))
	return err
}

// AuditQuery filters the audit log. Results come newest first; Before is the cursor (the
// smallest id of the previous page).
type AuditQuery struct {
	Principal string
	Action    string
	Resource  string // exact, or a prefix when it ends with '*'
	Decision  string
	Since     time.Time
	Until     time.Time
	Before    int64
	Limit     int
}

// Query returns audit rows matching q.
func (a *AuditLog) Query(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Principal != "" {
		where = append(where, "principal = "+arg(q.Principal))
	}
	if q.Action != "" {
		where = append(where, "action = "+arg(q.Action))
	}
	if prefix, ok := strings.CutSuffix(q.Resource, "*"); ok {
		where = append(where, "starts_with(resource, "+arg(prefix)+")")
	} else if q.Resource != "" {
		where = append(where, "resource = "+arg(q.Resource))
	}
	if q.Decision != "" {
		where = append(where, "decision = "+arg(q.Decision))
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "at < "+arg(q.Until))
	}
	if q.Before > 0 {
		where = append(where, "id < "+arg(q.Before))
	}
	sql := `SELECT id, at, request_id, principal, roles, action, resource, decision, policy_revision, reason, status,
		latency_ms, method, path, client_addr, user_agent, details FROM audit_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id DESC LIMIT " + arg(q.Limit)
	rows, err := a.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e       AuditEntry
			details []byte
		)
		if err := rows.Scan(&e.ID, &e.At, &e.RequestID, &e.Principal, &e.Roles, &e.Action, &e.Resource, &e.Decision,
			&e.PolicyRevision, &e.Reason, &e.Status, &e.LatencyMS, &e.Method, &e.Path, &e.ClientAddr, &e.UserAgent, &details); err != nil {
			return nil, fmt.Errorf("audit: scan: %w", err)
		}
		if len(details) > 0 {
			_ = json.Unmarshal(details, &e.Details)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	return out, nil
}

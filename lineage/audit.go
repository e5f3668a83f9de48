// Package lineage stores and queries lakegate's provenance in Postgres: the access/audit log
// (who did what, allowed or not) and, with the streaming writer, the lineage of snapshots.
package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
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

// AuditConfig tunes the batching of read-path audit rows.
type AuditConfig struct {
	BatchSize     int           // rows per COPY; default 1000
	FlushInterval time.Duration // longest a row waits; default 200ms
	QueueSize     int           // rows buffered before Enqueue blocks (never drops); default 16384
}

// Validate checks the settings.
func (c AuditConfig) Validate() error {
	if c.BatchSize < 0 || c.QueueSize < 0 || c.FlushInterval < 0 {
		return errors.New("audit: batch size, queue size and flush interval must not be negative")
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
}

// AuditLog writes audit rows: mutations write theirs inside their own transaction (Insert);
// everything else is queued and written in batches (Enqueue), drained completely by Close.
type AuditLog struct {
	cfg    AuditConfig
	pool   *pgxpool.Pool
	logger *slog.Logger

	queue   chan AuditEntry
	done    chan struct{}
	closeMu sync.RWMutex
	closed  bool

	written  prometheus.Counter
	failures prometheus.Counter
	queued   prometheus.GaugeFunc
}

// NewAuditLog returns an audit log; call Run to start its writer and Close to drain it.
func NewAuditLog(cfg AuditConfig, pool *pgxpool.Pool, logger *slog.Logger, reg prometheus.Registerer) (*AuditLog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	a := &AuditLog{
		cfg:    cfg,
		pool:   pool,
		logger: logger,
		queue:  make(chan AuditEntry, cfg.QueueSize),
		done:   make(chan struct{}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lakegate_audit_rows_written_total", Help: "Audit rows written to Postgres by the batch writer.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lakegate_audit_write_failures_total", Help: "Failed attempts to write a batch of audit rows (retried).",
		}),
	}
	a.queued = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lakegate_audit_queue_rows", Help: "Audit rows waiting to be written.",
	}, func() float64 { return float64(len(a.queue)) })
	for _, c := range []prometheus.Collector{a.written, a.failures, a.queued} {
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

// Insert writes e inside tx, so that a mutation and its audit row commit together.
func (a *AuditLog) Insert(ctx context.Context, tx pgx.Tx, e AuditEntry) error {
	if _, err := tx.Exec(ctx, insertAuditSQL, e.values()...); err != nil {
		return fmt.Errorf("audit: insert: %w", err)
	}
	return nil
}

// Enqueue queues e for the batch writer. It blocks while the queue is full rather than drop a
// row. After Close it writes e directly.
func (a *AuditLog) Enqueue(ctx context.Context, e AuditEntry) {
	a.closeMu.RLock()
	if !a.closed {
		select {
		case a.queue <- e:
			a.closeMu.RUnlock()
			return
		case <-ctx.Done():
		}
	}
	a.closeMu.RUnlock()
	// Closed, or the caller gave up waiting: write it ourselves, on a context that outlives the request.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.write(wctx, []AuditEntry{e}); err != nil {
		a.logger.Error("audit row lost", "request_id", e.RequestID, "err", err)
	}
}

// Run writes queued rows in batches until Close has been called and the queue is drained.
func (a *AuditLog) Run(ctx context.Context) error {
	defer close(a.done)
	batch := make([]AuditEntry, 0, a.cfg.BatchSize)
	ticker := time.NewTicker(a.cfg.FlushInterval)
	defer ticker.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		a.writeWithRetry(ctx, batch)
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-a.queue:
			if !ok {
				flush()
				return nil
			}
			batch = append(batch, e)
			if len(batch) >= a.cfg.BatchSize {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// Close stops queueing and waits until every queued row is written or ctx ends.
func (a *AuditLog) Close(ctx context.Context) error {
	a.closeMu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.closeMu.Unlock()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: %d rows not yet written at shutdown: %w", len(a.queue), ctx.Err())
	}
}

// writeWithRetry keeps trying a batch with backoff: audit rows are not dropped because
// Postgres blipped. It gives up only when ctx has ended and a final attempt fails.
func (a *AuditLog) writeWithRetry(ctx context.Context, batch []AuditEntry) {
	backoff := 100 * time.Millisecond
	for {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := a.write(wctx, batch)
		cancel()
		if err == nil {
			a.written.Add(float64(len(batch)))
			return
		}
		a.failures.Inc()
		if ctx.Err() != nil && backoff > 5*time.Second {
			a.logger.Error("audit rows lost", "rows", len(batch), "err", err)
			return
		}
		a.logger.Warn("audit write failed; retrying", "rows", len(batch), "err", err, "backoff", backoff)
		time.Sleep(backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (a *AuditLog) write(ctx context.Context, batch []AuditEntry) error {
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

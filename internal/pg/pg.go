// Package pg holds lakegate's Postgres plumbing: the connection pool, schema migrations and
// transaction helpers.
package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakegate/lakegate/migrations"
)

// DB is what both a pool and a transaction offer; queries that may run inside or outside
// a transaction take it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may echo the URL, which can hold a password: do not wrap it.
		return nil, errors.New("pg: invalid database URL")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pg: create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pg: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, redact(err))
	}
	return pool, nil
}

// redact keeps the error class but drops text that could echo credentials.
func redact(err error) error {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		return err
	}
	return errors.Unwrap(err)
}

// Migrate applies every pending migration. A Postgres advisory lock serialises concurrent
// callers, so two servers starting at once do not race.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("pg: migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Pending reports whether migrations remain to be applied (readiness check).
func Pending(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	p, db, err := provider(pool)
	if err != nil {
		return false, err
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("pg: check migrations: %w", err)
	}
	return pending, nil
}

func provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("pg: migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("pg: migrations: %w", err)
	}
	return p, db, nil
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling back otherwise.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pg: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pg: commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is Postgres' unique_violation (23505).
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// poolCollector exports the pool's statistics as Prometheus metrics.
type poolCollector struct {
	pool     *pgxpool.Pool
	conns    *prometheus.Desc
	acquires *prometheus.Desc
	waits    *prometheus.Desc
	waitTime *prometheus.Desc
}

// NewPoolCollector returns a collector of pool's statistics.
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	return &poolCollector{
		pool:     pool,
		conns:    prometheus.NewDesc("lakegate_db_pool_connections", "Postgres pool connections by state.", []string{"state"}, nil),
		acquires: prometheus.NewDesc("lakegate_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil),
		waits:    prometheus.NewDesc("lakegate_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil),
		waitTime: prometheus.NewDesc("lakegate_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.acquires
	ch <- c.waits
	ch <- c.waitTime
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.TotalConns()), "total")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.MaxConns()), "max")
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
}

// Package catalog is lakegate's Iceberg catalog core: namespaces, tables and datasets on
// Postgres, table metadata files written by iceberg-go into the warehouse, and the one commit
// function that every writer of table metadata goes through. It knows nothing of HTTP, NATS
// or OPA.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TxHook runs inside the transaction of a catalog mutation, after the mutation's own writes:
// callers use it to write their audit or lineage rows atomically with the change.
type TxHook func(ctx context.Context, tx pgx.Tx) error

// Config configures the catalog.
type Config struct {
	// Warehouse is the root location of table data and metadata: file:///abs/path (default
	// deployments) or s3://bucket/prefix.
	Warehouse string
	// IOProperties are passed to iceberg-go's FileIO (e.g. s3.endpoint, s3.region; see
	// S3Options.IOProperties).
	IOProperties iceberg.Properties
	// AllowedLocations are extra location prefixes, outside the warehouse, where a create or
	// register may place a table or view at a location the client chooses (as Polaris's
	// allowed locations); such a location must overlap no live table's or view's.
	AllowedLocations []string
}

// Validate reports the first invalid setting, naming it.
func (c Config) Validate() error {
	if c.Warehouse == "" {
		return errors.New("catalog: warehouse location is required")
	}
	u, err := url.Parse(c.Warehouse)
	if err != nil {
		return fmt.Errorf("catalog: warehouse %q is not a URL: %w", c.Warehouse, err)
	}
	switch u.Scheme {
	case "file":
		if !filepath.IsAbs(u.Path) {
			return fmt.Errorf("catalog: warehouse %q must be an absolute file:// path", c.Warehouse)
		}
	case "s3", "s3a":
		if u.Host == "" {
			return fmt.Errorf("catalog: warehouse %q names no bucket", c.Warehouse)
		}
	default:
		return fmt.Errorf("catalog: warehouse %q: scheme must be file or s3", c.Warehouse)
	}
	for _, a := range c.AllowedLocations {
		n, err := normalizeLocation(a)
		if err != nil {
			return fmt.Errorf("catalog: allowed location: %w", err)
		}
		if _, path, _ := strings.Cut(n, "://"); strings.Count(path, "/") < 1 {
			return fmt.Errorf("catalog: allowed location %q: a bucket or the filesystem root is too wide", a)
		}
	}
	return nil
}

// Service is the catalog.
type Service struct {
	cfg Config
	// warehouse is the warehouse root in normalized form (see normalizeLocation).
	warehouse string
	// allowed are Config.AllowedLocations, normalized.
	allowed []string
	// realRoots caches the local roots with their symbolic links resolved (resolvedRoot).
	realRoots sync.Map
	pool      *pgxpool.Pool
	logger    *slog.Logger
	cache     *metadataCache
	// datasets caches dataset reads; see datasetCache.
	datasets *datasetCache
	// aws is the shared AWS configuration of an s3:// warehouse (nil otherwise); see
	// newObjectStoreConfig.
	aws *aws.Config
	// hygiene counts snapshot expiry and the deletion of expired files; see Collectors.
	hygiene *hygieneMetrics
}

// New returns a catalog on pool.
func New(cfg Config, pool *pgxpool.Pool, logger *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Warehouse = strings.TrimSuffix(cfg.Warehouse, "/")
	wh, err := normalizeLocation(cfg.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("catalog: warehouse: %w", err)
	}
	var allowed []string
	for _, a := range cfg.AllowedLocations {
		n, _ := normalizeLocation(a) // Validate checked it
		allowed = append(allowed, n)
	}
	s := &Service{cfg: cfg, warehouse: wh, allowed: allowed, pool: pool, logger: logger, cache: newMetadataCache(1024), datasets: newDatasetCache(time.Minute),
		hygiene: newHygieneMetrics()}
	if isS3(cfg.Warehouse) {
		awsCfg, err := newObjectStoreConfig(cfg.IOProperties)
		if err != nil {
			return nil, err
		}
		s.aws = awsCfg
	}
	return s, nil
}

// Warehouse returns the warehouse root location.
func (s *Service) Warehouse() string { return s.cfg.Warehouse }

// fileIO returns the FileIO for a location inside the warehouse.
func (s *Service) fileIO(ctx context.Context, location string) (icebergio.IO, error) {
	fs, err := icebergio.LoadFS(s.withObjectStore(ctx), s.cfg.IOProperties, location)
	if err != nil {
		return nil, fmt.Errorf("catalog: file io for %s: %w", location, err)
	}
	return fs, nil
}

// inTx runs fn in a transaction, then hook, and commits.
func (s *Service) inTx(ctx context.Context, hook TxHook, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("catalog: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx); err != nil {
		return err
	}
	if hook != nil {
		if err := hook(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%w: commit: %w", ErrCommitStateUnknown, err)
	}
	return nil
}

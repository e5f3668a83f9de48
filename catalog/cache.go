package catalog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lakegate/lakegate/internal/pg"
)

// datasetsChannel carries "namespace.name" of every changed dataset, so each lakegate
// process drops its cached copy.
const datasetsChannel = "lakegate_datasets"

// datasetCache keeps recently read datasets. Every change to a dataset, by any process,
// sends a notification that evicts it everywhere; a TTL bounds staleness should a
// notification be missed. While the listener is disconnected notifications are lost, so the
// cache is flushed and caches nothing until the listener is back.
type datasetCache struct {
	mu        sync.Mutex
	ttl       time.Duration
	gen       uint64 // bumped by every eviction, so a read that raced one is not cached
	suspended bool   // the listener is disconnected
	entries   map[string]cachedDataset
}

type cachedDataset struct {
	d       Dataset
	expires time.Time
}

func newDatasetCache(ttl time.Duration) *datasetCache {
	return &datasetCache{ttl: ttl, entries: map[string]cachedDataset{}}
}

func datasetKey(ns Namespace, name string) string { return ns.String() + "." + name }

func (c *datasetCache) get(key string) (Dataset, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && time.Now().Before(e.expires) {
		return e.d, c.gen, true
	}
	return Dataset{}, c.gen, false
}

// put caches d unless an eviction happened since gen was read.
func (c *datasetCache) put(key string, d Dataset, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.suspended {
		return
	}
	if len(c.entries) >= 100_000 {
		clear(c.entries)
	}
	c.entries[key] = cachedDataset{d: d, expires: time.Now().Add(c.ttl)}
}

func (c *datasetCache) evict(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, key)
}

// flush drops every entry; suspended tells whether to cache again.
func (c *datasetCache) flush(suspended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.suspended = suspended
	clear(c.entries)
}

// notifyChanged tells every process, when tx commits, that the dataset changed.
func notifyChanged(ctx context.Context, tx pgx.Tx, ns Namespace, name string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, datasetsChannel, datasetKey(ns, name)); err != nil {
		return fmt.Errorf("catalog: notify change of %s.%s: %w", ns, name, err)
	}
	return nil
}

// Run keeps the dataset cache coherent with changes made by every lakegate process until
// ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return pg.Listen(ctx, s.pool, s.logger, []string{datasetsChannel},
		func(context.Context) error { s.datasets.flush(false); return nil },
		func(_ context.Context, _, key string) { s.datasets.evict(key) },
		func() { s.datasets.flush(true) })
}

package gateway

import (
	"sync"

	"github.com/lakegate/lakegate/catalog"
)

// tableJSONCache keeps the serialized current metadata of recently loaded tables. Metadata
// files never change, so an entry is valid exactly while its location is the one asked for;
// each table keeps only its latest file, which bounds the cache by the number of tables.
type tableJSONCache struct {
	mu      sync.RWMutex
	entries map[tableJSONKey]cachedJSON
}

type tableJSONKey struct {
	dir      string
	refsOnly bool
}

type cachedJSON struct {
	loc string
	b   []byte
}

const maxTableJSONEntries = 4096

func newTableJSONCache() *tableJSONCache {
	return &tableJSONCache{entries: map[tableJSONKey]cachedJSON{}}
}

func (c *tableJSONCache) get(loc string, refsOnly bool) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[tableJSONKey{catalog.TableDir(loc), refsOnly}]
	if !ok || e.loc != loc {
		return nil, false
	}
	return e.b, true
}

func (c *tableJSONCache) put(loc string, refsOnly bool, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := tableJSONKey{catalog.TableDir(loc), refsOnly}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= maxTableJSONEntries {
		clear(c.entries)
	}
	c.entries[key] = cachedJSON{loc: loc, b: b}
}

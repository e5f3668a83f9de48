package gateway

import "sync"

// tableJSONCache keeps the serialized metadata of recently loaded tables, by metadata
// location: metadata files never change, so the bytes never go stale.
type tableJSONCache struct {
	mu      sync.RWMutex
	entries map[tableJSONKey][]byte
}

type tableJSONKey struct {
	loc      string
	refsOnly bool
}

const maxTableJSONEntries = 4096

func newTableJSONCache() *tableJSONCache {
	return &tableJSONCache{entries: map[tableJSONKey][]byte{}}
}

func (c *tableJSONCache) get(loc string, refsOnly bool) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.entries[tableJSONKey{loc, refsOnly}]
	return b, ok
}

func (c *tableJSONCache) put(loc string, refsOnly bool, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxTableJSONEntries {
		clear(c.entries)
	}
	c.entries[tableJSONKey{loc, refsOnly}] = b
}

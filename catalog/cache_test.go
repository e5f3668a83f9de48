package catalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// While the change listener is disconnected, notifications are lost: the cache drops what it
// has and caches nothing until the listener is back (a PG outage must not leave a process
// serving a table pointer that other processes have since moved).
func TestDatasetCacheSuspendedWhileTheListenerIsDown(t *testing.T) {
	c := newDatasetCache(time.Minute)
	_, gen, _ := c.get("a.b")
	c.put("a.b", Dataset{Name: "b", MetadataLocation: "v1"}, gen)
	d, _, ok := c.get("a.b")
	require.True(t, ok)
	require.Equal(t, "v1", d.MetadataLocation)

	c.flush(true) // the listener lost its connection
	_, gen, ok = c.get("a.b")
	require.False(t, ok, "flushed when the listener is lost")
	c.put("a.b", Dataset{Name: "b", MetadataLocation: "v2"}, gen)
	_, gen, ok = c.get("a.b")
	require.False(t, ok, "nothing is cached while the listener is down")

	c.flush(false) // listening again
	_, gen, _ = c.get("a.b")
	c.put("a.b", Dataset{Name: "b", MetadataLocation: "v3"}, gen)
	d, _, ok = c.get("a.b")
	require.True(t, ok)
	require.Equal(t, "v3", d.MetadataLocation)
}

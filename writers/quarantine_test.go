package writers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
)

// The quarantine table gets exactly QuarantineSchema's field ids, which the gateway's Arrow
// records carry.
func TestQuarantineTableSchema(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.cat.EnsureQuarantineTable(t.Context(), catalog.Namespace{"iot"}, "events"))
	require.NoError(t, h.cat.EnsureQuarantineTable(t.Context(), catalog.Namespace{"iot"}, "events"), "idempotent")
	md, _, err := h.cat.LoadTable(t.Context(), catalog.Namespace{"iot"}, "events__quarantine")
	require.NoError(t, err)
	require.True(t, md.CurrentSchema().Equals(catalog.QuarantineSchema()), "%s", md.CurrentSchema())
	require.Equal(t, "events", md.Properties()[catalog.QuarantineOfKey])
}

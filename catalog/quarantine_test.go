package catalog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
)

// The quarantine suffix is reserved, a quarantine table follows its dataset on rename, and
// goes with it on delete (files too, with purge).
func TestQuarantineTableLifecycle(t *testing.T) {
	s, dir := newService(t)
	ctx := t.Context()
	d := events()
	_, err := s.CreateDataset(ctx, d, nil)
	require.NoError(t, err)
	ns := d.Namespace

	reserved := d
	reserved.Name = "orders__quarantine"
	_, err = s.CreateDataset(ctx, reserved, nil)
	requireProblem(t, err, "reserved for quarantine tables")
	reserved.Name = strings.Repeat("a", 117)
	_, err = s.CreateDataset(ctx, reserved, nil)
	requireProblem(t, err, "at most 116")
	sc, err := events().Schema.ToIceberg()
	require.NoError(t, err)
	_, _, err = s.CreateTable(ctx, catalog.NewTable{Namespace: ns, Name: "x__quarantine", Schema: sc}, nil)
	requireProblem(t, err, "reserved for quarantine tables")

	require.NoError(t, s.EnsureQuarantineTable(ctx, ns, "events"))
	q, err := s.GetDataset(ctx, ns, "events__quarantine")
	require.NoError(t, err)
	require.Equal(t, []string{"quarantine"}, q.Tags)

	err = s.Rename(ctx, catalog.KindTable, ns, "events__quarantine", ns, "elsewhere", nil)
	requireProblem(t, err, "renamed with its dataset")
	require.NoError(t, s.Rename(ctx, catalog.KindTable, ns, "events", ns, "readings", nil))
	_, _, err = s.LoadTable(ctx, ns, "readings__quarantine")
	require.NoError(t, err, "the quarantine table followed its dataset")
	_, _, err = s.LoadTable(ctx, ns, "events__quarantine")
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)

	require.NoError(t, s.DeleteDataset(ctx, ns, "readings", true, nil))
	_, _, err = s.LoadTable(ctx, ns, "readings__quarantine")
	require.ErrorIs(t, err, catalog.ErrNoSuchTable, "deleted with its dataset")
	_, err = os.Stat(filepath.Join(dir, "iot", "plant1", "events__quarantine"))
	require.True(t, os.IsNotExist(err), "purged with its dataset")
}

// A dataset without rejections has an empty quarantine; an unknown dataset has none.
func TestReadQuarantineEmpty(t *testing.T) {
	s, _ := newService(t)
	_, err := s.CreateDataset(t.Context(), events(), nil)
	require.NoError(t, err)
	recs, truncated, err := s.ReadQuarantine(t.Context(), events().Namespace, "events", catalog.QuarantineQuery{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, recs)
	require.False(t, truncated)
	_, _, err = s.ReadQuarantine(t.Context(), events().Namespace, "nothing", catalog.QuarantineQuery{Limit: 10})
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)
}

// requireProblem requires a validation error whose problems mention text.
func requireProblem(t *testing.T, err error, text string) {
	t.Helper()
	var ve *catalog.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.Error(), text)
}

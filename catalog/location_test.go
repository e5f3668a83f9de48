package catalog_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/pgtest"
)

// Under an operator's allowed locations a client may choose a table's location, as long as
// no live table or view owns an overlapping one; a purged table's location may be taken again.
// Outside the warehouse and the allowed locations nothing may be placed.
func TestAllowedLocations(t *testing.T) {
	dir, ext := t.TempDir(), "file://"+filepath.Join(t.TempDir(), "ext")
	s, err := catalog.New(catalog.Config{Warehouse: "file://" + dir, AllowedLocations: []string{ext}}, pgtest.Pool(t), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx := t.Context()
	ns := catalog.Namespace{"rck"}
	require.NoError(t, s.CreateNamespace(ctx, ns, nil, nil))
	schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true})
	create := func(name, loc string) error {
		_, _, err := s.CreateTable(ctx, catalog.NewTable{Namespace: ns, Name: name, Schema: schema, Location: loc}, nil)
		return err
	}
	require.NoError(t, create("a", ext+"/rck/a"))
	require.ErrorIs(t, create("b", ext+"/rck/a"), catalog.ErrForbiddenLocation, "the same location")
	require.ErrorIs(t, create("b", ext+"/rck/a/inner"), catalog.ErrForbiddenLocation, "inside a live table")
	require.ErrorIs(t, create("b", ext+"/rck"), catalog.ErrForbiddenLocation, "containing a live table")
	require.ErrorIs(t, create("b", ext), catalog.ErrForbiddenLocation, "the allowed location itself")
	require.ErrorIs(t, create("b", ext+"2/rck/b"), catalog.ErrForbiddenLocation, "a sibling sharing the stem")
	require.ErrorIs(t, create("b", "file:///tmp/elsewhere/b"), catalog.ErrForbiddenLocation)
	require.NoError(t, create("b", ext+"/rck/b"))

	require.NoError(t, s.DeleteDataset(ctx, ns, "a", true, nil))
	require.NoError(t, create("a2", ext+"/rck/a"), "a purged table's location may be chosen again")

	// set-location moves a table to another location it may claim, which it then owns; its
	// old location is free, and one it may not claim is refused.
	setLocation := func(name, loc string) error {
		_, _, err := s.Commit(ctx, ns, name, nil, []table.Update{table.NewSetLocationUpdate(loc)}, nil)
		return err
	}
	require.NoError(t, setLocation("b", ext+"/rck/b-moved"))
	require.NoError(t, create("c", ext+"/rck/b"), "the location b left may be claimed")
	require.ErrorIs(t, setLocation("b", ext+"/rck/a"), catalog.ErrForbiddenLocation, "a2's location")
	require.ErrorIs(t, setLocation("b", "file://"+dir+"/rck"), catalog.ErrForbiddenLocation, "a namespace directory")
	require.NoError(t, setLocation("b", "file://"+dir+"/rck/b-0b8f6c7e2c1b4a8e9d5e6f1a2b3c4d5e"), "a fresh location in the server's form")
	md, _, err := s.LoadTable(ctx, ns, "b")
	require.NoError(t, err)
	require.Equal(t, "file://"+dir+"/rck/b-0b8f6c7e2c1b4a8e9d5e6f1a2b3c4d5e", md.Location())

	_, err = catalog.New(catalog.Config{Warehouse: "file://" + dir, AllowedLocations: []string{"s3://bucket"}}, nil, nil)
	require.Error(t, err, "a whole bucket is too wide")
	_, err = catalog.New(catalog.Config{Warehouse: "file://" + dir, AllowedLocations: []string{"file:///tmp/../etc"}}, nil, nil)
	require.Error(t, err)
}

package catalog_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/view"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/catalog"
)

func viewSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "amount", Type: iceberg.PrimitiveTypes.Float64})
}

func viewVersion(id int64, schemaID int, sql string) *view.Version {
	return &view.Version{
		VersionID:        id,
		SchemaID:         schemaID,
		TimestampMS:      1_700_000_000_000 + id,
		Summary:          view.VersionSummary{"engine-name": "spark"},
		Representations:  []view.Representation{view.NewRepresentation(sql, "spark")},
		DefaultNamespace: table.Identifier{"sales"},
	}
}

func sqlOf(md view.Metadata) string {
	return md.CurrentVersion().Representations[0].Sql
}

func requireFileExists(t *testing.T, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	require.NoError(t, err)
	_, err = os.Stat(u.Path)
	require.NoError(t, err, loc)
}

func TestViewLifecycle(t *testing.T) {
	s, dir := newService(t)
	ctx := t.Context()
	ns := catalog.Namespace{"sales"}
	require.NoError(t, s.CreateNamespace(ctx, ns, nil, nil))

	// Create: the first metadata file lies under the view's default location.
	md, loc, err := s.CreateView(ctx, ns, "recent", catalog.NewView{
		Schema:     viewSchema(),
		Version:    viewVersion(1, 0, "SELECT id, amount FROM sales.orders"),
		Properties: iceberg.Properties{"comment": "recent orders"},
	}, nil)
	require.NoError(t, err)
	require.Regexp(t, "^file://"+regexp.QuoteMeta(dir)+"/sales/recent-[0-9a-f-]{36}/metadata/00000-", loc)
	require.True(t, strings.HasSuffix(loc, ".metadata.json"), loc)
	requireFileExists(t, loc)
	require.Equal(t, catalog.TableDir(loc), md.Location())
	require.Equal(t, int64(1), md.CurrentVersionID())
	require.Len(t, metadataFiles(t, dir), 1)

	// Load reads the file back.
	got, gotLoc, err := s.LoadView(ctx, ns, "recent")
	require.NoError(t, err)
	require.Equal(t, loc, gotLoc)
	require.Equal(t, md.ViewUUID(), got.ViewUUID())
	require.Equal(t, "SELECT id, amount FROM sales.orders", sqlOf(got))
	require.Equal(t, "recent orders", got.Properties()["comment"])
	require.Len(t, got.CurrentSchema().Fields(), 2)

	// Replace: a new schema and version, made current, as engines send it.
	wider := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "amount", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 3, Name: "region", Type: iceberg.PrimitiveTypes.String})
	next, nextLoc, err := s.CommitView(ctx, ns, "recent",
		[]view.Requirement{view.AssertViewUUID(md.ViewUUID())},
		[]view.Update{
			view.NewAddSchemaUpdate(wider),
			view.NewAddViewVersionUpdate(viewVersion(2, view.LastAddedID, "SELECT id, amount, region FROM sales.orders")),
			view.NewSetCurrentVersionUpdate(view.LastAddedID),
		}, nil)
	require.NoError(t, err)
	require.Contains(t, nextLoc, md.Location()+"/metadata/00001-")
	requireFileExists(t, nextLoc)
	require.Equal(t, int64(2), next.CurrentVersionID())
	require.Equal(t, 1, next.CurrentSchemaID())
	require.Len(t, next.Versions(), 2)
	require.Len(t, next.VersionLog(), 2)

	got, gotLoc, err = s.LoadView(ctx, ns, "recent")
	require.NoError(t, err)
	require.Equal(t, nextLoc, gotLoc)
	require.Equal(t, "SELECT id, amount, region FROM sales.orders", sqlOf(got))
	require.Len(t, got.CurrentSchema().Fields(), 3)
	require.Equal(t, md.ViewUUID(), got.ViewUUID())
	require.Len(t, metadataFiles(t, dir), 2)

	// A failed requirement is a commit failure and changes nothing.
	wrong := md.ViewUUID()
	wrong[0] ^= 0xff
	_, _, err = s.CommitView(ctx, ns, "recent", []view.Requirement{view.AssertViewUUID(wrong)},
		[]view.Update{view.NewSetPropertiesUpdate(iceberg.Properties{"k": "v"})}, nil)
	require.ErrorIs(t, err, catalog.ErrCommitFailed)

	// An update the builder refuses is a validation error, and leaves no file behind.
	_, _, err = s.CommitView(ctx, ns, "recent", nil, []view.Update{view.NewSetCurrentVersionUpdate(99)}, nil)
	var ve *catalog.ValidationError
	require.ErrorAs(t, err, &ve)
	_, _, err = s.CommitView(ctx, ns, "recent", nil,
		[]view.Update{view.NewSetLocationUpdate("file:///elsewhere/recent")}, nil)
	require.ErrorIs(t, err, catalog.ErrForbiddenLocation)

	// A failing hook rolls the commit back and removes its metadata file.
	boom := errors.New("boom")
	_, _, err = s.CommitView(ctx, ns, "recent", nil,
		[]view.Update{view.NewSetPropertiesUpdate(iceberg.Properties{"k": "v"})},
		func(context.Context, pgx.Tx) error { return boom })
	require.ErrorIs(t, err, boom)
	_, gotLoc, err = s.LoadView(ctx, ns, "recent")
	require.NoError(t, err)
	require.Equal(t, nextLoc, gotLoc)
	require.Len(t, metadataFiles(t, dir), 2, "failed commits left no metadata file")

	// Updates that change nothing write nothing.
	same, sameLoc, err := s.CommitView(ctx, ns, "recent", nil, []view.Update{view.NewSetCurrentVersionUpdate(2)}, nil)
	require.NoError(t, err)
	require.Equal(t, nextLoc, sameLoc)
	require.Equal(t, int64(2), same.CurrentVersionID())

	_, _, err = s.CommitView(ctx, ns, "nope", nil, nil, nil)
	require.ErrorIs(t, err, catalog.ErrNoSuchView)
}

func TestViewNamesShareTheTableNameSpace(t *testing.T) {
	s, dir := newService(t)
	ctx := t.Context()
	ns := catalog.Namespace{"sales"}
	require.NoError(t, s.CreateNamespace(ctx, ns, nil, nil))
	_, _, err := s.CreateTable(ctx, catalog.NewTable{Namespace: ns, Name: "orders", Schema: viewSchema()}, nil)
	require.NoError(t, err)
	nv := catalog.NewView{Schema: viewSchema(), Version: viewVersion(1, 0, "SELECT * FROM sales.orders")}
	_, _, err = s.CreateView(ctx, ns, "recent", nv, nil)
	require.NoError(t, err)
	require.Len(t, metadataFiles(t, dir), 2)

	// A view over an existing table or view name is refused, with no file left behind.
	_, _, err = s.CreateView(ctx, ns, "orders", nv, nil)
	require.ErrorIs(t, err, catalog.ErrTableAlreadyExists)
	_, _, err = s.CreateView(ctx, ns, "recent", nv, nil)
	require.ErrorIs(t, err, catalog.ErrViewAlreadyExists)
	_, _, err = s.CreateView(ctx, catalog.Namespace{"hr"}, "recent", nv, nil)
	require.ErrorIs(t, err, catalog.ErrNoSuchNamespace)
	require.Len(t, metadataFiles(t, dir), 2)

	// Invalid requests are named.
	var ve *catalog.ValidationError
	_, _, err = s.CreateView(ctx, ns, "elsewhere", catalog.NewView{Schema: viewSchema(), Version: nv.Version, Location: "file:///tmp/outside"}, nil)
	require.ErrorIs(t, err, catalog.ErrForbiddenLocation)
	_, _, err = s.CreateView(ctx, ns, "nover", catalog.NewView{Schema: viewSchema()}, nil)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "view-version", ve.Problems[0].Field)
	_, _, err = s.CreateView(ctx, ns, "bad/name", nv, nil)
	require.ErrorAs(t, err, &ve)

	// Each kind sees only its own entries.
	_, _, err = s.LoadView(ctx, ns, "orders")
	require.ErrorIs(t, err, catalog.ErrNoSuchView)
	_, _, err = s.LoadTable(ctx, ns, "recent")
	require.ErrorIs(t, err, catalog.ErrNoSuchTable)
	require.ErrorIs(t, s.DropView(ctx, ns, "orders", nil), catalog.ErrNoSuchView)
	_, _, err = s.LoadTable(ctx, ns, "orders")
	require.NoError(t, err, "dropping a view by a table's name leaves the table")
	_, err = s.GetDataset(ctx, ns, "recent")
	require.ErrorIs(t, err, catalog.ErrNoSuchTable, "a view is not a dataset")

	views, err := s.ListEntries(ctx, ns, catalog.KindView, "", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"recent"}, views)
	tables, err := s.ListEntries(ctx, ns, catalog.KindTable, "", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"orders"}, tables)

	// Rename moves the view, possibly to another namespace, but not onto a table.
	err = s.Rename(ctx, catalog.KindView, ns, "recent", ns, "orders", nil)
	require.ErrorIs(t, err, catalog.ErrTableAlreadyExists)
	require.EqualError(t, err, "Cannot rename sales.recent to sales.orders. Table already exists")
	archive := catalog.Namespace{"archive"}
	require.NoError(t, s.CreateNamespace(ctx, archive, nil, nil))
	_, loc, err := s.LoadView(ctx, ns, "recent")
	require.NoError(t, err)
	require.NoError(t, s.Rename(ctx, catalog.KindView, ns, "recent", archive, "latest", nil))
	_, _, err = s.LoadView(ctx, ns, "recent")
	require.ErrorIs(t, err, catalog.ErrNoSuchView)
	renamed, renamedLoc, err := s.LoadView(ctx, archive, "latest")
	require.NoError(t, err)
	require.Equal(t, loc, renamedLoc, "a rename keeps the files where they are")
	require.Equal(t, "SELECT * FROM sales.orders", sqlOf(renamed))
	require.ErrorIs(t, s.Rename(ctx, catalog.KindView, ns, "recent", archive, "again", nil), catalog.ErrNoSuchView)
	require.ErrorIs(t, s.Rename(ctx, catalog.KindView, ns, "orders", archive, "again", nil), catalog.ErrNoSuchView,
		"a view rename does not move a table")

	// A view keeps its namespace from being dropped; a dropped view is gone.
	require.ErrorIs(t, s.DropNamespace(ctx, archive, nil), catalog.ErrNamespaceNotEmpty)
	require.NoError(t, s.DropView(ctx, archive, "latest", nil))
	_, _, err = s.LoadView(ctx, archive, "latest")
	require.ErrorIs(t, err, catalog.ErrNoSuchView)
	require.ErrorIs(t, s.DropView(ctx, archive, "latest", nil), catalog.ErrNoSuchView)
	require.NoError(t, s.DropNamespace(ctx, archive, nil))
	views, err = s.ListEntries(ctx, ns, catalog.KindView, "", 100)
	require.NoError(t, err)
	require.Empty(t, views)
}

// Concurrent commits on one view: each either wins the compare-and-swap or gets
// ErrCommitFailed; none is lost, and the losers' files are removed.
func TestViewCommitCompareAndSwap(t *testing.T) {
	s, dir := newService(t)
	ctx := t.Context()
	ns := catalog.Namespace{"sales"}
	require.NoError(t, s.CreateNamespace(ctx, ns, nil, nil))
	_, _, err := s.CreateView(ctx, ns, "recent",
		catalog.NewView{Schema: viewSchema(), Version: viewVersion(1, 0, "SELECT * FROM sales.orders")}, nil)
	require.NoError(t, err)

	const writers = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      int
		conflict int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			md, _, err := s.LoadView(ctx, ns, "recent")
			if err != nil {
				t.Error(err)
				return
			}
			key := "writer." + string(rune('a'+i))
			_, _, err = s.CommitView(ctx, ns, "recent",
				[]view.Requirement{view.AssertViewUUID(md.ViewUUID())},
				[]view.Update{view.NewSetPropertiesUpdate(iceberg.Properties{key: "1"})}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, catalog.ErrCommitFailed):
				conflict++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, writers, won+conflict)
	require.GreaterOrEqual(t, won, 1)
	md, _, err := s.LoadView(ctx, ns, "recent")
	require.NoError(t, err)
	n := 0
	for k := range md.Properties() {
		if strings.HasPrefix(k, "writer.") {
			n++
		}
	}
	require.Equal(t, won, n, "exactly the winners' changes are in the view")
	require.Len(t, metadataFiles(t, dir), 1+won, "the losers' metadata files were removed")
}

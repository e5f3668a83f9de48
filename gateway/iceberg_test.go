package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	icebergcatalog "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/catalogtest"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/tabletest"
	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

func restCatalog(t *testing.T, env *testenv.Env, token string) *rest.Catalog {
	t.Helper()
	cat, err := rest.NewCatalog(t.Context(), "lakegate", env.URL+"/iceberg", rest.WithOAuthToken(token))
	require.NoError(t, err)
	return cat
}

// iceberg-go's own conformance suite, over HTTP with its REST client.
func TestIcebergGoConformance(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	catalogtest.RunCatalogTests(t, catalogtest.Config{
		NewCatalog:                  func(t *testing.T) icebergcatalog.Catalog { return restCatalog(t, env, admin) },
		SupportsNamespaceProperties: true,
	})
}

func idsTable(t *testing.T, sc *arrow.Schema, from, to int64) arrow.Table {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row-%d", i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	return array.NewTableFromRecords(sc, []arrow.Record{rec})
}

func scanIDs(t *testing.T, tbl *table.Table) []int64 { return tabletest.IDs(t, tbl) }

var eventsSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	iceberg.NestedField{ID: 2, Name: "data", Type: iceberg.PrimitiveTypes.String},
)

// Create a table, append Arrow data through the REST client, and scan back exactly those rows.
func TestIcebergGoAppendAndScan(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	cat := restCatalog(t, env, admin)
	ctx := t.Context()
	require.NoError(t, cat.CreateNamespace(ctx, table.Identifier{"iot"}, nil))
	ident := table.Identifier{"iot", "events"}
	tbl, err := cat.CreateTable(ctx, ident, eventsSchema)
	require.NoError(t, err)

	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	require.NoError(t, err)
	data := idsTable(t, sc, 0, 100)
	defer data.Release()
	tbl, err = tbl.AppendTable(ctx, data, 64, nil)
	require.NoError(t, err)
	more := idsTable(t, sc, 100, 150)
	defer more.Release()
	tbl, err = tbl.AppendTable(ctx, more, 64, nil)
	require.NoError(t, err)

	fresh, err := cat.LoadTable(ctx, ident)
	require.NoError(t, err)
	want := make([]int64, 150)
	for i := range want {
		want[i] = int64(i)
	}
	require.Equal(t, want, scanIDs(t, fresh))
	require.Len(t, fresh.Metadata().Snapshots(), 2)

	// The table is a dataset too, with the schema the engine created.
	r := env.Do(t, "GET", "/v1/datasets/iot/events", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"name":"data"`)

	// loadTable honours If-None-Match.
	r = env.Do(t, "GET", "/iceberg/v1/namespaces/iot/tables/events", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
	tag := r.Header.Get("ETag")
	require.NotEmpty(t, tag)
	r = env.Do(t, "GET", "/iceberg/v1/namespaces/iot/tables/events", admin, nil, "If-None-Match", tag)
	require.Equal(t, http.StatusNotModified, r.Status)
	r = env.Do(t, "GET", "/iceberg/v1/namespaces/iot/tables/events?snapshots=refs", admin, nil)
	require.Equal(t, http.StatusOK, r.Status)
}

// 8 clients append to one table at once, 50 commits each: every commit succeeds through
// retries, the row count is exact, and conflicts were answered with 409.
func TestConcurrentAppends(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	ctx := t.Context()
	setup := restCatalog(t, env, admin)
	require.NoError(t, setup.CreateNamespace(ctx, table.Identifier{"load"}, nil))
	ident := table.Identifier{"load", "events"}
	_, err := setup.CreateTable(ctx, ident, eventsSchema)
	require.NoError(t, err)

	const clients, commits = 8, 50
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cat := restCatalog(t, env, admin)
			for i := range commits {
				first := int64(c*commits+i) * 2
				for attempt := 0; ; attempt++ {
					tbl, err := cat.LoadTable(ctx, ident)
					if err != nil {
						t.Error(err)
						return
					}
					sc, _ := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
					data := idsTable(t, sc, first, first+2)
					_, err = tbl.AppendTable(ctx, data, 8, nil)
					data.Release()
					if err == nil {
						break
					}
					if !errors.Is(err, table.ErrCommitFailed) || attempt > 200 {
						t.Errorf("client %d commit %d: %v", c, i, err)
						return
					}
					conflicts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	tbl, err := setup.LoadTable(ctx, ident)
	require.NoError(t, err)
	ids := scanIDs(t, tbl)
	require.Len(t, ids, clients*commits*2)
	for i, id := range ids {
		require.Equal(t, int64(i), id, "every row exactly once")
	}
	require.Positive(t, conflicts.Load(), "concurrent commits must have conflicted")
	t.Logf("%d conflicts (409) retried", conflicts.Load())
	var n409 int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'table.commit' AND status = 409`).Scan(&n409))
	require.Equal(t, int(conflicts.Load()), n409, "each conflict was answered 409 and audited")
}

func TestIcebergGovernance(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	bob := testenv.Token(t, "bob", "analyst")
	ctx := t.Context()
	cat := restCatalog(t, env, admin)
	require.NoError(t, cat.CreateNamespace(ctx, table.Identifier{"sales"}, nil))
	_, err := cat.CreateTable(ctx, table.Identifier{"sales", "orders"}, eventsSchema)
	require.NoError(t, err)
	_, err = cat.CreateTable(ctx, table.Identifier{"sales", "secret"}, eventsSchema)
	require.NoError(t, err)

	// Without a grant: 403 on load and commit, in the Iceberg error shape.
	r := env.Do(t, "GET", "/iceberg/v1/namespaces/sales/tables/orders", bob, nil)
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Contains(t, string(r.Body), `"type":"ForbiddenException"`)
	r = env.Do(t, "POST", "/iceberg/v1/namespaces/sales/tables/orders", bob, `{"requirements":[],"updates":[{"action":"set-properties","updates":{"a":"b"}}]}`)
	require.Equal(t, http.StatusForbidden, r.Status)
	bobCat := restCatalog(t, env, bob)
	_, err = bobCat.LoadTable(ctx, table.Identifier{"sales", "orders"})
	require.Error(t, err)

	// A grant to load one table: bob sees that table only.
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "role", "principal": "analyst",
		"privilege": "table.load", "scope_type": "dataset", "namespace": "sales", "name": "orders"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r = env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "role", "principal": "analyst",
		"privilege": "table.list", "scope_type": "namespace", "namespace": "sales"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	tbl, err := bobCat.LoadTable(ctx, table.Identifier{"sales", "orders"})
	require.NoError(t, err)
	var listed []string
	for ident, err := range bobCat.ListTables(ctx, table.Identifier{"sales"}) {
		require.NoError(t, err)
		listed = append(listed, strings.Join(ident, "."))
	}
	require.Equal(t, []string{"sales.orders"}, listed)
	_, err = bobCat.LoadTable(ctx, table.Identifier{"sales", "secret"})
	require.Error(t, err)

	// Loading does not allow committing.
	_, _, err = bobCat.CommitTable(ctx, tbl.Identifier(), nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"x": "y"})})
	require.Error(t, err)

	// loadTable and commits are in the audit log with principal and table.
	admCat := restCatalog(t, env, admin)
	atbl, err := admCat.LoadTable(ctx, table.Identifier{"sales", "orders"})
	require.NoError(t, err)
	_, _, err = admCat.CommitTable(ctx, atbl.Identifier(), nil, []table.Update{table.NewSetPropertiesUpdate(iceberg.Properties{"owner": "team-a"})})
	require.NoError(t, err)
	env.Close() // drain the audit queue
	rows, err := env.Audit.Query(context.Background(), lineage.AuditQuery{Resource: "table:sales.orders", Limit: 1000})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Principal+" "+r.Action+" "+r.Decision] = true
	}
	for _, want := range []string{"bob table.load deny", "bob table.commit deny", "bob table.load allow", "alice table.load allow", "alice table.commit allow"} {
		require.True(t, seen[want], "audit has %q (have %v)", want, seen)
	}
}

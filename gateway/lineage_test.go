package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/api"
	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

// graphJSON is GET /v1/lineage's body, with the attributes the tests look at.
type graphJSON struct {
	Dataset   lineage.Dataset `json:"dataset"`
	Depth     int             `json:"depth"`
	Truncated bool            `json:"truncated"`
	Nodes     []struct {
		ID         string          `json:"id"`
		Kind       string          `json:"kind"`
		Attributes json.RawMessage `json:"attributes"`
	} `json:"nodes"`
	Edges []lineage.Edge `json:"edges"`
}

func (g graphJSON) snapshots(t *testing.T) []lineage.SnapshotRecord {
	t.Helper()
	var out []lineage.SnapshotRecord
	for _, n := range g.Nodes {
		if n.Kind == lineage.NodeSnapshot {
			var sn lineage.SnapshotRecord
			require.NoError(t, json.Unmarshal(n.Attributes, &sn))
			require.Equal(t, fmt.Sprintf("snapshot:%d", sn.SnapshotID), n.ID)
			out = append(out, sn)
		}
	}
	return out
}

// conformsToSpec checks a response of ours against api/openapi.yaml.
func conformsToSpec(t *testing.T, method, path string, r testenv.Response) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	require.NoError(t, err)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	req := httptest.NewRequest(method, path, nil)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	require.NoError(t, err, "%s %s answered what the contract does not describe: %s", method, path, r.Body)
}

// An engine appends twice through the Iceberg REST catalog: both snapshots are in the
// dataset's lineage, committed by the engine's principal in the request the audit log names.
func TestLineageOfCatalogCommits(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	cat := restCatalog(t, env, admin)
	ctx := t.Context()
	require.NoError(t, cat.CreateNamespace(ctx, table.Identifier{"iot"}, nil))
	tbl, err := cat.CreateTable(ctx, table.Identifier{"iot", "events"}, eventsSchema)
	require.NoError(t, err)
	sc, err := table.SchemaToArrowSchema(tbl.Schema(), nil, false, false)
	require.NoError(t, err)
	for _, rows := range [][2]int64{{0, 100}, {100, 150}} {
		data := idsTable(t, sc, rows[0], rows[1])
		tbl, err = tbl.AppendTable(ctx, data, 64, nil)
		data.Release()
		require.NoError(t, err)
	}
	engineSnapshots := tbl.Metadata().Snapshots()
	require.Len(t, engineSnapshots, 2)
	first, second := engineSnapshots[0], engineSnapshots[1]

	const path = "/v1/lineage?dataset=iot.events"
	r := env.Do(t, "GET", path, admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	conformsToSpec(t, "GET", path, r)
	var g graphJSON
	r.JSON(t, &g)
	require.Equal(t, lineage.Dataset{Namespace: "iot", Name: "events"}, g.Dataset)
	require.Equal(t, 3, g.Depth)
	require.False(t, g.Truncated)
	snaps := g.snapshots(t)
	require.Len(t, snaps, 2)
	require.Equal(t, second.SnapshotID, snaps[0].SnapshotID, "newest first")
	require.Equal(t, first.SnapshotID, snaps[1].SnapshotID)
	for i, sn := range snaps {
		require.Equal(t, lineage.SourceCatalog, sn.Source)
		require.Equal(t, "alice", sn.CommittedBy)
		require.Equal(t, "append", sn.Operation)
		require.Nil(t, sn.FirstSeq)
		require.NotEmpty(t, sn.RequestID)
		// The request id is the commit's audit row, written in the same transaction.
		row := env.AuditRow(t, sn.RequestID)
		require.Equal(t, "table.commit", row.Action)
		require.Equal(t, "table:iot.events", row.Resource)
		require.Equal(t, http.StatusOK, row.Status)
		require.Equal(t, []int64{50, 100}[i], *sn.AddedRecords)
	}
	require.Equal(t, first.SnapshotID, *snaps[0].ParentSnapshotID)
	require.Nil(t, snaps[1].ParentSnapshotID)
	require.ElementsMatch(t, []lineage.Edge{
		{From: fmt.Sprintf("snapshot:%d", first.SnapshotID), To: "dataset:iot.events", Kind: lineage.EdgeVersionOf},
		{From: fmt.Sprintf("snapshot:%d", second.SnapshotID), To: "dataset:iot.events", Kind: lineage.EdgeVersionOf},
		{From: "producer:alice", To: fmt.Sprintf("snapshot:%d", first.SnapshotID), Kind: lineage.EdgeCommitted},
		{From: "producer:alice", To: fmt.Sprintf("snapshot:%d", second.SnapshotID), Kind: lineage.EdgeCommitted},
	}, g.Edges)

	// depth and limit narrow the graph.
	r = env.Do(t, "GET", path+"&depth=1&limit=1", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	g = graphJSON{}
	r.JSON(t, &g)
	require.True(t, g.Truncated)
	require.Len(t, g.Nodes, 2)
	require.Equal(t, second.SnapshotID, g.snapshots(t)[0].SnapshotID)

	// What made one snapshot.
	snapPath := fmt.Sprintf("/v1/datasets/iot/events/snapshots/%d/lineage", first.SnapshotID)
	r = env.Do(t, "GET", snapPath, admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	conformsToSpec(t, "GET", snapPath, r)
	var sl lineage.SnapshotLineage
	r.JSON(t, &sl)
	require.Equal(t, first.SnapshotID, sl.Snapshot.SnapshotID)
	require.Equal(t, lineage.SourceCatalog, sl.Snapshot.Source)
	require.Empty(t, sl.Batches)
	require.Equal(t, []lineage.Producer{{Name: "alice", Roles: []string{}}}, sl.Producers)

	// Unknown snapshots and datasets are 404; a malformed dataset is 400.
	r = env.Do(t, "GET", "/v1/datasets/iot/events/snapshots/12345/lineage", admin, nil)
	require.Equal(t, http.StatusNotFound, r.Status, string(r.Body))
	require.Equal(t, "not_found", r.Err(t).Error.Code)
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", fmt.Sprintf("/v1/datasets/iot/nope/snapshots/%d/lineage", first.SnapshotID), admin, nil).Status)
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", "/v1/lineage?dataset=iot.nope", admin, nil).Status)
	require.Equal(t, http.StatusBadRequest, env.Do(t, "GET", "/v1/lineage?dataset=events", admin, nil).Status)
	require.Equal(t, http.StatusBadRequest, env.Do(t, "GET", path+"&depth=4", admin, nil).Status)
	require.Equal(t, http.StatusBadRequest, env.Do(t, "GET", "/v1/datasets/iot/events/snapshots/x/lineage", admin, nil).Status)
}

// lineage.read: admin and auditor by role, anyone else through a grant of lineage.read.
func TestLineageAuthorization(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, ordersBody()).Status)
	bob := testenv.Token(t, "bob", "analyst")
	auditor := testenv.Token(t, "dave", "auditor")
	paths := []string{"/v1/lineage?dataset=sales.orders", "/v1/datasets/sales/orders/snapshots/1/lineage"}
	okStatus := []int{http.StatusOK, http.StatusNotFound} // the dataset has no snapshot 1

	for _, p := range paths {
		r := env.Do(t, "GET", p, bob, nil)
		require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
		e := r.Err(t)
		require.Equal(t, "permission_denied", e.Error.Code)
		require.Contains(t, e.Error.Message, "lineage.read")
		row := env.AuditRow(t, e.Error.RequestID)
		require.Equal(t, lineage.DecisionDeny, row.Decision)
		require.Equal(t, "lineage.read", row.Action)
		require.Equal(t, "lineage:sales.orders", row.Resource)
	}
	for i, p := range paths {
		r := env.Do(t, "GET", p, auditor, nil)
		require.Equal(t, okStatus[i], r.Status, string(r.Body))
		row := env.AuditRow(t, r.Header.Get("X-Request-Id"))
		require.Equal(t, lineage.DecisionAllow, row.Decision)
		require.Equal(t, "role auditor", row.Reason)
	}
	r := env.Do(t, "GET", paths[0], auditor, nil)
	var g graphJSON
	r.JSON(t, &g)
	require.Len(t, g.Nodes, 1, "a dataset without snapshots has only its own node")
	require.Empty(t, g.Edges)

	// Reading a dataset does not imply reading its lineage.
	grant := func(privilege string) {
		t.Helper()
		r := env.Do(t, "POST", "/v1/grants", admin, map[string]any{
			"principal_type": "role", "principal": "analyst", "privilege": privilege, "scope_type": "namespace", "namespace": "sales"})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	grant("dataset.read")
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", paths[0], bob, nil).Status)
	grant("lineage.read")
	for i, p := range paths {
		require.Equal(t, okStatus[i], env.Do(t, "GET", p, bob, nil).Status)
	}
}

// A multi-table transaction records the lineage of every table's new snapshots in its own
// transaction: when it fails, no lineage is left behind.
func TestLineageOfTransactionCommit(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusOK, env.Do(t, "POST", "/iceberg/v1/namespaces", admin, `{"namespace":["tx"]}`).Status)
	locations := map[string]string{}
	for _, n := range []string{"a", "b"} {
		r := env.Do(t, "POST", "/iceberg/v1/namespaces/tx/tables", admin, []byte(`{"name":"`+n+`","schema":{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","type":"long","required":true}]}}`))
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var created struct {
			Metadata struct {
				Location string `json:"location"`
			} `json:"metadata"`
		}
		r.JSON(t, &created)
		locations[n] = created.Metadata.Location
	}
	change := func(tableName string, snapshotID int64, schemaID int) map[string]any {
		return map[string]any{
			"identifier":   map[string]any{"namespace": []string{"tx"}, "name": tableName},
			"requirements": []any{map[string]any{"type": "assert-current-schema-id", "current-schema-id": schemaID}},
			"updates": []any{
				map[string]any{"action": "add-snapshot", "snapshot": map[string]any{
					"snapshot-id": snapshotID, "sequence-number": 1, "timestamp-ms": time.Now().UnixMilli(), "schema-id": 0,
					"manifest-list": fmt.Sprintf("%s/metadata/snap-%d.avro", locations[tableName], snapshotID),
					"summary":       map[string]string{"operation": "append", "added-records": "7", "added-data-files": "1"},
				}},
				map[string]any{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": snapshotID},
			},
		}
	}
	snapshotsOf := func(name string) []lineage.SnapshotRecord {
		t.Helper()
		r := env.Do(t, "GET", "/v1/lineage?dataset=tx."+name, admin, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var g graphJSON
		r.JSON(t, &g)
		return g.snapshots(t)
	}

	// b's requirement fails: nothing is committed, a's lineage included.
	r := env.Do(t, "POST", "/iceberg/v1/transactions/commit", admin, map[string]any{"table-changes": []any{change("a", 11, 0), change("b", 21, 9)}})
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Empty(t, snapshotsOf("a"))

	r = env.Do(t, "POST", "/iceberg/v1/transactions/commit", admin, map[string]any{"table-changes": []any{change("a", 12, 0), change("b", 22, 0)}})
	require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
	reqID := r.Header.Get("X-Request-Id")
	for name, id := range map[string]int64{"a": 12, "b": 22} {
		snaps := snapshotsOf(name)
		require.Len(t, snaps, 1)
		require.Equal(t, id, snaps[0].SnapshotID)
		require.Equal(t, reqID, snaps[0].RequestID)
		require.Equal(t, "alice", snaps[0].CommittedBy)
		require.Equal(t, int64(7), *snaps[0].AddedRecords)
		require.Equal(t, int64(1), *snaps[0].AddedFiles)
		require.Equal(t, int64(1), snaps[0].SequenceNumber)
	}
	require.Equal(t, "transaction.commit", env.AuditRow(t, reqID).Action)
}

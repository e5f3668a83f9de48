package gateway_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/testenv"
	"github.com/lakegate/lakegate/lineage"
)

type ingestReceipt struct {
	BatchID    string `json:"batch_id"`
	Accepted   int    `json:"accepted"`
	Rejected   int    `json:"rejected"`
	StreamSeq  uint64 `json:"stream_seq"`
	SnapshotID *int64 `json:"snapshot_id"`
	Rejections []struct {
		Index  int    `json:"index"`
		Field  string `json:"field"`
		Rule   string `json:"rule"`
		Reason string `json:"reason"`
	} `json:"rejections"`
}

func eventsDataset() map[string]any {
	return map[string]any{"namespace": "iot", "name": "events",
		"schema": map[string]any{"fields": []any{
			map[string]any{"name": "id", "type": "long", "required": true},
			map[string]any{"name": "ts", "type": "timestamptz", "required": true},
			map[string]any{"name": "device", "type": "string"},
			map[string]any{"name": "temp", "type": "double"},
		}},
		"partitioning": []any{map[string]any{"field": "ts", "transform": "day"}},
		"quality":      []any{map[string]any{"rule": "range", "field": "temp", "min": -50, "max": 150}, map[string]any{"rule": "unique_in_batch", "field": "id"}},
	}
}

// Records go from an authorized producer through JetStream and the writer into a snapshot
// that an engine reads; invalid records are rejected with their reasons.
func TestIngestEndToEnd(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	producer := testenv.Token(t, "sensor-7", "producer")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, eventsDataset()).Status)

	// Without a grant the producer is refused, and nothing is buffered.
	r := env.Do(t, "POST", "/v1/datasets/iot/events/records", producer, `[{"id":1,"ts":"2026-01-01T00:00:00Z"}]`)
	require.Equal(t, http.StatusForbidden, r.Status)
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/grants", admin, map[string]any{"principal_type": "role", "principal": "producer",
		"privilege": "records.write", "scope_type": "dataset", "namespace": "iot", "name": "events"}).Status)

	var want []int64
	for b := range 5 {
		var sb strings.Builder
		sb.WriteString("[")
		for i := range 100 {
			id := int64(b*100 + i)
			temp := 20.5
			if i%10 == 0 {
				temp = 999 // out of range: rejected
			} else {
				want = append(want, id)
			}
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `{"id":%d,"ts":%d,"device":"d-%d","temp":%g}`, id, 1767225600000+id, id%3, temp)
		}
		sb.WriteString("]")
		r := env.Do(t, "POST", "/v1/datasets/iot/events/records", producer, sb.String())
		require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
		var rc ingestReceipt
		r.JSON(t, &rc)
		require.Equal(t, 90, rc.Accepted)
		require.Equal(t, 10, rc.Rejected)
		require.Equal(t, "range:temp", rc.Rejections[0].Rule)
		require.Equal(t, "temp", rc.Rejections[0].Field)
	}

	// NDJSON, gzip, and read-your-writes.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, "{\"id\":1000,\"ts\":\"2026-01-02T03:04:05+02:00\"}\n{\"id\":1001,\"ts\":\"2026-01-02T03:04:05Z\",\"device\":\"x\"}\n")
	require.NoError(t, zw.Close())
	r = env.Do(t, "POST", "/v1/datasets/iot/events/records?wait=visible", producer, gz.Bytes(),
		"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip")
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	var rc ingestReceipt
	r.JSON(t, &rc)
	require.Equal(t, 2, rc.Accepted)
	require.NotNil(t, rc.SnapshotID, "wait=visible names the snapshot")
	want = append(want, 1000, 1001)

	tbl, err := restCatalog(t, env, admin).LoadTable(t.Context(), table.Identifier{"iot", "events"})
	require.NoError(t, err)
	got := scanIDs(t, tbl)
	slices.Sort(want)
	require.Equal(t, want, got, "exactly the valid records")

	// The lineage shows the producer, its batches and the snapshots.
	r = env.Do(t, "GET", "/v1/lineage?dataset=iot.events", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "producer:sensor-7")
	require.Contains(t, string(r.Body), "batch:"+rc.BatchID)
	// … with the roles of the producing principal, on its batches and on the producer.
	var g graphJSON
	r.JSON(t, &g)
	seen := 0
	for _, n := range g.Nodes {
		switch n.ID {
		case "producer:sensor-7":
			var p lineage.Producer
			require.NoError(t, json.Unmarshal(n.Attributes, &p))
			require.Equal(t, []string{"producer"}, p.Roles, "the producer's roles")
			seen++
		case "batch:" + rc.BatchID:
			var b lineage.BatchRecord
			require.NoError(t, json.Unmarshal(n.Attributes, &b))
			require.Equal(t, []string{"producer"}, b.ProducerRoles, "the batch's producer_roles")
			seen++
		}
	}
	require.Equal(t, 2, seen, "the lineage has the producer and the batch")

	checkQuarantine(t, env, admin, producer)

	metrics := string(env.Do(t, "GET", "/metrics", "", nil).Body)
	for _, line := range []string{
		`lakegate_ingest_records_total{dataset="iot.events",outcome="accepted"} 452`,
		`lakegate_ingest_records_total{dataset="iot.events",outcome="rejected"} 50`,
		`lakegate_ingest_rejections_total{dataset="iot.events",rule="range:temp"} 50`,
		`lakegate_writer_records_quarantined_total 50`,
		`lakegate_ingest_batch_bytes_count 6`,
	} {
		require.Contains(t, metrics, line)
	}
}

// checkQuarantine checks the quarantine of TestIngestEndToEnd's 50 rejected records: the
// quarantine table through the catalog, and GET …/quarantine with its filters and its grant.
func checkQuarantine(t *testing.T, env *testenv.Env, admin, producer string) {
	qt, err := restCatalog(t, env, admin).LoadTable(t.Context(), table.Identifier{"iot", "events__quarantine"})
	require.NoError(t, err)
	at, err := qt.Scan(table.WithSelectedFields("raw_record", "producer", "rule_ids")).ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	require.EqualValues(t, 50, at.NumRows(), "the quarantine table holds exactly the rejected records")
	column := func(name string) *array.String {
		return at.Column(at.Schema().FieldIndices(name)[0]).Data().Chunk(0).(*array.String)
	}
	require.Contains(t, column("raw_record").Value(0), `"temp":999`)
	require.Equal(t, "sensor-7", column("producer").Value(0))

	var list struct {
		Records []struct {
			BatchID     string         `json:"batch_id"`
			RecordIndex int            `json:"record_index"`
			Producer    string         `json:"producer"`
			Record      map[string]any `json:"record"`
			RuleIDs     []string       `json:"rule_ids"`
			Reasons     []struct {
				Field, Rule, Reason string
			} `json:"reasons"`
		} `json:"records"`
		Truncated bool `json:"truncated"`
	}
	r := env.Do(t, "GET", "/v1/datasets/iot/events/quarantine?limit=20", admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &list)
	require.Len(t, list.Records, 20)
	require.True(t, list.Truncated)
	first := list.Records[0]
	require.Equal(t, "sensor-7", first.Producer)
	require.EqualValues(t, 999, first.Record["temp"])
	require.Equal(t, []string{"range:temp"}, first.RuleIDs)
	require.Equal(t, "temp", first.Reasons[0].Field)
	require.NotEmpty(t, first.Reasons[0].Reason)
	require.Zero(t, first.RecordIndex%10, "records 0, 10, 20, … of each request were rejected")

	r = env.Do(t, "GET", "/v1/datasets/iot/events/quarantine?limit=1000&batch_id="+first.BatchID, admin, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.JSON(t, &list)
	require.Len(t, list.Records, 10)
	require.False(t, list.Truncated)
	for i, rec := range list.Records {
		require.Equal(t, first.BatchID, rec.BatchID)
		require.Equal(t, i*10, rec.RecordIndex, "one batch's records in body order")
	}
	for query, n := range map[string]int{"rule=range:temp": 50, "rule=not_null:id": 0, "since=2020-01-01T00:00:00Z&until=2021-01-01T00:00:00Z": 0} {
		r = env.Do(t, "GET", "/v1/datasets/iot/events/quarantine?limit=1000&"+query, admin, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &list)
		require.Len(t, list.Records, n, query)
	}
	for _, bad := range []string{"limit=0", "since=yesterday", "limit=x"} {
		r = env.Do(t, "GET", "/v1/datasets/iot/events/quarantine?"+bad, admin, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, bad)
	}
	// The quarantine is the quarantine table's data: a producer that may write the dataset
	// may not read it, and nobody writes the quarantine table through the records API.
	require.Equal(t, http.StatusForbidden, env.Do(t, "GET", "/v1/datasets/iot/events/quarantine", producer, nil).Status)
	r = env.Do(t, "POST", "/v1/datasets/iot/events__quarantine/records", admin, `[{"id":1}]`)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	require.Contains(t, r.Err(t).Error.Message, "quarantine table")
	require.Equal(t, http.StatusNotFound, env.Do(t, "GET", "/v1/datasets/iot/nothing/quarantine", admin, nil).Status)
}

// Bad bodies get a clear 4xx and nothing of them is accepted.
func TestIngestBadInput(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, eventsDataset()).Status)
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	cases := []struct {
		name    string
		body    any
		headers []string
		status  int
		msg     string
	}{
		{"malformed at record 2", `[{"id":1,"ts":1},{"id":2,"ts":2},{"id":3,`, nil, 400, "record 2"},
		{"wrong content type", `id=1`, []string{"Content-Type", "text/plain"}, 415, "Content-Type"},
		{"unknown dataset", `[]`, nil, 404, ""},
		{"deeply nested", `[{"id":1,"ts":1,"device":` + deep + `}]`, nil, 413, "nested"},
		{"invalid UTF-8", []byte("[{\"id\":1,\"ts\":1,\"device\":\"\xff\xfe\"}]"), nil, 400, "UTF-8"},
		{"bad content encoding", `[]`, []string{"Content-Encoding", "br"}, 415, "Content-Encoding"},
		{"gzip that is not gzip", `[]`, []string{"Content-Encoding", "gzip"}, 400, "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/datasets/iot/events/records"
			if tc.name == "unknown dataset" {
				path = "/v1/datasets/iot/nope/records"
			}
			r := env.Do(t, "POST", path, admin, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, string(r.Body))
			require.Contains(t, strings.ToLower(string(r.Body)), strings.ToLower(tc.msg))
		})
	}
	// Numbers out of range are rejections, not errors.
	r := env.Do(t, "POST", "/v1/datasets/iot/events/records", admin, `[{"id":99999999999999999999,"ts":1}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	var rc ingestReceipt
	require.NoError(t, json.Unmarshal(r.Body, &rc))
	require.Equal(t, 1, rc.Rejected)
	require.Equal(t, 0, rc.Accepted)

	// A million tiny records is over the per-request limit: 413, nothing accepted.
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 1_000_000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"id":1,"ts":1}`)
	}
	sb.WriteString("]")
	r = env.Do(t, "POST", "/v1/datasets/iot/events/records", admin, sb.String())
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Body[:min(200, len(r.Body))]))

	// An oversized body: a small gzip that inflates past the limit (32 MiB) gets 413.
	huge := "[" + strings.Repeat(" ", 33<<20) + "]"
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, err := zw.Write([]byte(huge))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	r = env.Do(t, "POST", "/v1/datasets/iot/events/records", admin, bomb.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "limit")

	// Nothing of any refused request was stored: only the out-of-range record's batch exists.
	require.Equal(t, `lakegate_ingest_records_total{dataset="iot.events",outcome="rejected"} 1`,
		grepLine(string(env.Do(t, "GET", "/metrics", "", nil).Body), `lakegate_ingest_records_total{dataset="iot.events",outcome="rejected"}`))
}

// grepLine returns the first line of text that starts with prefix.
func grepLine(text, prefix string) string {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// A producer retry with the same Idempotency-Key is accepted once.
func TestIngestIdempotencyKey(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	admin := testenv.Token(t, "alice", "admin")
	require.Equal(t, http.StatusCreated, env.Do(t, "POST", "/v1/datasets", admin, eventsDataset()).Status)
	body := `[{"id":1,"ts":1},{"id":2,"ts":2}]`
	const key = "0192f0a8-7c1e-7a4e-9a55-5b2b2c7d9eaa"
	r1 := env.Do(t, "POST", "/v1/datasets/iot/events/records", admin, body, "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, r1.Status, string(r1.Body))
	r2 := env.Do(t, "POST", "/v1/datasets/iot/events/records", admin, body, "Idempotency-Key", key)
	require.Equal(t, http.StatusAccepted, r2.Status)
	require.JSONEq(t, string(r1.Body), string(r2.Body), "the retry gets the first receipt")
	r := env.Do(t, "POST", "/v1/datasets/iot/events/records?wait=visible", admin, `[{"id":3,"ts":3}]`)
	require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	tbl, err := restCatalog(t, env, admin).LoadTable(t.Context(), table.Identifier{"iot", "events"})
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3}, scanIDs(t, tbl))
}

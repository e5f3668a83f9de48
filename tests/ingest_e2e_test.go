package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/pgtest"
)

const (
	e2eRecords   = 100_000
	e2eProducers = 8
	e2ePerBatch  = 500
)

// e2eInvalid tells whether record id is made invalid by the generator, and how: a negative
// amount (rule range:amount) or an unknown status (allowed_values:status).
func e2eInvalid(id int) (bool, string) {
	switch {
	case id%37 == 0:
		return true, "range:amount"
	case id%101 == 0:
		return true, "allowed_values:status"
	}
	return false, ""
}

func e2eRecord(id int) string {
	amount, status := fmt.Sprintf("%d.%02d", id%5000, id%100), []string{"new", "paid", "shipped"}[id%3]
	switch _, rule := e2eInvalid(id); rule {
	case "range:amount":
		amount = "-1.00"
	case "allowed_values:status":
		status = "lost"
	}
	return fmt.Sprintf(`{"id":%d,"ts":%d,"customer":"c-%d","amount":"%s","status":"%s"}`, id, 1767225600000+int64(id)*1000, id%997, amount, status)
}

// sendBatch posts records [from, to) as JSON (even batches) or gzip NDJSON (odd ones) and
// returns the receipt.
func sendBatch(t *testing.T, base, token string, batch, from, to int, query string) ingestReceipt {
	var body bytes.Buffer
	contentType, encoding := "application/json", ""
	if batch%2 == 0 {
		body.WriteByte('[')
		for id := from; id < to; id++ {
			if id > from {
				body.WriteByte(',')
			}
			body.WriteString(e2eRecord(id))
		}
		body.WriteByte(']')
	} else {
		contentType, encoding = "application/x-ndjson", "gzip"
		zw := gzip.NewWriter(&body)
		for id := from; id < to; id++ {
			fmt.Fprintln(zw, e2eRecord(id))
		}
		require.NoError(t, zw.Close())
	}
	req, err := http.NewRequest("POST", base+"/v1/datasets/shop/orders/records"+query, &body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(b))
	var rc ingestReceipt
	require.NoError(t, json.Unmarshal(b, &rc))
	return rc
}

type ingestReceipt struct {
	BatchID    string `json:"batch_id"`
	Accepted   int    `json:"accepted"`
	Rejected   int    `json:"rejected"`
	SnapshotID *int64 `json:"snapshot_id"`
	Rejections []struct {
		Index int    `json:"index"`
		Rule  string `json:"rule"`
	} `json:"rejections"`
}

// Done-when #1 of streaming ingest, against the real binary: 8 producers stream 100,000
// records (some invalid) in 200 requests; afterwards iceberg-go's REST client scans exactly
// the valid ids, the quarantine table holds exactly the invalid ones with their reasons, the
// lineage API shows the producers, batches and snapshots, and PyIceberg counts the same rows.
func TestIngest100kEndToEnd(t *testing.T) {
	python := testPython(t, "TestIngest100kEndToEnd")
	bin := buildBinary(t)
	dbURL := pgtest.URL(t)
	_, base, dataDir := startLakegate(t, bin, dbURL)
	admin := client{t: t, base: base, token: mintToken(t, bin, dataDir, "owner", "admin")}

	status, body := admin.do("POST", "/v1/datasets", `{"namespace":"shop","name":"orders",
		"schema":{"fields":[{"name":"id","type":"long","required":true},{"name":"ts","type":"timestamptz","required":true},
			{"name":"customer","type":"string"},{"name":"amount","type":"decimal(10,2)"},{"name":"status","type":"string"}]},
		"partitioning":[{"field":"ts","transform":"day"}],
		"quality":[{"rule":"range","field":"amount","min":0,"max":10000},{"rule":"allowed_values","field":"status","values":["new","paid","shipped"]}]}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = admin.do("POST", "/v1/grants", `{"principal_type":"role","principal":"producer","privilege":"records.write","scope_type":"dataset","namespace":"shop","name":"orders"}`)
	require.Equal(t, http.StatusCreated, status, string(body))

	var (
		mu       sync.Mutex
		batches  = map[string]bool{}
		wg       sync.WaitGroup
		perProd  = e2eRecords / e2eProducers
		accepted int
	)
	start := time.Now()
	for p := range e2eProducers {
		token := mintToken(t, bin, dataDir, fmt.Sprintf("producer-%d", p), "producer")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := p * perProd; from < (p+1)*perProd; from += e2ePerBatch {
				rc := sendBatch(t, base, token, from/e2ePerBatch, from, from+e2ePerBatch, "")
				var wantRejected []int
				for id := from; id < from+e2ePerBatch; id++ {
					if bad, _ := e2eInvalid(id); bad {
						wantRejected = append(wantRejected, id-from)
					}
				}
				var got []int
				for _, r := range rc.Rejections {
					got = append(got, r.Index)
				}
				require.Equal(t, wantRejected, got, "the receipt names exactly the invalid records")
				mu.Lock()
				batches[rc.BatchID] = true
				accepted += rc.Accepted
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d records in %d requests accepted in %s", e2eRecords, len(batches), time.Since(start).Round(time.Millisecond))
	// The writer commits a dataset's batches in stream order: once this one is visible, so
	// are all before it.
	last := sendBatch(t, base, mintToken(t, bin, dataDir, "producer-0", "producer"), 0, e2eRecords, e2eRecords+1, "?wait=visible")
	require.NotNil(t, last.SnapshotID)

	var wantIDs, wantBad []int64
	for id := range e2eRecords + 1 {
		if bad, _ := e2eInvalid(id); bad {
			wantBad = append(wantBad, int64(id))
		} else {
			wantIDs = append(wantIDs, int64(id))
		}
	}
	require.Equal(t, len(wantIDs)-1, accepted)

	cat, err := rest.NewCatalog(t.Context(), "lakegate", base+"/iceberg", rest.WithOAuthToken(admin.token))
	require.NoError(t, err)
	tbl, err := cat.LoadTable(t.Context(), table.Identifier{"shop", "orders"})
	require.NoError(t, err)
	require.Equal(t, wantIDs, scanInt64s(t, tbl, "id"), "the table holds exactly the valid records, once each")

	// The quarantine table holds exactly the invalid ones, with their reasons.
	qt, err := cat.LoadTable(t.Context(), table.Identifier{"shop", "orders__quarantine"})
	require.NoError(t, err)
	at, err := qt.Scan(table.WithSelectedFields("raw_record", "rule_ids", "batch_id")).ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	var badIDs []int64
	col := func(name string) int { return at.Schema().FieldIndices(name)[0] }
	for i, chunk := range at.Column(col("raw_record")).Data().Chunks() {
		raws := chunk.(*array.String)
		rules := at.Column(col("rule_ids")).Data().Chunk(i).(*array.List)
		batchIDs := at.Column(col("batch_id")).Data().Chunk(i).(*array.String)
		for j := range raws.Len() {
			var rec struct{ ID int64 }
			require.NoError(t, json.Unmarshal([]byte(raws.Value(j)), &rec))
			badIDs = append(badIDs, rec.ID)
			_, wantRule := e2eInvalid(int(rec.ID))
			start, end := rules.ValueOffsets(j)
			require.Equal(t, int64(1), end-start)
			require.Equal(t, wantRule, rules.ListValues().(*array.String).Value(int(start)), "record %d", rec.ID)
			require.True(t, batches[batchIDs.Value(j)], "record %d names its batch", rec.ID)
		}
	}
	slices.Sort(badIDs)
	require.Equal(t, wantBad, badIDs, "the quarantine holds exactly the invalid records")

	// Lineage: producers → batches → snapshots → dataset.
	status, body = admin.do("GET", "/v1/lineage?dataset=shop.orders&limit=1000", "")
	require.Equal(t, http.StatusOK, status, string(body))
	for p := range e2eProducers {
		require.Contains(t, string(body), fmt.Sprintf(`"producer:producer-%d"`, p))
	}
	snapID := strconv.FormatInt(*last.SnapshotID, 10)
	require.Contains(t, string(body), "snapshot:"+snapID)
	status, body = admin.do("GET", "/v1/datasets/shop/orders/snapshots/"+snapID+"/lineage", "")
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), last.BatchID)
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var snaps, committed int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(DISTINCT snapshot_id), count(*) FROM lineage_batches
		WHERE namespace = 'shop' AND dataset = 'orders'`).Scan(&snaps, &committed))
	require.Equal(t, len(batches)+1, committed, "every batch is in the lineage once")
	require.Positive(t, snaps)
	t.Logf("%d batches committed in %d snapshots", len(batches)+1, snaps)

	// PyIceberg reads the same table and counts the same rows.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	py := exec.CommandContext(ctx, python, "-c", `
import os
from pyiceberg.catalog.rest import RestCatalog
cat = RestCatalog("lakegate", uri=os.environ["LAKEGATE_URI"], token=os.environ["LAKEGATE_TOKEN"])
t = cat.load_table("shop.orders")
print(t.scan(selected_fields=("id",)).to_arrow().num_rows)
print(cat.load_table("shop.orders__quarantine").scan().to_arrow().num_rows)
`)
	py.Env = append(os.Environ(), "LAKEGATE_URI="+base+"/iceberg", "LAKEGATE_TOKEN="+admin.token, "PYICEBERG_HOME="+t.TempDir())
	out, err := py.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, fmt.Sprintf("%d\n%d", len(wantIDs), len(wantBad)), strings.TrimSpace(string(out)))
}

// scanInt64s scans one long column of tbl, sorted.
func scanInt64s(t *testing.T, tbl *table.Table, column string) []int64 {
	t.Helper()
	at, err := tbl.Scan(table.WithSelectedFields(column)).ToArrowTable(t.Context())
	require.NoError(t, err)
	defer at.Release()
	var out []int64
	for _, chunk := range at.Column(0).Data().Chunks() {
		out = append(out, chunk.(*array.Int64).Int64Values()...)
	}
	slices.Sort(out)
	return out
}

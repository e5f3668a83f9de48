package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
)

// Page tokens come back from clients: decoding must never panic, and only tokens of the
// right arity are accepted.
func FuzzPageToken(f *testing.F) {
	f.Add(pageToken("sales", "orders"))
	f.Add(pageToken("1"))
	f.Add("")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, n := range []int{1, 2} {
			out, err := parsePageToken(tok, n)
			if err == nil && tok != "" && len(out) != n {
				t.Fatalf("accepted a token of %d parts as %d", len(out), n)
			}
		}
	})
}

// The dataset registration body is untrusted: decoding and validating it must never panic,
// and a body that decodes and validates must yield an Iceberg schema.
func FuzzDatasetCreateBody(f *testing.F) {
	f.Add([]byte(`{"namespace":"sales","name":"orders","schema":{"fields":[{"name":"id","type":"long","required":true},{"name":"a","type":{"type":"list","element":"string"}}]},"partitioning":[{"field":"id","transform":"bucket[4]"}],"quality":[{"rule":"range","field":"id","min":0}]}`))
	f.Add([]byte(`{"schema":{"fields":[{"name":"m","type":{"type":"map","key":"string","value":{"type":"struct","fields":[]}}}]}}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`{"namespace":1}`))
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/datasets", bytes.NewReader(body))
		c := e.NewContext(req, httptest.NewRecorder())
		var d datasetCreate
		if err := decodeJSON(c, &d); err != nil {
			if classify(err).Status != http.StatusBadRequest {
				t.Fatalf("a decode error must be a 400, got %d: %v", classify(err).Status, err)
			}
			return
		}
		if err := d.Schema.Validate(); err != nil {
			if classify(err).Status >= 500 {
				t.Fatalf("validation error classified as %d", classify(err).Status)
			}
			return
		}
		sc, err := d.Schema.ToIceberg()
		if err != nil {
			t.Fatalf("a validated schema must convert: %v", err)
		}
		if _, err := catalog.PartitionSpec(sc, d.Partitioning); err != nil && classify(err).Status >= 500 {
			t.Fatalf("partition error classified as %d", classify(err).Status)
		}
		if _, err := validateRules(d.Quality, d.Schema); err != nil && classify(err).Status >= 500 {
			t.Fatalf("rule error classified as %d: %v", classify(err).Status, err)
		}
		if _, err := json.Marshal(toJSON(catalog.Dataset{Schema: d.Schema, Partitioning: d.Partitioning})); err != nil {
			t.Fatalf("encode: %v", err)
		}
	})
}

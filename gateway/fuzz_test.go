package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/lakegate/lakegate/catalog"
)

// Page tokens come back from clients: opening one must never panic, accepts only what this
// server sealed for the same scope, with the right number of parts, and a sealed cursor comes
// back intact but not from any altered token.
func FuzzPageToken(f *testing.F) {
	p, err := newPageTokens([]byte("fuzz page token key of 32 bytes!"))
	if err != nil {
		f.Fatal(err)
	}
	scope := []byte("scope")
	f.Add(p.seal(scope, []string{"sales", "orders"}), "sales", "orders", 0)
	f.Add(p.seal(scope, []string{"1"}), "", "1", 5)
	f.Add("", "a", "", 1)
	f.Add("!!!", "\xff", "b", 40)
	f.Fuzz(func(t *testing.T, tok, a, b string, flip int) {
		for _, n := range []int{1, 2} {
			if out, ok := p.open(scope, tok, n); ok && len(out) != n {
				t.Fatalf("accepted a token of %d parts as %d", len(out), n)
			}
		}
		sealed := p.seal(scope, []string{a, b})
		got, ok := p.open(scope, sealed, 2)
		if !ok || got[0] != a || got[1] != b {
			t.Fatalf("round trip of %q, %q: %q, %v", a, b, got, ok)
		}
		if _, ok := p.open(scope, sealed, 1); ok {
			t.Fatal("a cursor of 2 parts opened as 1")
		}
		if _, ok := p.open([]byte("other scope"), sealed, 2); ok {
			t.Fatal("a token opened under another scope")
		}
		raw, _ := base64.RawURLEncoding.DecodeString(sealed)
		i := (flip%len(raw) + len(raw)) % len(raw)
		raw[i] ^= 1
		if _, ok := p.open(scope, base64.RawURLEncoding.EncodeToString(raw), 2); ok {
			t.Fatalf("an altered token (byte %d) opened", i)
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

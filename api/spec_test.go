package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(Spec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate openapi.yaml: %v", err)
	}
	return doc
}

func TestSpecIsValid(t *testing.T) {
	loadSpec(t)
}

func TestSpecRoutes(t *testing.T) {
	doc := loadSpec(t)
	var got []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			got = append(got, method+" "+path)
		}
	}
	sort.Strings(got)
	want := []string{
		"DELETE /v1/datasets/{namespace}/{name}",
		"DELETE /v1/grants/{id}",
		"DELETE /v1/service-clients/{id}",
		"GET /healthz",
		"GET /metrics",
		"GET /openapi.yaml",
		"GET /readyz",
		"GET /v1/audit",
		"GET /v1/datasets",
		"GET /v1/datasets/{namespace}/{name}",
		"GET /v1/datasets/{namespace}/{name}/quarantine",
		"GET /v1/datasets/{namespace}/{name}/snapshots/{id}/lineage",
		"GET /v1/grants",
		"GET /v1/lineage",
		"GET /v1/service-clients",
		"PATCH /v1/datasets/{namespace}/{name}",
		"POST /v1/datasets",
		"POST /v1/datasets/{namespace}/{name}/records",
		"POST /v1/grants",
		"POST /v1/service-clients",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	public := map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			secured := op.Security == nil || len(*op.Security) > 0
			if secured == public[path] {
				t.Errorf("%s %s: secured=%v", method, path, secured)
			}
			if op.Responses.Status(500) == nil {
				t.Errorf("%s %s: no 500 response", method, path)
			}
			if secured && (op.Responses.Status(401) == nil || op.Responses.Status(403) == nil) {
				t.Errorf("%s %s: secured without 401 and 403", method, path)
			}
			// Every audited operation is refused with 503 when the audit queue is full.
			if secured && op.Responses.Status(503) == nil {
				t.Errorf("%s %s: secured without 503", method, path)
			}
		}
	}
}

func validateRequest(t *testing.T, router routers.Router, method, target, body string, header map[string]string) error {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: find route: %v", method, target, err)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	})
}

func TestSpecValidatesRequests(t *testing.T) {
	doc := loadSpec(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const nested = `{"namespace":"sales.eu","name":"orders","schema":{"fields":[
		{"name":"id","type":"long","required":true},
		{"name":"amount","type":"decimal(12,2)"},
		{"name":"items","type":{"type":"list","element_required":true,"element":{"type":"struct","fields":[
			{"name":"sku","type":"string","required":true},
			{"name":"attrs","type":{"type":"map","key":"string","value":"string"}}]}}}]},
		"tags":["pii"],"partitioning":[{"field":"id","transform":"bucket[16]"}],
		"quality":[{"rule":"allowed_values","field":"items.sku","values":["a",1,true]}]}`
	tests := []struct {
		name, method, target, body string
		header                     map[string]string
		ok                         bool
	}{
		{"register nested", http.MethodPost, "/v1/datasets", nested, nil, true},
		{"register unknown property", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","schema":{"fields":[{"name":"x","type":"int"}]},"colour":"red"}`, nil, false},
		{"register unknown nested property", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","schema":{"fields":[{"name":"x","type":{"type":"struct","fields":[],"nope":1}}]}}`, nil, false},
		{"register missing schema", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b"}`, nil, false},
		{"register empty schema", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","schema":{"fields":[]}}`, nil, false},
		{"register bad namespace", http.MethodPost, "/v1/datasets", `{"namespace":"sa/les","name":"b","schema":{"fields":[{"name":"x","type":"int"}]}}`, nil, false},
		{"register bad unknown_fields", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","unknown_fields":"keep","schema":{"fields":[{"name":"x","type":"int"}]}}`, nil, false},
		{"register duplicate tags", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","tags":["x","x"],"schema":{"fields":[{"name":"x","type":"int"}]}}`, nil, false},
		{"register bad rule", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","quality":[{"rule":"positive","field":"x"}],"schema":{"fields":[{"name":"x","type":"int"}]}}`, nil, false},
		{"register nested type without kind", http.MethodPost, "/v1/datasets", `{"namespace":"a","name":"b","schema":{"fields":[{"name":"x","type":{"fields":[]}}]}}`, nil, false},
		{"list", http.MethodGet, "/v1/datasets?namespace=sales.eu&tag=pii&page_size=10&page_token=abc", "", nil, true},
		{"list page_size too big", http.MethodGet, "/v1/datasets?page_size=1001", "", nil, false},
		{"list bad namespace", http.MethodGet, "/v1/datasets?namespace=sales..eu", "", nil, false},
		{"get", http.MethodGet, "/v1/datasets/sales.eu/orders", "", nil, true},
		{"get bad name", http.MethodGet, "/v1/datasets/sales.eu/Or*ders", "", nil, false},
		{"get namespace too deep", http.MethodGet, "/v1/datasets/a.b.c.d.e.f.g.h.i/orders", "", nil, false},
		{"patch", http.MethodPatch, "/v1/datasets/sales/orders", `{"description":"x"}`, map[string]string{"If-Match": `"3"`}, true},
		{"patch schema", http.MethodPatch, "/v1/datasets/sales/orders", `{"schema":{"fields":[{"name":"x","type":"long"}]}}`, nil, true},
		{"patch empty", http.MethodPatch, "/v1/datasets/sales/orders", `{}`, nil, false},
		{"patch namespace", http.MethodPatch, "/v1/datasets/sales/orders", `{"namespace":"x"}`, nil, false},
		{"patch bad if-match", http.MethodPatch, "/v1/datasets/sales/orders", `{"owner":"x"}`, map[string]string{"If-Match": "3"}, false},
		{"delete purge", http.MethodDelete, "/v1/datasets/sales/orders?purge=true", "", nil, true},
		{"delete bad purge", http.MethodDelete, "/v1/datasets/sales/orders?purge=yes", "", nil, false},
		{"grant", http.MethodPost, "/v1/grants", `{"principal_type":"role","principal":"analyst","privilege":"dataset.*","scope_type":"namespace","namespace":"*"}`, nil, true},
		{"grant dataset", http.MethodPost, "/v1/grants", `{"principal_type":"subject","principal":"alice","privilege":"dataset.read","scope_type":"dataset","namespace":"sales.eu","name":"orders"}`, nil, true},
		{"grant bad principal_type", http.MethodPost, "/v1/grants", `{"principal_type":"group","principal":"a","privilege":"*","scope_type":"namespace","namespace":"*"}`, nil, false},
		{"grant bad namespace", http.MethodPost, "/v1/grants", `{"principal_type":"role","principal":"a","privilege":"*","scope_type":"namespace","namespace":"sales.*"}`, nil, false},
		{"list grants", http.MethodGet, "/v1/grants?principal=alice&principal_type=subject&namespace=*", "", nil, true},
		{"revoke", http.MethodDelete, "/v1/grants/g_0123456789abcdef", "", nil, true},
		{"revoke bad id", http.MethodDelete, "/v1/grants/42", "", nil, false},
		{"service client", http.MethodPost, "/v1/service-clients", `{"name":"spark","roles":["producer","PRINCIPAL_ROLE:ALL"]}`, nil, true},
		{"service client no roles", http.MethodPost, "/v1/service-clients", `{"name":"spark","roles":[]}`, nil, true},
		{"service client missing roles", http.MethodPost, "/v1/service-clients", `{"name":"spark"}`, nil, false},
		{"service client empty name", http.MethodPost, "/v1/service-clients", `{"name":"","roles":[]}`, nil, false},
		{"service client bad role", http.MethodPost, "/v1/service-clients", `{"name":"x","roles":["a b"]}`, nil, false},
		{"service client duplicate role", http.MethodPost, "/v1/service-clients", `{"name":"x","roles":["a","a"]}`, nil, false},
		{"service client secret given", http.MethodPost, "/v1/service-clients", `{"name":"x","roles":[],"client_secret":"s"}`, nil, false},
		{"revoke service client", http.MethodDelete, "/v1/service-clients/lgc_0123456789abcdef", "", nil, true},
		{"revoke service client bad id", http.MethodDelete, "/v1/service-clients/g_0123456789abcdef", "", nil, false},
		{"audit", http.MethodGet, "/v1/audit?principal=alice&action=dataset.read&resource=dataset:sales.*&decision=deny&since=2025-01-01T00:00:00Z&until=2025-02-01T00:00:00Z&page_size=5", "", nil, true},
		{"audit bad decision", http.MethodGet, "/v1/audit?decision=maybe", "", nil, false},
		{"audit bad since", http.MethodGet, "/v1/audit?since=yesterday", "", nil, false},
		{"lineage", http.MethodGet, "/v1/lineage?dataset=sales.eu.orders&depth=2&limit=10", "", nil, true},
		{"lineage defaults", http.MethodGet, "/v1/lineage?dataset=sales.orders", "", nil, true},
		{"lineage without dataset", http.MethodGet, "/v1/lineage", "", nil, false},
		{"lineage dataset without namespace", http.MethodGet, "/v1/lineage?dataset=orders", "", nil, false},
		{"lineage bad dataset", http.MethodGet, "/v1/lineage?dataset=Sa*les.orders", "", nil, false},
		{"lineage depth 0", http.MethodGet, "/v1/lineage?dataset=sales.orders&depth=0", "", nil, false},
		{"lineage depth 4", http.MethodGet, "/v1/lineage?dataset=sales.orders&depth=4", "", nil, false},
		{"lineage limit too big", http.MethodGet, "/v1/lineage?dataset=sales.orders&limit=1001", "", nil, false},
		{"snapshot lineage", http.MethodGet, "/v1/datasets/sales.eu/orders/snapshots/3051729675574597004/lineage", "", nil, true},
		{"snapshot lineage bad id", http.MethodGet, "/v1/datasets/sales.eu/orders/snapshots/latest/lineage", "", nil, false},
		{"snapshot lineage id too big", http.MethodGet, "/v1/datasets/sales.eu/orders/snapshots/99999999999999999999/lineage", "", nil, false},
		{"healthz", http.MethodGet, "/healthz", "", nil, true},
		{"openapi", http.MethodGet, "/openapi.yaml", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateRequest(t, router, tt.method, tt.target, tt.body, tt.header)
			if tt.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("want invalid, got valid")
			}
		})
	}
}

const (
	lineageSnapshot = `{"namespace":"iot","dataset":"events","snapshot_id":1,"parent_snapshot_id":0,"sequence_number":1,"operation":"append",` +
		`"committed_by":"writer","source":"ingest","first_seq":1,"last_seq":2,"added_records":15,"committed_at":"2025-01-01T00:00:00Z"}`
	lineageBatch = `{"batch_id":"b1","namespace":"iot","dataset":"events","producer":"alice","producer_roles":["producer"],"accepted":10,` +
		`"rejected":0,"stream_seq":1,"policy_revision":"r","received_at":"2025-01-01T00:00:00Z","snapshot_id":1,"committed_at":"2025-01-01T00:00:01Z"}`
	lineageGraph = `{"dataset":{"namespace":"iot","name":"events"},"depth":3,"truncated":false,"nodes":[` +
		`{"id":"dataset:iot.events","kind":"dataset","attributes":{"namespace":"iot","name":"events"}},` +
		`{"id":"snapshot:1","kind":"snapshot","attributes":` + lineageSnapshot + `},` +
		`{"id":"batch:b1","kind":"batch","attributes":` + lineageBatch + `},` +
		`{"id":"producer:alice","kind":"producer","attributes":{"name":"alice","roles":["producer"],"batches":1}}],"edges":[` +
		`{"from":"snapshot:1","to":"dataset:iot.events","kind":"version_of"},` +
		`{"from":"batch:b1","to":"snapshot:1","kind":"committed_in"},` +
		`{"from":"producer:alice","to":"batch:b1","kind":"produced"}]}`
)

func TestSpecDescribesResponses(t *testing.T) {
	doc := loadSpec(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const dataset = `{"namespace":"sales.eu","name":"orders","description":"","owner":"","tags":[],
		"schema":{"fields":[{"name":"id","type":"long","required":true}]},"partitioning":[],"quality":[],
		"unknown_fields":"reject","version":1,"created_by":"alice","created_at":"2025-01-01T00:00:00Z",
		"updated_at":"2025-01-01T00:00:00Z","metadata_location":"s3://lake/sales/eu/orders/metadata/00000.metadata.json"}`
	tests := []struct {
		name, method, target string
		status               int
		contentType, body    string
		ok                   bool
	}{
		{"dataset", http.MethodGet, "/v1/datasets/sales.eu/orders", 200, "application/json", dataset, true},
		{"dataset missing version", http.MethodGet, "/v1/datasets/sales.eu/orders", 200, "application/json", strings.Replace(dataset, `"version":1,`, "", 1), false},
		{"update result", http.MethodPatch, "/v1/datasets/sales.eu/orders", 200, "application/json",
			`{"dataset":` + dataset + `,"schema_changes":[{"field":"x","kind":"add_optional_column","detail":"added x int"}]}`, true},
		{"breaking change", http.MethodPatch, "/v1/datasets/sales.eu/orders", 409, "application/json",
			`{"error":{"code":"breaking_change","message":"m","request_id":"r","details":[{"field":"x","kind":"drop_column","detail":"d"}]}}`, true},
		{"validation failed", http.MethodPost, "/v1/datasets", 422, "application/json",
			`{"error":{"code":"validation_failed","message":"m","request_id":"r","details":[{"field":"schema.fields[0].type","message":"unknown type"}]}}`, true},
		{"bad detail", http.MethodPost, "/v1/datasets", 422, "application/json",
			`{"error":{"code":"validation_failed","message":"m","request_id":"r","details":["oops"]}}`, false},
		{"grant", http.MethodPost, "/v1/grants", 201, "application/json",
			`{"id":"g_0123456789abcdef","principal_type":"role","principal":"analyst","privilege":"dataset.read","scope_type":"namespace","namespace":"sales","created_by":"admin","created_at":"2025-01-01T00:00:00Z"}`, true},
		{"service client created", http.MethodPost, "/v1/service-clients", 201, "application/json",
			`{"client_id":"lgc_0123456789abcdef","client_secret":"s3cr3t","name":"spark","roles":["producer"],"created_by":"alice","created_at":"2025-01-01T00:00:00Z"}`, true},
		{"service client created without secret", http.MethodPost, "/v1/service-clients", 201, "application/json",
			`{"client_id":"lgc_0123456789abcdef","name":"spark","roles":["producer"],"created_by":"alice","created_at":"2025-01-01T00:00:00Z"}`, false},
		{"service clients", http.MethodGet, "/v1/service-clients", 200, "application/json",
			`{"service_clients":[{"client_id":"lgc_0123456789abcdef","name":"spark","roles":[],"created_by":"alice","created_at":"2025-01-01T00:00:00Z","revoked_at":"2025-01-02T00:00:00Z"}]}`, true},
		{"audit", http.MethodGet, "/v1/audit", 200, "application/json",
			`{"entries":[{"id":1,"at":"2025-01-01T00:00:00Z","request_id":"r","principal":"alice","roles":["analyst"],"action":"dataset.read","resource":"dataset:sales.eu/orders","decision":"allow","policy_revision":"abc","reason":"","status":200,"latency_ms":1.5,"method":"GET","path":"/v1/datasets/sales.eu/orders","client_addr":"10.0.0.1","user_agent":"curl","details":{"rows":3}}],"next_page_token":"t"}`, true},
		{"lineage graph", http.MethodGet, "/v1/lineage?dataset=iot.events", 200, "application/json", lineageGraph, true},
		{"lineage graph unknown node kind", http.MethodGet, "/v1/lineage?dataset=iot.events", 200, "application/json",
			strings.Replace(lineageGraph, `"kind":"batch"`, `"kind":"job"`, 1), false},
		{"lineage graph attributes of another kind", http.MethodGet, "/v1/lineage?dataset=iot.events", 200, "application/json",
			strings.Replace(lineageGraph, `"kind":"producer"`, `"kind":"dataset"`, 1), false},
		{"lineage graph unknown edge kind", http.MethodGet, "/v1/lineage?dataset=iot.events", 200, "application/json",
			strings.Replace(lineageGraph, `"kind":"produced"`, `"kind":"made"`, 1), false},
		{"snapshot lineage", http.MethodGet, "/v1/datasets/iot/events/snapshots/1/lineage", 200, "application/json",
			`{"snapshot":` + lineageSnapshot + `,"batches":[` + lineageBatch + `],"producers":[{"name":"alice","roles":["producer"],"batches":1}],"truncated":false}`, true},
		{"snapshot lineage bad source", http.MethodGet, "/v1/datasets/iot/events/snapshots/1/lineage", 200, "application/json",
			`{"snapshot":` + strings.Replace(lineageSnapshot, `"ingest"`, `"spark"`, 1) + `,"batches":[],"producers":[],"truncated":false}`, false},
		{"ready", http.MethodGet, "/readyz", 200, "application/json", `{"status":"ready","checks":{"postgres":"ok"}}`, true},
		{"not ready", http.MethodGet, "/readyz", 503, "application/json", `{"status":"unavailable","checks":{"postgres":"connection refused"}}`, true},
		{"metrics", http.MethodGet, "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP x y\nx 1\n", true},
		{"openapi", http.MethodGet, "/openapi.yaml", 200, "application/yaml", string(Spec), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("find route: %v", err)
			}
			header := http.Header{"Content-Type": {tt.contentType}}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 tt.status,
				Header:                 header,
				Body:                   io.NopCloser(bytes.NewBufferString(tt.body)),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			})
			if tt.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("want invalid, got valid")
			}
		})
	}
}

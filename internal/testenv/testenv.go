// Package testenv builds the whole lakegate HTTP stack in-process for tests: a fresh Postgres
// database, the embedded policy engine with its grant store, HS256 auth, a catalog on a
// temporary warehouse, the audit log and the gateway, served by httptest.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/internal/idempotency"
	"github.com/lakegate/lakegate/internal/natsembed"
	"github.com/lakegate/lakegate/internal/pgtest"
	"github.com/lakegate/lakegate/internal/stream"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
	"github.com/lakegate/lakegate/writers"
)

// Secret is the HS256 key test tokens are signed with.
var Secret = []byte("testenv-secret-of-at-least-32-bytes!!")

// Options adjust the environment.
type Options struct {
	PolicyDir string
	Auth      func(*auth.Config)
	// StreamMaxBytes sizes the ingest buffer (default: the stream's default).
	StreamMaxBytes int64
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Storage is the gateway's description of the warehouse to Iceberg clients (loadTable's
	// config); the zero value suits the file:// warehouse the environment runs on.
	Storage gateway.StorageConfig
	// Audit configures the audit log; the zero value flushes every 20ms.
	Audit lineage.AuditConfig
	// HTTP configures the gateway (its Addr is ignored: the environment serves on a random
	// loopback port).
	HTTP gateway.Config
}

// Env is a running in-process lakegate.
type Env struct {
	URL       string
	Pool      *pgxpool.Pool
	Catalog   *catalog.Service
	Policy    *policy.Engine
	Grants    *policy.GrantStore
	Audit     *lineage.AuditLog
	Server    *gateway.Server
	Warehouse string
	Registry  *prometheus.Registry
	http      *httptest.Server
	stopAudit func()

	// Idempotency is the gateway's Idempotency-Key store.
	Idempotency *idempotency.Store
	// Clients is the service client store of the token endpoint.
	Clients *auth.ClientStore
	// Lineage is the lineage store.
	Lineage *lineage.Store
}

// New starts an environment, stopped at cleanup.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	if opts.Logger != nil {
		logger = opts.Logger
	}
	pool := pgtest.Pool(t)
	reg := prometheus.NewRegistry()

	engine, err := policy.New(policy.Config{Dir: opts.PolicyDir, PollInterval: 50 * time.Millisecond}, logger, reg)
	must(t, err)
	grants := policy.NewGrantStore(pool, engine, logger, time.Minute)
	must(t, grants.Refresh(ctx))

	acfg := auth.Config{HMACSecret: Secret}
	if opts.Auth != nil {
		opts.Auth(&acfg)
	}
	verifier, err := auth.NewVerifier(ctx, acfg, logger)
	must(t, err)

	wh := "file://" + t.TempDir()
	cat, err := catalog.New(catalog.Config{Warehouse: wh}, pool, logger)
	must(t, err)
	if opts.Audit.FlushInterval == 0 {
		opts.Audit.FlushInterval = 20 * time.Millisecond
	}
	audit, err := lineage.NewAuditLog(opts.Audit, pool, logger, reg)
	must(t, err)
	lin := lineage.NewStore(pool)
	idem, err := idempotency.NewStore(pool, idempotency.Config{}, logger)
	must(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	auditDone := make(chan struct{})
	go func() { _ = audit.Run(runCtx); close(auditDone) }()
	go func() { _ = engine.Run(runCtx) }()
	go func() { _ = cat.Run(runCtx) }()
	go func() { _ = grants.Run(runCtx) }()
	go func() { _ = idem.Run(runCtx) }()

	// Streaming ingest: embedded NATS JetStream and a writer.
	natsSrv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	must(t, err)
	t.Cleanup(natsSrv.Shutdown)
	nc, err := nats.Connect(natsSrv.ClientURL())
	must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	must(t, err)
	streamCfg := stream.Config{MaxBytes: opts.StreamMaxBytes}.WithDefaults()
	_, err = stream.Ensure(ctx, js, streamCfg)
	must(t, err)
	batchKey := []byte("testenv batch signing key, 32 b!")
	writer, err := writers.New(writers.Config{Stream: streamCfg, MaxLinger: 50 * time.Millisecond},
		writers.Deps{Logger: logger, Registry: reg, JS: js, Catalog: cat, Lineage: lin, Key: batchKey})
	must(t, err)
	writerDone := make(chan struct{})
	go func() { _ = writer.Run(runCtx); close(writerDone) }()
	ingest := gateway.Ingest{Publisher: stream.NewPublisher(js, streamCfg), Batches: lin, Key: batchKey, HashKey: []byte("testenv field hash key, 32 bytes"), VisibleTimeout: 20 * time.Second}

	clients := auth.NewClientStore(pool)
	tokens := gateway.TokenIssuer{Secret: acfg.HMACSecret, Issuer: acfg.Issuer, Audience: acfg.Audience, RolesClaim: acfg.RolesClaim, TTL: time.Hour}
	httpCfg := opts.HTTP
	httpCfg.Addr = "127.0.0.1:0"
	srv, err := gateway.New(httpCfg, gateway.Deps{
		Logger: logger, Registry: reg, Gatherer: reg,
		Auth: verifier, Policy: engine, Datasets: cat, Catalog: cat, Grants: grants, Audit: audit, Idempotency: idem,
		Clients: clients, Tokens: tokens, Lineage: lin, Ingest: ingest,
		Ready:   func(ctx context.Context) map[string]error { return map[string]error{"postgres": pool.Ping(ctx)} },
		Storage: opts.Storage,
		PageKey: []byte("testenv page token key, 32 bytes"),
	})
	must(t, err)
	hs := httptest.NewServer(srv.Handler())
	e := &Env{URL: hs.URL, Pool: pool, Catalog: cat, Policy: engine, Grants: grants, Audit: audit, Server: srv,
		Idempotency: idem, Clients: clients, Lineage: lin, Warehouse: wh, Registry: reg, http: hs}
	e.stopAudit = func() {
		hs.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = audit.Close(cctx)
		<-auditDone
		cancel()
		<-writerDone
	}
	t.Cleanup(e.Close)
	return e
}

// Close stops the server and drains the audit log. It is safe to call twice.
func (e *Env) Close() {
	if e.stopAudit != nil {
		e.stopAudit()
		e.stopAudit = nil
	}
}

// Token mints an HS256 token for sub with roles, valid for an hour.
func Token(t testing.TB, sub string, roles ...string) string {
	t.Helper()
	tok, err := auth.MintHS256(Secret, auth.MintOptions{Subject: sub, Roles: roles, TTL: time.Hour})
	must(t, err)
	return tok
}

// Response is a decoded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorBody is our API's error shape.
type ErrorBody struct {
	Error struct {
		Code      string            `json:"code"`
		Message   string            `json:"message"`
		RequestID string            `json:"request_id"`
		Details   []json.RawMessage `json:"details"`
	} `json:"error"`
}

// Err decodes the body as our error shape.
func (r Response) Err(t testing.TB) ErrorBody {
	t.Helper()
	var b ErrorBody
	r.JSON(t, &b)
	return b
}

// Do sends a request with an optional bearer token and JSON body (a string, []byte or value).
func (e *Env) Do(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		must(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	must(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// AuditRow finds the audit row of a request id, waiting for the batch writer.
func (e *Env) AuditRow(t testing.TB, requestID string) lineage.AuditEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var rows []lineage.AuditEntry
		rows, err := e.Audit.Query(context.Background(), lineage.AuditQuery{Limit: 1000})
		must(t, err)
		for _, r := range rows {
			if r.RequestID == requestID {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit row for request %s", requestID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

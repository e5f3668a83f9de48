// Package gateway is lakegate's HTTP edge: middleware (request id, authentication, request
// validation against the API contract, audit, metrics), our API's handlers and the single
// mapping of errors to HTTP responses.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
)

// Authenticator verifies bearer tokens.
type Authenticator interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Authorizer decides whether a principal may do an action on a resource.
type Authorizer interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Datasets is the dataset registry (the catalog).
type Datasets interface {
	CreateDataset(ctx context.Context, d catalog.Dataset, hook catalog.TxHook) (catalog.Dataset, error)
	GetDataset(ctx context.Context, ns catalog.Namespace, name string) (catalog.Dataset, error)
	ListDatasets(ctx context.Context, f catalog.ListFilter) ([]catalog.Dataset, error)
	UpdateDataset(ctx context.Context, ns catalog.Namespace, name string, u catalog.DatasetUpdate, hook catalog.TxHook) (catalog.Dataset, []catalog.Change, error)
	DeleteDataset(ctx context.Context, ns catalog.Namespace, name string, purge bool, hook catalog.TxHook) error
	ReadQuarantine(ctx context.Context, ns catalog.Namespace, name string, q catalog.QuarantineQuery) ([]catalog.QuarantinedRecord, bool, error)
}

// Grants stores grants.
type Grants interface {
	Create(ctx context.Context, g policy.Grant, hook func(context.Context, pgx.Tx) error) (policy.Grant, error)
	Get(ctx context.Context, id string) (policy.Grant, error)
	List(ctx context.Context, f policy.GrantFilter) ([]policy.Grant, error)
	Revoke(ctx context.Context, id string, hook func(context.Context, pgx.Tx) error) error
}

// Audit records and queries the audit log. Every audited request claims room for its row
// when it starts (Reserve); a full queue refuses the request at once rather than let it wait.
type Audit interface {
	Insert(ctx context.Context, tx pgx.Tx, e lineage.AuditEntry) error
	Reserve() error
	Release()
	EnqueueReserved(ctx context.Context, e lineage.AuditEntry)
	Enqueue(ctx context.Context, e lineage.AuditEntry) error
	Backlog() lineage.Backlog
	Query(ctx context.Context, q lineage.AuditQuery) ([]lineage.AuditEntry, error)
}

// Config configures the HTTP server.
type Config struct {
	Addr              string        // listen address (lakegate serve: 127.0.0.1:8181)
	MaxBodyBytes      int64         // largest request body of our API, default 1 MiB
	CatalogBodyBytes  int64         // largest request body of the Iceberg catalog, default 16 MiB
	MaxHeaderBytes    int           // largest request header block, default 16 KiB
	ReadHeaderTimeout time.Duration // longest wait for a request's headers, default 10s
	ShutdownTimeout   time.Duration // default 20s
	// IdleTimeout closes a keep-alive connection idle this long between requests; default 120s.
	IdleTimeout time.Duration
	// BodyMinRate (bytes/s) and BodyGracePeriod: a request body must arrive at BodyMinRate
	// once BodyGracePeriod has passed, or the connection is cut; defaults 1 KiB/s after 10s.
	BodyMinRate     int64
	BodyGracePeriod time.Duration
	// MaxConnections caps the connections served at once; more wait to be accepted.
	// Default 4096.
	MaxConnections int
	// TrustedProxies are the CIDRs (or addresses) of proxies whose X-Forwarded-For and
	// X-Real-IP headers are believed; by default none, and the client is the socket peer.
	TrustedProxies []string
	// IdempotencyLifetime is how long an Idempotency-Key's outcome is replayed, advertised in
	// the Iceberg config; default 30m.
	IdempotencyLifetime time.Duration
}

// Validate checks the settings, naming the bad one.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("http-addr: must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("http-addr: %q is not host:port: %w", c.Addr, err)
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("http-max-body-bytes: must not be negative")
	}
	if c.CatalogBodyBytes < 0 {
		return errors.New("catalog-max-body-bytes: must not be negative")
	}
	if c.MaxHeaderBytes < 0 {
		return errors.New("http-max-header-bytes: must not be negative")
	}
	if c.IdempotencyLifetime < 0 {
		return errors.New("idempotency-lifetime: must not be negative")
	}
	for _, f := range []struct {
		name     string
		negative bool
	}{{"http-read-header-timeout", c.ReadHeaderTimeout < 0}, {"http-idle-timeout", c.IdleTimeout < 0},
		{"http-body-min-rate", c.BodyMinRate < 0}, {"http-body-grace-period", c.BodyGracePeriod < 0},
		{"http-max-connections", c.MaxConnections < 0}} {
		if f.negative {
			return fmt.Errorf("%s: must not be negative", f.name)
		}
	}
	_, err := parseTrustedProxies(c.TrustedProxies)
	return err
}

func (c *Config) defaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.CatalogBodyBytes == 0 {
		c.CatalogBodyBytes = 16 << 20
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.IdempotencyLifetime == 0 {
		c.IdempotencyLifetime = 30 * time.Minute
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.BodyMinRate == 0 {
		c.BodyMinRate = 1 << 10
	}
	if c.BodyGracePeriod == 0 {
		c.BodyGracePeriod = 10 * time.Second
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 4096
	}
}

// Deps are the server's collaborators.
type Deps struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	Auth     Authenticator
	Policy   Authorizer
	Datasets Datasets
	Catalog  Catalog
	Grants   Grants
	Audit    Audit
	// Lineage records and queries lineage; catalog commits record their snapshots in it.
	Lineage Lineage
	// Idempotency stores Idempotency-Key outcomes; nil ignores the header.
	Idempotency IdempotencyStore
	// Clients stores service clients; Tokens signs the tokens the token endpoint issues to them.
	Clients Clients
	Tokens  TokenIssuer
	// Ingest serves POST /v1/datasets/{namespace}/{name}/records.
	Ingest Ingest
	// Ready reports each dependency's health for /readyz.
	Ready func(ctx context.Context) map[string]error
	// Storage describes the warehouse's object store to Iceberg clients (loadTable's config);
	// the zero value suits a file:// warehouse.
	Storage StorageConfig
	// PageKey (at least 32 bytes) encrypts page tokens; every gateway process serving the
	// same clients must have the same one.
	PageKey []byte
}

// Server is the HTTP server.
type Server struct {
	cfg           Config
	deps          Deps
	log           *slog.Logger
	echo          *echo.Echo
	contract      *contract
	metrics       *httpMetrics
	tables        *tableJSONCache
	decoders      *decoderCache
	ingestMetrics *ingestMetrics
	// quarantineSchema is the Arrow schema of rejected records (catalog.QuarantineSchema).
	quarantineSchema *arrow.Schema
	// pages seals and opens page tokens; listScan bounds the rows a listing examines.
	pages    *pageTokens
	listScan int
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if deps.Clients == nil {
		return nil, errors.New("gateway: the service client store is required")
	}
	if deps.Lineage == nil {
		return nil, errors.New("gateway: the lineage store is required")
	}
	if err := deps.Tokens.validate(); err != nil {
		return nil, err
	}
	ct, err := newContract()
	if err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger, contract: ct, metrics: m, tables: newTableJSONCache(), decoders: &decoderCache{entries: map[string]cachedDecoder{}}}
	if deps.Ingest.Publisher != nil && len(deps.Ingest.HashKey) < 16 {
		return nil, errors.New("gateway: the field hash key must be at least 16 bytes")
	}
	if s.ingestMetrics, err = newIngestMetrics(deps.Registry); err != nil {
		return nil, err
	}
	if s.quarantineSchema, err = quarantineArrowSchema(); err != nil {
		return nil, err
	}
	if s.pages, err = newPageTokens(deps.PageKey); err != nil {
		return nil, err
	}
	s.listScan = maxListScan
	s.deps.Ingest.defaults()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.writeError
	trusted, _ := parseTrustedProxies(cfg.TrustedProxies) // checked by Validate
	e.IPExtractor = ipExtractor(trusted)
	e.Use(s.requestContext, s.observe, s.authenticate, s.idempotent, s.validateRequest)
	s.routes(e)
	if err := ct.checkRoutes(e.Routes()); err != nil {
		return nil, err
	}
	s.echo = e
	return s, nil
}

func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metricsHandler())
	e.GET("/openapi.yaml", s.openapi)

	e.POST("/v1/datasets", s.createDataset)
	e.GET("/v1/datasets", s.listDatasets)
	e.GET("/v1/datasets/:namespace/:name", s.getDataset)
	e.PATCH("/v1/datasets/:namespace/:name", s.updateDataset)
	e.DELETE("/v1/datasets/:namespace/:name", s.deleteDataset)

	e.POST("/v1/grants", s.createGrant)
	e.GET("/v1/grants", s.listGrants)
	e.DELETE("/v1/grants/:id", s.revokeGrant)

	e.POST("/v1/service-clients", s.createServiceClient)
	e.GET("/v1/service-clients", s.listServiceClients)
	e.DELETE("/v1/service-clients/:id", s.revokeServiceClient)

	e.GET("/v1/audit", s.listAudit)

	e.POST("/v1/datasets/:namespace/:name/records", s.ingestRecords)
	e.GET("/v1/lineage", s.getLineage)
	e.GET("/v1/datasets/:namespace/:name/snapshots/:id/lineage", s.getSnapshotLineage)
	e.GET("/v1/datasets/:namespace/:name/quarantine", s.getQuarantine)

	s.icebergRoutes(e)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists the registered routes as "METHOD /path/{param}".
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+specPath(r.Path))
	}
	return out
}

// Serve serves on ln until ctx ends, then shuts down gracefully: in-flight requests finish
// (and write their audit rows) before it returns. At most MaxConnections connections are
// served at once; the others wait to be accepted.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = netutil.LimitListener(ln, s.cfg.MaxConnections)
	hs := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	return nil
}

// Addr is the configured listen address.
func (s *Server) Addr() string { return s.cfg.Addr }

package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/lakegate/lakegate/catalog"
	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/internal/idempotency"
	"github.com/lakegate/lakegate/internal/natsembed"
	"github.com/lakegate/lakegate/internal/pg"
	"github.com/lakegate/lakegate/internal/stream"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/policy"
	"github.com/lakegate/lakegate/writers"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := serveFlags(fs)
	fs.Usage = usage(fs, stderr, "usage: lakegate serve [flags]\n\nRuns the lakegate service.")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	return runServer(ctx, cfg, logger, stderr)
}

// runServer builds every component and runs them until ctx ends.
func runServer(ctx context.Context, cfg *serveConfig, logger *slog.Logger, banner io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	pool, err := pg.Open(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns))
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := reg.Register(pg.NewPoolCollector(pool)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if cfg.Migrate {
		if err := pg.Migrate(ctx, pool, logger); err != nil {
			return err
		}
	}

	nc, js, stopNATS, err := connectNATS(cfg, logger)
	if err != nil {
		return err
	}
	defer stopNATS()

	engine, err := policy.New(policy.Config{Dir: cfg.PolicyDir, PollInterval: cfg.PolicyPoll}, logger, reg)
	if err != nil {
		return err
	}
	grants := policy.NewGrantStore(pool, engine, logger, cfg.GrantsRefresh)
	if err := grants.Refresh(ctx); err != nil {
		return err
	}

	authCfg, err := authConfig(cfg)
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, authCfg, logger)
	if err != nil {
		return err
	}

	cat, err := catalog.New(cfg.catalogConfig(), pool, logger)
	if err != nil {
		return err
	}
	if err := cat.RecordLegacyLocations(ctx); err != nil {
		return err
	}
	for _, c := range cat.Collectors() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	audit, err := lineage.NewAuditLog(cfg.Audit, pool, logger, reg)
	if err != nil {
		return err
	}
	idem, err := idempotency.NewStore(pool, idempotency.Config{Lifetime: cfg.HTTP.IdempotencyLifetime}, logger)
	if err != nil {
		return err
	}

	lin := lineage.NewStore(pool)
	streamCfg := cfg.Stream.WithDefaults()
	if _, err := stream.Ensure(ctx, js, streamCfg); err != nil {
		return err
	}
	batchKey := envelopeKey(authCfg.HMACSecret)
	hashKey, err := fieldHashKey(cfg.FieldHashKeyFile, authCfg.HMACSecret)
	if err != nil {
		return err
	}
	ingest := gateway.Ingest{Batches: lin, Key: batchKey, HashKey: hashKey, MaxBodyBytes: cfg.IngestMaxBodyBytes, MaxRecords: cfg.IngestMaxRecords}
	if cfg.Role != roleWriter {
		ingest.Publisher = stream.NewPublisher(js, streamCfg)
	}
	var writer *writers.Writer
	if cfg.Role != roleGateway {
		cfg.Writer.Stream = streamCfg
		if writer, err = writers.New(cfg.Writer, writers.Deps{Logger: logger, Registry: reg, JS: js, Catalog: cat, Lineage: lin, Key: batchKey}); err != nil {
			return err
		}
	}

	tokens := gateway.TokenIssuer{Secret: authCfg.HMACSecret, Issuer: authCfg.Issuer, Audience: authCfg.Audience,
		RolesClaim: authCfg.RolesClaim, TTL: cfg.OAuthTokenTTL}
	srv, err := gateway.New(cfg.HTTP, gateway.Deps{
		Logger: logger, Registry: reg, Gatherer: reg,
		Auth: verifier, Policy: engine, Datasets: cat, Catalog: cat, Grants: grants, Audit: audit, Idempotency: idem,
		Clients: auth.NewClientStore(pool), Tokens: tokens, Lineage: lin, Ingest: ingest,
		Ready:   readiness(pool, nc, js),
		Storage: cfg.storageConfig(),
		PageKey: pageTokenKey(authCfg.HMACSecret),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http-addr: listen on %s: %w", cfg.HTTP.Addr, err)
	}
	printBanner(banner, cfg, ln.Addr())
	logger.Info("lakegate serving", "addr", ln.Addr().String(), "role", cfg.Role, "version", version, "policy_revision", engine.Revision(), "warehouse", cfg.Warehouse)
	if cfg.s3Warehouse() {
		logger.Info("s3 warehouse", "endpoint", cfg.S3.Endpoint, "region", cfg.S3.Region, "path_style", cfg.S3.PathStyle,
			"static_credentials", cfg.S3.AccessKeyID != "", "vend_static_credentials", cfg.S3.VendStaticCredentials)
	}

	g, gctx := errgroup.WithContext(ctx)
	// The audit writer outlives the requests, but stops --shutdown-timeout after shutdown
	// begins: the rows it has not written by then (Postgres down) are spilled under the data
	// dir and written at the next start.
	auditCtx, stopAudit := afterShutdown(gctx, cfg.HTTP.ShutdownTimeout)
	defer stopAudit()
	auditDone := make(chan error, 1)
	go func() { auditDone <- audit.Run(auditCtx) }()
	g.Go(func() error {
		err := srv.Serve(gctx, ln)
		// Every request has finished: drain the audit queue in what is left of the timeout.
		return errors.Join(err, audit.Close(auditCtx))
	})
	if cfg.DebugAddr != "" {
		g.Go(func() error { return serveDebug(gctx, cfg.DebugAddr, logger) })
	}
	g.Go(func() error { return grants.Run(gctx) })
	g.Go(func() error { return cat.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	g.Go(func() error { return idem.Run(gctx) })
	if writer != nil {
		g.Go(func() error { return writer.Run(gctx) })
	}
	err = g.Wait()
	<-auditDone
	logger.Info("lakegate stopped")
	return err
}

// afterShutdown returns a context that ends d after ctx ends, for work that finishes during
// a bounded shutdown.
func afterShutdown(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d, cancel) })
	return out, func() { stop(); cancel() }
}

// connectNATS connects to the external NATS server, or starts the embedded one under the
// data dir.
func connectNATS(cfg *serveConfig, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, func(), error) {
	url := cfg.NATSURL
	stopEmbedded := func() {}
	if url == "" {
		srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(cfg.DataDir, "nats"), SyncAlways: cfg.NATSSync})
		if err != nil {
			return nil, nil, nil, err
		}
		url, stopEmbedded = srv.ClientURL(), srv.Shutdown
		logger.Info("embedded NATS JetStream started", "store_dir", filepath.Join(cfg.DataDir, "nats"))
	}
	// No reconnect buffer: a publish while the connection is down fails at once (ingest
	// answers 503, nothing stored) instead of being sent after the reconnect, when the
	// request may long have been answered 503 "nothing accepted".
	nc, err := nats.Connect(url, nats.Name("lakegate"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false), nats.ReconnectBufSize(-1))
	if err != nil {
		stopEmbedded()
		return nil, nil, nil, fmt.Errorf("nats-url: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		stopEmbedded()
		return nil, nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return nc, js, func() { nc.Close(); stopEmbedded() }, nil
}

func readiness(pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream) func(context.Context) map[string]error {
	return func(ctx context.Context) map[string]error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		out := map[string]error{}
		out["postgres"] = pool.Ping(ctx)
		if out["postgres"] == nil {
			pending, err := pg.Pending(ctx, pool)
			switch {
			case err != nil:
				out["migrations"] = err
			case pending:
				out["migrations"] = errors.New("migrations pending: run lakegate migrate")
			default:
				out["migrations"] = nil
			}
		} else {
			out["migrations"] = errors.New("postgres unreachable")
		}
		if nc.Status() != nats.CONNECTED {
			out["nats"] = fmt.Errorf("nats connection is %s", nc.Status())
		} else if _, err := js.AccountInfo(ctx); err != nil {
			out["nats"] = fmt.Errorf("jetstream: %w", err)
		} else {
			out["nats"] = nil
		}
		return out
	}
}

func authConfig(cfg *serveConfig) (auth.Config, error) {
	c := auth.Config{
		PublicKeyFiles: cfg.JWTPublicKeys,
		JWKSURL:        cfg.JWKSURL,
		Algorithms:     cfg.JWTAlgorithms,
		Issuer:         cfg.JWTIssuer,
		Audience:       cfg.JWTAudience,
		Leeway:         cfg.JWTLeeway,
		RolesClaim:     cfg.JWTRolesClaim,
		MaxTokenBytes:  cfg.JWTMaxBytes,
	}
	// The HS256 secret is always loaded, even next to an external identity provider: it signs
	// the tokens the OAuth2 token endpoint issues to service clients, which the verifier must
	// accept.
	switch {
	case cfg.JWTSecretFile != "":
		b, err := os.ReadFile(cfg.JWTSecretFile)
		if err != nil {
			return auth.Config{}, fmt.Errorf("jwt-hs256-secret-file: %w", err)
		}
		c.HMACSecret = []byte(strings.TrimSpace(string(b)))
		if len(c.HMACSecret) < 32 {
			return auth.Config{}, errors.New("jwt-hs256-secret-file: the secret must be at least 32 bytes")
		}
	default:
		secret, err := auth.LoadOrCreateDevSecret(cfg.DataDir)
		if err != nil {
			return auth.Config{}, fmt.Errorf("data-dir: dev signing key: %w", err)
		}
		c.HMACSecret = secret
	}
	if len(c.Algorithms) > 0 && !slices.Contains(c.Algorithms, "HS256") {
		return auth.Config{}, errors.New("jwt-algorithms: must include HS256, which signs the tokens of service clients (POST /iceberg/v1/oauth/tokens)")
	}
	if err := c.Validate(); err != nil {
		return auth.Config{}, err
	}
	return c, nil
}

func printBanner(w io.Writer, cfg *serveConfig, addr net.Addr) {
	// The address bound (127.0.0.1 by default); an address on all interfaces is shown as
	// localhost.
	tcp := addr.(*net.TCPAddr)
	host := "localhost"
	if !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
	fmt.Fprintf(w, `
lakegate %s is running
  API          %s/v1/datasets
  Iceberg REST %s/iceberg   (uri for Spark, Trino, PyIceberg, DuckDB, iceberg-go)
  API contract %s/openapi.yaml
  Health       %s/healthz   %s/readyz
  Metrics      %s/metrics
  Data dir     %s
  Warehouse    %s

Next, in another shell:
  export TOKEN=$(bin/lakegate token --data-dir %s --sub alice --roles admin)
  curl -H "Authorization: Bearer $TOKEN" %s/v1/datasets
(the README's quick start registers a dataset, grants a producer and reads the audit log)

`, version, base, base, base, base, base, base, cfg.DataDir, cfg.Warehouse, cfg.DataDir, base)
}

// serveDebug serves pprof on its own listener until ctx ends.
func serveDebug(ctx context.Context, addr string, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	logger.Info("debug server (pprof) listening", "addr", addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("debug-addr: %w", err)
	}
	return nil
}

// fieldHashKey is the key of the hash field transformation: the file's content, or derived
// from the HS256 secret.
func fieldHashKey(file string, secret []byte) ([]byte, error) {
	if file == "" {
		return deriveKey(secret, "lakegate field hash key v1"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("field-hash-key-file: %w", err)
	}
	key := []byte(strings.TrimSpace(string(b)))
	if len(key) < 32 {
		return nil, errors.New("field-hash-key-file: the key must be at least 32 bytes")
	}
	return key, nil
}

// envelopeKey derives the key that signs ingest batches between gateways and writers from the
// HS256 secret they share.
func envelopeKey(secret []byte) []byte {
	return deriveKey(secret, "lakegate ingest batch signing key v1")
}

// pageTokenKey derives the key that encrypts page tokens from the HS256 secret, which every
// gateway process serving the same clients shares.
func pageTokenKey(secret []byte) []byte {
	return deriveKey(secret, "lakegate page token key v1")
}

// deriveKey derives a key for one purpose (label) from the HS256 secret.
func deriveKey(secret []byte, label string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lakegate/lakegate/gateway"
	"github.com/lakegate/lakegate/internal/stream"
	"github.com/lakegate/lakegate/lineage"
	"github.com/lakegate/lakegate/writers"
)

// serveConfig is everything `lakegate serve` is configured with.
type serveConfig struct {
	DataDir     string
	DatabaseURL string
	DBMaxConns  int
	Migrate     bool
	NATSURL     string
	NATSSync    bool
	Warehouse   string
	// AllowedLocations are extra prefixes where clients may place tables (--allowed-locations).
	AllowedLocations []string
	S3               s3Config
	PolicyDir        string
	LogLevel         string
	LogFormat        string

	HTTP  gateway.Config
	Audit lineage.AuditConfig

	JWTSecretFile string
	JWTPublicKeys stringList
	JWKSURL       string
	JWTAlgorithms stringList
	JWTIssuer     string
	JWTAudience   string
	JWTLeeway     time.Duration
	JWTRolesClaim string
	JWTMaxBytes   int
	OAuthTokenTTL time.Duration
	PolicyPoll    time.Duration
	GrantsRefresh time.Duration
	DebugAddr     string

	Role               string
	Stream             stream.Config
	Writer             writers.Config
	IngestMaxBodyBytes int64
	IngestMaxRecords   int
	FieldHashKeyFile   string
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.DataDir, "data-dir", ".lakegate", "directory for embedded state: NATS JetStream store, local warehouse, dev signing key")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "Postgres URL (postgres://user:pass@host:port/db); required (make run starts a private cluster and sets it)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 32, "largest number of Postgres connections in the pool")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply database migrations at start (under a Postgres advisory lock)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "external NATS server URL; empty runs NATS JetStream embedded, stored under the data dir")
	fs.BoolVar(&c.NATSSync, "nats-sync-always", true, "embedded NATS: fsync every accepted batch before acknowledging it (survives power loss); false syncs every 2 minutes (survives process crashes)")
	fs.StringVar(&c.Warehouse, "warehouse", "", "warehouse location for table data and metadata: file:///abs/path or s3://bucket/prefix (default file://<data-dir>/warehouse)")
	fs.Func("allowed-locations", "comma-separated location prefixes outside the warehouse (file:///abs/path or s3://bucket/prefix) where clients may create or register tables and views at locations they choose; each must overlap no live table's", func(v string) error {
		c.AllowedLocations = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.AllowedLocations = append(c.AllowedLocations, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.S3.Endpoint, "s3-endpoint", "", "URL of an S3-compatible server (http(s)://host:port) for an s3:// warehouse; empty uses AWS S3")
	fs.StringVar(&c.S3.Region, "s3-region", "us-east-1", "region of the s3:// warehouse's bucket (the signing region)")
	fs.BoolVar(&c.S3.PathStyle, "s3-path-style", false, "address the bucket path-style (<endpoint>/<bucket>), as most S3-compatible servers need")
	fs.StringVar(&c.S3.AccessKeyID, "s3-access-key-id", "", "static S3 access key id (with --s3-secret-access-key-file); without both, the AWS default credential chain applies (environment, profile, instance role)")
	fs.StringVar(&c.S3.SecretAccessKeyFile, "s3-secret-access-key-file", "", "file holding the static S3 secret access key (with --s3-access-key-id)")
	fs.BoolVar(&c.S3.VendStaticCredentials, "s3-vend-static-credentials", false, "hand the static S3 credentials to Iceberg clients in loadTable's config, only to principals allowed table.read_data on the table")
	fs.StringVar(&c.PolicyDir, "policy-dir", "", "directory of your own Rego policy (package lakegate.authz, rule decision); replaces the default policy and is reloaded when its files change")
	fs.DurationVar(&c.PolicyPoll, "policy-poll-interval", time.Second, "how often --policy-dir is checked for changes")
	fs.DurationVar(&c.GrantsRefresh, "grants-refresh-interval", 30*time.Second, "full reload of grants from Postgres as a safety net for missed change notifications")
	fs.StringVar(&c.Role, "role", roleAll, "what this process runs: all (gateway and writer), gateway (HTTP API, accepts records) or writer (commits buffered records; its HTTP API refuses records)")
	fs.Int64Var(&c.Stream.MaxBytes, "stream-max-bytes", 8<<30, "JetStream buffer size for accepted batches; when full, ingest answers 429")
	fs.DurationVar(&c.Stream.MaxAge, "stream-max-age", 7*24*time.Hour, "longest an accepted batch is kept in the buffer")
	fs.DurationVar(&c.Stream.DuplicateWindow, "stream-duplicate-window", 2*time.Minute, "JetStream de-duplication window of Idempotency-Keys (receipts are kept longer, see --idempotency-lifetime)")
	fs.IntVar(&c.Stream.Replicas, "stream-replicas", 1, "JetStream replicas of the buffer (3 on a NATS cluster)")
	fs.IntVar(&c.Writer.MaxRecords, "writer-max-records", 200_000, "records per micro-batch (one snapshot)")
	fs.IntVar(&c.Writer.MaxBytes, "writer-max-bytes", 64<<20, "batch payload bytes per micro-batch")
	fs.DurationVar(&c.Writer.MaxLinger, "writer-max-linger", 500*time.Millisecond, "longest a batch waits for others before its snapshot is committed (freshness)")
	fs.DurationVar(&c.Writer.CompactInterval, "writer-compact-interval", 5*time.Minute, "how often the writer compacts the small files of the datasets that received data (0 disables compaction)")
	fs.Int64Var(&c.Writer.CompactTargetFileSize, "writer-compact-target-file-size", 128<<20, "size of the data files compaction writes, in bytes; files under 75% of it are compacted")
	fs.IntVar(&c.Writer.CompactMinFiles, "writer-compact-min-files", 5, "fewest small files of a partition that compaction rewrites")
	fs.DurationVar(&c.Writer.CompactLookback, "writer-compact-lookback", 6*time.Hour, "compaction looks at the partitions that received data within this time")
	fs.DurationVar(&c.Writer.AckWait, "writer-ack-wait", 2*time.Minute, "how long a batch handed to a writer stays reserved for it; after a writer crash its uncommitted batches are redelivered to another writer (or its restart) once this has passed")
	fs.Int64Var(&c.IngestMaxBodyBytes, "ingest-max-body-bytes", 32<<20, "largest record batch request body, compressed and decompressed")
	fs.IntVar(&c.IngestMaxRecords, "ingest-max-records", 100_000, "most records in one request")
	fs.StringVar(&c.FieldHashKeyFile, "field-hash-key-file", "", "file holding the key (at least 32 bytes) of the policy's hash field transformation (keyed HMAC-SHA256); without it the key is derived from the HS256 secret, so rotating that secret changes the hashes")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "if set, serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); keep it private")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")

	fs.StringVar(&c.HTTP.Addr, "http-addr", "127.0.0.1:8181", "HTTP listen address; loopback only by default, :8181 listens on all interfaces")
	fs.Int64Var(&c.HTTP.MaxBodyBytes, "http-max-body-bytes", 1<<20, "largest accepted request body of the management API, in bytes")
	fs.Int64Var(&c.HTTP.CatalogBodyBytes, "catalog-max-body-bytes", 16<<20, "largest accepted request body of the Iceberg REST catalog, in bytes")
	fs.IntVar(&c.HTTP.MaxHeaderBytes, "http-max-header-bytes", 16<<10, "largest accepted request header block, in bytes")
	fs.DurationVar(&c.HTTP.ReadHeaderTimeout, "http-read-header-timeout", 10*time.Second, "longest a client may take to send a request's headers before its connection is closed")
	fs.Int64Var(&c.HTTP.BodyMinRate, "http-body-min-rate", 1<<10, "slowest accepted request body, in bytes/s after --http-body-grace-period; a slower client is cut off")
	fs.DurationVar(&c.HTTP.BodyGracePeriod, "http-body-grace-period", 10*time.Second, "time a request body may take before --http-body-min-rate applies")
	fs.DurationVar(&c.HTTP.IdleTimeout, "http-idle-timeout", 120*time.Second, "how long an idle keep-alive connection is kept open")
	fs.IntVar(&c.HTTP.MaxConnections, "http-max-connections", 4096, "most connections served at once by this process; more wait to be accepted")
	fs.Var((*stringList)(&c.HTTP.TrustedProxies), "trusted-proxies", "comma-separated CIDRs of proxies whose X-Forwarded-For / X-Real-IP headers are believed for the audit's client_addr and the policy's client_ip (default none: the socket peer)")
	fs.DurationVar(&c.HTTP.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long graceful shutdown waits for in-flight requests")
	fs.DurationVar(&c.HTTP.IdempotencyLifetime, "idempotency-lifetime", 30*time.Minute, "how long the outcome of a mutation sent with an Idempotency-Key is replayed to retries (advertised in the Iceberg config)")

	fs.IntVar(&c.Audit.BatchSize, "audit-batch-size", 1000, "read-path audit rows written per batch")
	fs.DurationVar(&c.Audit.FlushInterval, "audit-flush-interval", 200*time.Millisecond, "longest a read-path audit row waits before it is written")
	fs.IntVar(&c.Audit.QueueSize, "audit-queue-size", 16384, "audit rows buffered or reserved by requests in progress; when full, requests are refused at once with 503 and Retry-After (rows are never dropped)")
	fs.DurationVar(&c.Audit.MaxLag, "audit-max-lag", 30*time.Second, "/readyz reports not ready when the oldest unwritten audit row is older than this (or the audit queue is 90% full)")

	fs.StringVar(&c.JWTSecretFile, "jwt-hs256-secret-file", "", "file holding the HS256 secret, which signs service-client tokens and verifies HS256 tokens; without it a secret is generated at <data-dir>/jwt-hs256.secret")
	fs.Var(&c.JWTPublicKeys, "jwt-public-keys", "comma-separated PEM files of RSA, ECDSA or Ed25519 public keys (kid = file name without extension)")
	fs.StringVar(&c.JWKSURL, "jwks-url", "", "JWKS URL of your identity provider (keys cached by kid, refreshed in the background)")
	fs.Var(&c.JWTAlgorithms, "jwt-algorithms", "comma-separated allow-list of JWT algorithms (default: those of the configured keys)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "required iss claim, if set")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "required aud claim, if set")
	fs.DurationVar(&c.JWTLeeway, "jwt-leeway", 30*time.Second, "allowed clock skew for exp/nbf/iat (at most 5m)")
	fs.StringVar(&c.JWTRolesClaim, "jwt-roles-claim", "roles", "claim holding the principal's roles")
	fs.IntVar(&c.JWTMaxBytes, "jwt-max-bytes", 8192, "largest accepted token, in bytes")
	fs.DurationVar(&c.OAuthTokenTTL, "oauth-token-ttl", time.Hour, "lifetime of the access tokens issued to service clients by POST /iceberg/v1/oauth/tokens (1m to 24h)")
	return c
}

// Process roles.
const (
	roleAll     = "all"
	roleGateway = "gateway"
	roleWriter  = "writer"
)

// validate completes defaults that depend on other settings and reports the first invalid
// setting by its flag name.
func (c *serveConfig) validate() error {
	if c.DataDir == "" {
		return errors.New("data-dir: must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	c.DataDir = abs
	c.Audit.SpillDir = filepath.Join(c.DataDir, "audit-spill")
	if c.DatabaseURL == "" {
		return errors.New("database-url: required (LAKEGATE_DATABASE_URL); `make run` starts a private PostgreSQL cluster and sets it for you")
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("database-url: must be a postgres:// URL")
	}
	if c.DBMaxConns < 2 {
		return errors.New("db-max-conns: must be at least 2")
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(c.NATSURL); err != nil || u.Host == "" {
			return fmt.Errorf("nats-url: %q is not a nats:// URL", c.NATSURL)
		}
	}
	if c.Warehouse == "" {
		c.Warehouse = "file://" + filepath.Join(c.DataDir, "warehouse")
	}
	if err := c.validateStorage(); err != nil {
		return err
	}
	if err := c.catalogConfig().Validate(); err != nil {
		return fmt.Errorf("allowed-locations: %w", err)
	}
	if c.PolicyDir != "" {
		if st, err := os.Stat(c.PolicyDir); err != nil || !st.IsDir() {
			return fmt.Errorf("policy-dir: %q is not a directory", c.PolicyDir)
		}
	}
	if c.PolicyPoll <= 0 {
		return errors.New("policy-poll-interval: must be positive")
	}
	if c.GrantsRefresh <= 0 {
		return errors.New("grants-refresh-interval: must be positive")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log-format: %q is not text or json", c.LogFormat)
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		return errors.New("jwt-leeway: must be between 0 and 5m")
	}
	if c.JWTMaxBytes < 256 {
		return errors.New("jwt-max-bytes: must be at least 256")
	}
	if c.OAuthTokenTTL < time.Minute || c.OAuthTokenTTL > 24*time.Hour {
		return errors.New("oauth-token-ttl: must be between 1m and 24h")
	}
	switch c.Role {
	case roleAll, roleGateway, roleWriter:
	default:
		return fmt.Errorf("role: %q is not all, gateway or writer", c.Role)
	}
	if c.IngestMaxBodyBytes <= 0 || c.IngestMaxRecords <= 0 {
		return errors.New("ingest-max-body-bytes and ingest-max-records: must be positive")
	}
	if err := c.Writer.Validate(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"http-read-header-timeout", int64(c.HTTP.ReadHeaderTimeout)}, {"http-body-min-rate", c.HTTP.BodyMinRate},
		{"http-body-grace-period", int64(c.HTTP.BodyGracePeriod)}, {"http-idle-timeout", int64(c.HTTP.IdleTimeout)},
		{"http-max-connections", int64(c.HTTP.MaxConnections)}} {
		if f.v <= 0 {
			return fmt.Errorf("%s: must be positive", f.name)
		}
	}
	if err := c.HTTP.Validate(); err != nil {
		return err
	}
	return c.Audit.Validate()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

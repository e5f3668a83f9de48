// Package idempotency keeps the outcomes of mutations sent with an Idempotency-Key header
// (Iceberg REST spec 1.10) in Postgres, so that a retry with the same key is answered with
// the first outcome instead of running the mutation again.
//
// A request first claims its (principal, key) with a pending row (Begin). When the request
// ends, the caller either stores its response (Complete) or gives the key back (Release) so a
// retry runs again. A pending row older than the pending timeout belongs to a request whose
// process died; a retry with the same request takes it over.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrInProgress is returned by Begin while another request holds the key.
var ErrInProgress = errors.New("idempotency: a request with this key is still in progress")

// ErrKeyReused is returned by Begin when the key was used for a different request.
var ErrKeyReused = errors.New("idempotency: the key was already used for a different request")

// ErrClaimLost is returned by Complete and Release when the claim no longer holds the key:
// it was taken over as abandoned, or expired.
var ErrClaimLost = errors.New("idempotency: the claim no longer holds the key")

// Config tunes the store.
type Config struct {
	Lifetime        time.Duration // how long an outcome is replayed; default 30m
	PendingTimeout  time.Duration // age at which an in-flight claim counts as abandoned; default 1m
	JanitorInterval time.Duration // period of the deletion of expired keys; default 1m
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Lifetime < 0 || c.PendingTimeout < 0 || c.JanitorInterval < 0 {
		return errors.New("idempotency: lifetime, pending timeout and janitor interval must not be negative")
	}
	return nil
}

func (c *Config) defaults() {
	if c.Lifetime == 0 {
		c.Lifetime = 30 * time.Minute
	}
	if c.PendingTimeout == 0 {
		c.PendingTimeout = time.Minute
	}
	if c.JanitorInterval == 0 {
		c.JanitorInterval = time.Minute
	}
}

// Response is a stored outcome.
type Response struct {
	Status      int
	ContentType string
	Headers     map[string]string // the replayed headers besides Content-Type, e.g. ETag, Location
	Body        []byte
	// Authz is what the original request was authorized for (opaque to the store): a replay
	// is authorized again, so a revoked grant also stops replays.
	Authz []byte
}

// Claim is a request's hold on a key, from Begin until Complete or Release.
type Claim struct {
	Principal string
	Key       string
	// reservedAt is the pending row's created_at: it tells this claim from a later takeover.
	reservedAt time.Time
}

// Store keeps idempotency keys in the idempotency_keys table.
type Store struct {
	pool   *pgxpool.Pool
	cfg    Config
	logger *slog.Logger
}

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	return &Store{pool: pool, cfg: cfg, logger: logger}, nil
}

// Lifetime is how long a key's outcome is replayed.
func (s *Store) Lifetime() time.Duration { return s.cfg.Lifetime }

// Fingerprint identifies a request: its method, path (with query) and body.
func Fingerprint(method, path string, body []byte) []byte {
	bh := sha256.Sum256(body)
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(bh[:])
	return h.Sum(nil)
}

// beginAttempts bounds the retries when the row Begin conflicts with disappears before it
// can be read (released or expired in between).
const beginAttempts = 3

// Begin claims key for principal and the request with fingerprint. It returns a claim when
// the caller should run the request, or the stored response when the caller should replay
// it. It fails with ErrInProgress while another request holds the key and with ErrKeyReused
// when the key belongs to a request with another fingerprint.
func (s *Store) Begin(ctx context.Context, principal, key string, fingerprint []byte) (Claim, *Response, error) {
	for range beginAttempts {
		// Insert a pending row; take over an expired row, or an abandoned pending row of the
		// same request.
		var reservedAt time.Time
		err := s.pool.QueryRow(ctx, `INSERT INTO idempotency_keys AS k (key, principal, fingerprint, pending, created_at)
			VALUES ($1, $2, $3, true, now())
			ON CONFLICT (principal, key) DO UPDATE
			SET fingerprint = EXCLUDED.fingerprint, status = 0, content_type = '', headers = '{}'::jsonb,
				body = ''::bytea, authz = NULL, pending = true, created_at = EXCLUDED.created_at
			WHERE k.created_at < now() - $4::bigint * interval '1 microsecond'
				OR (k.pending AND k.fingerprint = EXCLUDED.fingerprint AND k.created_at < now() - $5::bigint * interval '1 microsecond')
			RETURNING created_at`,
			key, principal, fingerprint, s.cfg.Lifetime.Microseconds(), s.cfg.PendingTimeout.Microseconds()).Scan(&reservedAt)
		if err == nil {
			return Claim{Principal: principal, Key: key, reservedAt: reservedAt}, nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Claim{}, nil, fmt.Errorf("idempotency: claim key: %w", err)
		}

		// The key is held: by a request in flight or by a stored outcome.
		var (
			stored  []byte
			pending bool
			resp    Response
			headers []byte
		)
		err = s.pool.QueryRow(ctx, `SELECT fingerprint, pending, status, content_type, headers, body, authz
			FROM idempotency_keys WHERE principal = $1 AND key = $2`, principal, key).
			Scan(&stored, &pending, &resp.Status, &resp.ContentType, &headers, &resp.Body, &resp.Authz)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return Claim{}, nil, fmt.Errorf("idempotency: read key: %w", err)
		}
		switch {
		case string(stored) != string(fingerprint):
			return Claim{}, nil, ErrKeyReused
		case pending:
			return Claim{}, nil, ErrInProgress
		}
		if err := json.Unmarshal(headers, &resp.Headers); err != nil {
			return Claim{}, nil, fmt.Errorf("idempotency: decode stored headers: %w", err)
		}
		return Claim{}, &resp, nil
	}
	return Claim{}, nil, fmt.Errorf("idempotency: key %q kept changing while being claimed", key)
}

// Complete stores the outcome of the claimed request.
func (s *Store) Complete(ctx context.Context, c Claim, r Response) error {
	headers := r.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	hb, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("idempotency: encode headers: %w", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys
		SET status = $4, content_type = $5, headers = $6, body = $7, authz = $8, pending = false
		WHERE principal = $1 AND key = $2 AND created_at = $3 AND pending`,
		c.Principal, c.Key, c.reservedAt, r.Status, r.ContentType, hb, body, r.Authz)
	if err != nil {
		return fmt.Errorf("idempotency: store outcome: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

// Release gives the claimed key back, so that a retry runs the request again.
func (s *Store) Release(ctx context.Context, c Claim) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys
		WHERE principal = $1 AND key = $2 AND created_at = $3 AND pending`, c.Principal, c.Key, c.reservedAt)
	if err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

// DeleteExpired deletes the keys older than the lifetime and returns how many it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::bigint * interval '1 microsecond'`,
		s.cfg.Lifetime.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("idempotency: delete expired keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Run deletes expired keys every janitor interval until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.JanitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := s.DeleteExpired(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.Warn("deleting expired idempotency keys failed", "err", err)
				}
				continue
			}
			if n > 0 {
				s.logger.Debug("expired idempotency keys deleted", "count", n)
			}
		}
	}
}

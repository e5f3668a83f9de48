package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lakegate/lakegate/internal/pg"
)

// ErrInvalidClient is returned by Authenticate for an unknown client, a wrong secret and a
// revoked client alike, so a caller cannot tell which one it was.
var ErrInvalidClient = errors.New("invalid client credentials")

// ErrNoSuchClient is returned by Revoke for an unknown or already revoked client.
var ErrNoSuchClient = errors.New("no such service client")

// ErrInvalidClientSpec wraps the reason a service client's name or roles are refused.
var ErrInvalidClientSpec = errors.New("invalid service client")

const (
	clientIDPrefix     = "lgc_"
	clientSecretBytes  = 32
	maxClientNameRunes = 128
	maxClientRoles     = 64
)

var (
	clientIDPattern = regexp.MustCompile(`^lgc_[0-9a-f]{16}$`)
	// rolePattern keeps roles free of the spaces and commas that separate roles in a string
	// roles claim, so a role is read back from a token exactly as it was given.
	rolePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}$`)
)

// ValidClientID reports whether id has the shape of a service client id, lgc_<16 hex>.
func ValidClientID(id string) bool { return clientIDPattern.MatchString(id) }

// Client is a service client: a machine identity that exchanges its id and secret for an
// access token carrying its roles. The secret is never part of it.
type Client struct {
	ID        string     `json:"client_id"`
	Name      string     `json:"name"`
	Roles     []string   `json:"roles"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ClientStore keeps service clients in Postgres (table service_clients).
//
// Secrets are stored as their SHA-256. A plain hash, rather than a slow password hash such as
// bcrypt or argon2, is enough here because the secret is not chosen by a person: it is 32 bytes
// from crypto/rand, so nobody can guess it or find it in a dictionary, and inverting SHA-256 on a
// 256-bit random input is infeasible. A fast hash also keeps the token endpoint cheap.
type ClientStore struct {
	pool *pgxpool.Pool
	// absent is the hash compared against when the client does not exist, so that an unknown
	// client costs the same work as a known one.
	absent [sha256.Size]byte
}

// NewClientStore returns a store on pool.
func NewClientStore(pool *pgxpool.Pool) *ClientStore {
	s := &ClientStore{pool: pool}
	_, _ = rand.Read(s.absent[:]) // crypto/rand.Read never fails; it aborts the program instead
	return s
}

const clientColumns = `id, name, roles, COALESCE(created_by, ''), created_at, revoked_at`

// validateClient checks a new client's name and roles and returns the roles to store.
func validateClient(name string, roles []string) ([]string, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return nil, fmt.Errorf("%w: name must not be empty", ErrInvalidClientSpec)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return nil, fmt.Errorf("%w: name must be valid UTF-8 text", ErrInvalidClientSpec)
	case utf8.RuneCountInString(name) > maxClientNameRunes:
		return nil, fmt.Errorf("%w: name must be at most %d characters", ErrInvalidClientSpec, maxClientNameRunes)
	case len(roles) > maxClientRoles:
		return nil, fmt.Errorf("%w: at most %d roles", ErrInvalidClientSpec, maxClientRoles)
	}
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return nil, fmt.Errorf("%w: role %q must be 1 to 128 letters, digits or _ . : @ -, starting with a letter, digit or _", ErrInvalidClientSpec, r)
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("%w: role %q is listed twice", ErrInvalidClientSpec, r)
		}
		out = append(out, r)
	}
	return out, nil
}

func newClientCredentials() (id, secret string) {
	var idBytes [8]byte
	var secretBytes [clientSecretBytes]byte
	// crypto/rand.Read never fails; it aborts the program instead.
	_, _ = rand.Read(idBytes[:])
	_, _ = rand.Read(secretBytes[:])
	return clientIDPrefix + hex.EncodeToString(idBytes[:]), base64.RawURLEncoding.EncodeToString(secretBytes[:])
}

// Create stores a new client with name and roles, running hook in the same transaction, and
// returns it with its secret. The secret is returned only here: the store keeps its hash.
func (s *ClientStore) Create(ctx context.Context, name string, roles []string, createdBy string, hook func(context.Context, pgx.Tx) error) (Client, string, error) {
	roles, err := validateClient(name, roles)
	if err != nil {
		return Client{}, "", err
	}
	id, secret := newClientCredentials()
	hash := sha256.Sum256([]byte(secret))
	c := Client{ID: id, Name: name, Roles: roles, CreatedBy: createdBy}
	err = pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO service_clients (id, name, roles, secret_sha256, created_by)
			VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
			c.ID, c.Name, c.Roles, hash[:], c.CreatedBy).Scan(&c.CreatedAt)
		if err != nil {
			return fmt.Errorf("auth: insert service client: %w", err)
		}
		if hook != nil {
			return hook(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

func scanClient(row pgx.Row, extra ...any) (Client, error) {
	var c Client
	err := row.Scan(append([]any{&c.ID, &c.Name, &c.Roles, &c.CreatedBy, &c.CreatedAt, &c.RevokedAt}, extra...)...)
	if c.Roles == nil {
		c.Roles = []string{}
	}
	return c, err
}

// List returns every client, revoked ones included, oldest first.
func (s *ClientStore) List(ctx context.Context) ([]Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM service_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list service clients: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Client, error) { return scanClient(r) })
	if err != nil {
		return nil, fmt.Errorf("auth: list service clients: %w", err)
	}
	return cs, nil
}

// Revoke marks a client revoked, running hook in the same transaction. A revoked client gets
// no new tokens; tokens already issued stay valid until they expire.
func (s *ClientStore) Revoke(ctx context.Context, id string, hook func(context.Context, pgx.Tx) error) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE service_clients SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return fmt.Errorf("auth: revoke service client: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchClient, id)
		}
		if hook != nil {
			return hook(ctx, tx)
		}
		return nil
	})
}

// Authenticate returns the active client whose id and secret these are. An unknown client, a
// wrong secret and a revoked client all yield ErrInvalidClient after the same work: one
// lookup, one hash and one constant-time comparison.
func (s *ClientStore) Authenticate(ctx context.Context, clientID, secret string) (Client, error) {
	lookup := clientID
	if !ValidClientID(clientID) {
		// Still query, for the same work; an empty id matches no row and cannot upset the
		// database's text encoding the way arbitrary client input could.
		lookup = ""
	}
	given := sha256.Sum256([]byte(secret))
	var stored []byte
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+`, secret_sha256 FROM service_clients WHERE id = $1`, lookup), &stored)
	found := true
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		found, stored = false, s.absent[:]
	case err != nil:
		return Client{}, fmt.Errorf("auth: look up service client: %w", err)
	}
	match := subtle.ConstantTimeCompare(given[:], stored) == 1
	if !found || !match || c.RevokedAt != nil {
		return Client{}, ErrInvalidClient
	}
	return c, nil
}

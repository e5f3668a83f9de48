package policy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lakegate/lakegate/internal/pg"
)

// ErrNoSuchGrant is returned for an unknown grant id.
var ErrNoSuchGrant = errors.New("no such grant")

// ErrGrantExists is returned when the same grant already exists.
var ErrGrantExists = errors.New("grant already exists")

// ErrInvalidGrant wraps the reason a grant is malformed.
var ErrInvalidGrant = errors.New("invalid grant")

// grantsChannel is the Postgres NOTIFY channel that tells every lakegate process to reload
// grants.
const grantsChannel = "lakegate_grants"

// GrantFilter selects grants; empty fields match everything.
type GrantFilter struct {
	Principal     string
	PrincipalType string
	Namespace     string
}

// GrantStore keeps grants in Postgres and the engine's copy of them current: after its own
// changes at once, after other processes' changes on their NOTIFY, and periodically.
type GrantStore struct {
	pool    *pgxpool.Pool
	engine  *Engine
	logger  *slog.Logger
	refresh time.Duration
}

// NewGrantStore returns a store that feeds engine; refresh is the period of the full reload.
func NewGrantStore(pool *pgxpool.Pool, engine *Engine, logger *slog.Logger, refresh time.Duration) *GrantStore {
	if refresh <= 0 {
		refresh = 30 * time.Second
	}
	return &GrantStore{pool: pool, engine: engine, logger: logger, refresh: refresh}
}

const grantColumns = `id, principal_type, principal, privilege, scope_type, namespace, name, created_by, created_at`

func scanGrant(row pgx.Row) (Grant, error) {
	var g Grant
	err := row.Scan(&g.ID, &g.PrincipalType, &g.Principal, &g.Privilege, &g.ScopeType, &g.Namespace, &g.Name, &g.CreatedBy, &g.CreatedAt)
	return g, err
}

func newGrantID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "g_" + hex.EncodeToString(b[:])
}

// Create validates and stores g, running hook in the same transaction, and makes it effective.
func (s *GrantStore) Create(ctx context.Context, g Grant, hook func(context.Context, pgx.Tx) error) (Grant, error) {
	g.ID = newGrantID()
	if err := g.Validate(); err != nil {
		return Grant{}, fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO grants (id, principal_type, principal, privilege, scope_type, namespace, name, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
			g.ID, g.PrincipalType, g.Principal, g.Privilege, g.ScopeType, g.Namespace, g.Name, g.CreatedBy).Scan(&g.CreatedAt)
		if pg.IsUniqueViolation(err) {
			return fmt.Errorf("%w: %s %s has %s on %s %s", ErrGrantExists, g.PrincipalType, g.Principal, g.Privilege, g.ScopeType, scopeName(g))
		}
		if err != nil {
			return fmt.Errorf("policy: insert grant: %w", err)
		}
		return s.notifyAndHook(ctx, tx, hook)
	})
	if err != nil {
		return Grant{}, err
	}
	return g, s.Refresh(ctx)
}

func scopeName(g Grant) string {
	if g.Name != "" {
		return g.Namespace + "." + g.Name
	}
	return g.Namespace
}

func (s *GrantStore) notifyAndHook(ctx context.Context, tx pgx.Tx, hook func(context.Context, pgx.Tx) error) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, grantsChannel); err != nil {
		return fmt.Errorf("policy: notify grant change: %w", err)
	}
	if hook != nil {
		return hook(ctx, tx)
	}
	return nil
}

// Get returns one grant.
func (s *GrantStore) Get(ctx context.Context, id string) (Grant, error) {
	g, err := scanGrant(s.pool.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Grant{}, fmt.Errorf("%w: %s", ErrNoSuchGrant, id)
	}
	if err != nil {
		return Grant{}, fmt.Errorf("policy: get grant: %w", err)
	}
	return g, nil
}

// List returns the grants matching f, oldest first.
func (s *GrantStore) List(ctx context.Context, f GrantFilter) ([]Grant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+grantColumns+` FROM grants
		WHERE ($1 = '' OR principal = $1) AND ($2 = '' OR principal_type = $2) AND ($3 = '' OR namespace = $3)
		ORDER BY created_at, id`, f.Principal, f.PrincipalType, f.Namespace)
	if err != nil {
		return nil, fmt.Errorf("policy: list grants: %w", err)
	}
	gs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, fmt.Errorf("policy: list grants: %w", err)
	}
	return gs, nil
}

// Revoke deletes a grant, running hook in the same transaction, and makes it ineffective.
func (s *GrantStore) Revoke(ctx context.Context, id string, hook func(context.Context, pgx.Tx) error) error {
	err := pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM grants WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("policy: delete grant: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", ErrNoSuchGrant, id)
		}
		return s.notifyAndHook(ctx, tx, hook)
	})
	if err != nil {
		return err
	}
	return s.Refresh(ctx)
}

// Refresh loads every grant into the engine.
func (s *GrantStore) Refresh(ctx context.Context) error {
	gs, err := s.List(ctx, GrantFilter{})
	if err != nil {
		return err
	}
	if err := s.engine.SetGrants(ctx, gs); err != nil {
		return fmt.Errorf("policy: load grants into the engine: %w", err)
	}
	return nil
}

// Run keeps the engine's grants current until ctx ends: it reloads them on every change
// notification from any lakegate process, and fully every refresh period as a safety net.
func (s *GrantStore) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(s.refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
					s.logger.Warn("periodic grant refresh failed", "err", err)
				}
			}
		}
	}()
	return pg.Listen(ctx, s.pool, s.logger, []string{grantsChannel}, s.Refresh, func(ctx context.Context, _, _ string) {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("grant refresh after change notification failed", "err", err)
		}
	}, nil) // the grants stay in force while Postgres is unreachable; a reconnect reloads them
}

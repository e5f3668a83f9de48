package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/auth"
	"github.com/lakegate/lakegate/internal/pgtest"
)

func TestClientStore(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	store := auth.NewClientStore(pool)

	hooked := false
	c, secret, err := store.Create(ctx, "spark nightly", []string{"producer", "pii_reader"}, "alice", func(ctx context.Context, tx pgx.Tx) error {
		hooked = true
		var n int
		// The hook runs inside the transaction that inserted the client.
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM service_clients`).Scan(&n))
		require.Equal(t, 1, n)
		return nil
	})
	require.NoError(t, err)
	require.True(t, hooked)
	require.Regexp(t, `^lgc_[0-9a-f]{16}$`, c.ID)
	require.True(t, auth.ValidClientID(c.ID))
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	require.Equal(t, "spark nightly", c.Name)
	require.Equal(t, []string{"producer", "pii_reader"}, c.Roles)
	require.Equal(t, "alice", c.CreatedBy)
	require.False(t, c.CreatedAt.IsZero())
	require.Nil(t, c.RevokedAt)

	// The secret is stored only as its SHA-256.
	var stored []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT secret_sha256 FROM service_clients WHERE id = $1`, c.ID).Scan(&stored))
	want := sha256.Sum256([]byte(secret))
	require.Equal(t, want[:], stored)
	var rowText string
	require.NoError(t, pool.QueryRow(ctx, `SELECT row_to_json(s)::text FROM service_clients s WHERE id = $1`, c.ID).Scan(&rowText))
	require.NotContains(t, rowText, secret)
	require.False(t, bytes.Contains(stored, []byte(secret)))

	got, err := store.Authenticate(ctx, c.ID, secret)
	require.NoError(t, err)
	require.Equal(t, c.ID, got.ID)
	require.Equal(t, c.Roles, got.Roles)

	// Wrong secret, unknown client, malformed id: the same error.
	_, err = store.Authenticate(ctx, c.ID, secret+"x")
	require.ErrorIs(t, err, auth.ErrInvalidClient)
	_, err = store.Authenticate(ctx, c.ID, "")
	require.ErrorIs(t, err, auth.ErrInvalidClient)
	_, err = store.Authenticate(ctx, "lgc_0000000000000000", secret)
	require.ErrorIs(t, err, auth.ErrInvalidClient)
	_, err = store.Authenticate(ctx, "not\x00an-id", secret)
	require.ErrorIs(t, err, auth.ErrInvalidClient)

	// A second client does not share the first one's secret.
	other, otherSecret, err := store.Create(ctx, "trino", nil, "alice", nil)
	require.NoError(t, err)
	require.NotEqual(t, secret, otherSecret)
	require.Equal(t, []string{}, other.Roles)
	_, err = store.Authenticate(ctx, other.ID, secret)
	require.ErrorIs(t, err, auth.ErrInvalidClient)

	list, err := store.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, c.ID, list[0].ID)
	require.Equal(t, other.ID, list[1].ID)

	// A failing hook rolls the revocation back.
	boom := errors.New("boom")
	require.ErrorIs(t, store.Revoke(ctx, c.ID, func(context.Context, pgx.Tx) error { return boom }), boom)
	_, err = store.Authenticate(ctx, c.ID, secret)
	require.NoError(t, err)

	require.NoError(t, store.Revoke(ctx, c.ID, nil))
	_, err = store.Authenticate(ctx, c.ID, secret)
	require.ErrorIs(t, err, auth.ErrInvalidClient, "a revoked client is refused")
	require.ErrorIs(t, store.Revoke(ctx, c.ID, nil), auth.ErrNoSuchClient, "revoking twice")
	require.ErrorIs(t, store.Revoke(ctx, "lgc_0000000000000000", nil), auth.ErrNoSuchClient)
	list, err = store.List(ctx)
	require.NoError(t, err)
	require.NotNil(t, list[0].RevokedAt)
	require.Nil(t, list[1].RevokedAt)
}

func TestClientStoreRefusesBadClients(t *testing.T) {
	ctx := context.Background()
	store := auth.NewClientStore(pgtest.Pool(t))
	for name, tc := range map[string]struct {
		name  string
		roles []string
	}{
		"empty name":     {"  ", nil},
		"long name":      {string(bytes.Repeat([]byte("n"), 129)), nil},
		"role with s p":  {"x", []string{"a b"}},
		"role with ,":    {"x", []string{"a,b"}},
		"empty role":     {"x", []string{""}},
		"duplicate role": {"x", []string{"a", "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := store.Create(ctx, tc.name, tc.roles, "alice", nil)
			require.ErrorIs(t, err, auth.ErrInvalidClientSpec)
		})
	}
	list, err := store.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
}

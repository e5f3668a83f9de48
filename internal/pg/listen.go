package pg

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen takes one connection out of the pool, LISTENs on channels and calls onNotify for
// every notification until ctx ends. Whenever it (re)connects it calls onReset first, because
// notifications sent while nobody listened are lost: callers reload their state there. When
// the connection is lost it calls onLost, if set: until onReset, changes go unnoticed, so a
// cache of what the notifications keep fresh should stop serving.
func Listen(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, channels []string,
	onReset func(context.Context) error, onNotify func(ctx context.Context, channel, payload string), onLost func()) error {
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, channels, onReset, onNotify)
		if err != nil && ctx.Err() == nil {
			if onLost != nil {
				onLost()
			}
			logger.Warn("postgres listener stopped; reconnecting", "channels", channels, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, channels []string,
	onReset func(context.Context) error, onNotify func(ctx context.Context, channel, payload string)) error {
	pooled, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	// The connection's session state (LISTEN) must not go back to the pool: own it.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, `LISTEN "`+ch+`"`); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	if err := onReset(ctx); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		onNotify(ctx, n.Channel, n.Payload)
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/lakegate/lakegate/internal/pg"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var url, logLevel string
	fs.StringVar(&url, "database-url", "", "Postgres URL")
	fs.StringVar(&logLevel, "log-level", "info", "log level")
	fs.Usage = usage(fs, stderr, "usage: lakegate migrate [flags]\n\nApplies pending database migrations (under an advisory lock) and exits.")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if url == "" {
		return errors.New("database-url: required (LAKEGATE_DATABASE_URL)")
	}
	if _, err := parseLevel(logLevel); err != nil {
		return err
	}
	logger := newLogger(stderr, logLevel, "text")
	pool, err := pg.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	logger.Info("database is up to date")
	return nil
}

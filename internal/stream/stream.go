// Package stream defines the JetStream stream that buffers accepted ingest batches between
// the gateway and the writers: one stream for every dataset, one subject per dataset, file
// storage, bounded by size and age with new messages refused when full (backpressure rather
// than unbounded growth), and a de-duplication window for producers' Idempotency-Keys.
package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sizes the stream.
type Config struct {
	Name            string        // default LAKEGATE_RECORDS
	SubjectPrefix   string        // default lakegate.records
	MaxBytes        int64         // default 8 GiB; publishing fails when full
	MaxAge          time.Duration // default 7 days
	DuplicateWindow time.Duration // Nats-Msg-Id de-duplication window, default 2 minutes
	Replicas        int           // default 1 (a NATS cluster may use 3)
	MaxMsgSize      int32         // default 8 MiB
}

// Validate checks the settings, naming the bad one.
func (c Config) Validate() error {
	switch {
	case c.MaxBytes < 0:
		return errors.New("stream-max-bytes: must not be negative")
	case c.MaxAge < 0:
		return errors.New("stream-max-age: must not be negative")
	case c.DuplicateWindow < 0:
		return errors.New("stream-duplicate-window: must not be negative")
	case c.Replicas < 0 || c.Replicas > 5:
		return errors.New("stream-replicas: must be between 1 and 5")
	}
	return nil
}

// WithDefaults fills unset settings.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = "LAKEGATE_RECORDS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "lakegate.records"
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 8 << 30
	}
	if c.MaxAge == 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = 8 << 20
	}
	return c
}

// Subject is the subject of a dataset's batches: <prefix>.<namespace levels>.<name>. Names
// contain no dots, so the last token is always the dataset's name.
func (c Config) Subject(namespace, name string) string {
	return c.SubjectPrefix + "." + namespace + "." + name
}

// Dataset parses a subject back into namespace and name.
func (c Config) Dataset(subject string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(subject, c.SubjectPrefix+".")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i <= 0 || i == len(rest)-1 {
		return "", "", fmt.Errorf("stream: subject %q names no dataset", subject)
	}
	return rest[:i], rest[i+1:], nil
}

// Ensure creates the stream or updates it to cfg.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	cfg = cfg.WithDefaults()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "lakegate: accepted ingest batches awaiting their Iceberg commit",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    cfg.MaxBytes,
		MaxAge:      cfg.MaxAge,
		MaxMsgSize:  cfg.MaxMsgSize,
		Duplicates:  cfg.DuplicateWindow,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: create or update %s: %w", cfg.Name, err)
	}
	return s, nil
}

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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/lakegate/lakegate/internal/segment"
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

// Subject is the subject of a dataset's batches: <prefix>.<namespace levels>.<name>, each
// level and the name one subject token (see segment.Escape). Names contain no dots, so the last token
// is always the dataset's name.
func (c Config) Subject(namespace, name string) string {
	var b strings.Builder
	b.WriteString(c.SubjectPrefix)
	for _, level := range strings.Split(namespace, ".") {
		b.WriteByte('.')
		b.WriteString(segment.Escape(level))
	}
	b.WriteByte('.')
	b.WriteString(segment.Escape(name))
	return b.String()
}

// Dataset parses a subject back into namespace and name.
func (c Config) Dataset(subject string) (namespace, name string, err error) {
	rest, ok := strings.CutPrefix(subject, c.SubjectPrefix+".")
	tokens := strings.Split(rest, ".")
	if !ok || len(tokens) < 2 {
		return "", "", fmt.Errorf("stream: subject %q names no dataset", subject)
	}
	for i, t := range tokens {
		if tokens[i], err = segment.Unescape(t); err != nil {
			return "", "", fmt.Errorf("stream: subject %q: %w", subject, err)
		}
	}
	return strings.Join(tokens[:len(tokens)-1], "."), tokens[len(tokens)-1], nil
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

// Errors of Publish, for the caller's backpressure answers.
var (
	// ErrFull: the stream is at its limits and refused the message.
	ErrFull = errors.New("stream: full")
	// ErrUnavailable: the message was not stored (no connection, no JetStream answering).
	ErrUnavailable = errors.New("stream: unavailable")
	// ErrUnconfirmed: the message was sent but no acknowledgement came back in time; it may
	// have been stored.
	ErrUnconfirmed = errors.New("stream: publish not confirmed")
)

// Publisher publishes batches durably: Publish returns once JetStream has stored the message
// (with the stream's file storage and the server's sync settings).
type Publisher struct {
	js  jetstream.JetStream
	cfg Config
}

// NewPublisher returns a publisher into the stream of cfg.
func NewPublisher(js jetstream.JetStream, cfg Config) *Publisher {
	return &Publisher{js: js, cfg: cfg.WithDefaults()}
}

// Publish stores payload with headers on the dataset's subject. msgID, when set, makes a
// retry within the de-duplication window a no-op that reports the first sequence.
func (p *Publisher) Publish(ctx context.Context, namespace, name string, payload []byte, headers map[string]string, msgID string) (seq uint64, duplicate bool, err error) {
	msg := &nats.Msg{Subject: p.cfg.Subject(namespace, name), Data: payload, Header: nats.Header{}}
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(p.cfg.Name)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := p.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == 10077 || // JSStreamStoreFailedErr: the stream is at a limit

			strings.Contains(apiErr.Description, "maximum") || strings.Contains(apiErr.Description, "resource limits")) {
			return 0, false, fmt.Errorf("%w: %s", ErrFull, apiErr.Description)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, nats.ErrTimeout) {
			return 0, false, fmt.Errorf("%w: %w", ErrUnconfirmed, err)
		}
		return 0, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}

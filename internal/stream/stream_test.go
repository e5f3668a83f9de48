package stream_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/natsembed"
	"github.com/lakegate/lakegate/internal/stream"
)

func jetStream(t *testing.T) jetstream.JetStream {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func TestSubjects(t *testing.T) {
	cfg := stream.Config{}.WithDefaults()
	subj := cfg.Subject("sales.eu", "orders")
	require.Equal(t, "lakegate.records.sales.eu.orders", subj)
	ns, name, err := cfg.Dataset(subj)
	require.NoError(t, err)
	require.Equal(t, "sales.eu", ns)
	require.Equal(t, "orders", name)
	for _, bad := range []string{"other.sales.orders", "lakegate.records.orders", "lakegate.records.", "lakegate.records.sales."} {
		_, _, err := cfg.Dataset(bad)
		require.Error(t, err, bad)
	}
}

// The stream de-duplicates by Nats-Msg-Id and refuses new messages when full: backpressure,
// never silent loss of accepted batches.
func TestStreamLimitsAndDeduplication(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	cfg := stream.Config{MaxBytes: 4096}
	_, err := stream.Ensure(ctx, js, cfg)
	require.NoError(t, err)
	_, err = stream.Ensure(ctx, js, cfg) // idempotent
	require.NoError(t, err)
	subj := cfg.WithDefaults().Subject("sales", "orders")

	a1, err := js.Publish(ctx, subj, []byte("batch"), jetstream.WithMsgID("key-1"))
	require.NoError(t, err)
	a2, err := js.Publish(ctx, subj, []byte("batch"), jetstream.WithMsgID("key-1"))
	require.NoError(t, err)
	require.True(t, a2.Duplicate)
	require.Equal(t, a1.Sequence, a2.Sequence)

	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, full = js.Publish(ctx, subj, make([]byte, 512))
	}
	require.Error(t, full, "a full stream refuses new batches")
	info, err := js.Stream(ctx, cfg.WithDefaults().Name)
	require.NoError(t, err)
	st, err := info.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), st.State.FirstSeq, "nothing accepted was discarded")
}

func TestValidate(t *testing.T) {
	require.NoError(t, stream.Config{}.Validate())
	require.ErrorContains(t, stream.Config{MaxBytes: -1}.Validate(), "stream-max-bytes")
	require.ErrorContains(t, stream.Config{Replicas: 7}.Validate(), "stream-replicas")
}

func TestPublisherReportsAFullStream(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	cfg := stream.Config{MaxBytes: 4096}
	_, err := stream.Ensure(ctx, js, cfg)
	require.NoError(t, err)
	p := stream.NewPublisher(js, cfg)
	seq, dup, err := p.Publish(ctx, "sales", "orders", []byte("x"), map[string]string{"A": "b"}, "id-1")
	require.NoError(t, err)
	require.False(t, dup)
	again, dup, err := p.Publish(ctx, "sales", "orders", []byte("x"), nil, "id-1")
	require.NoError(t, err)
	require.True(t, dup)
	require.Equal(t, seq, again)
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, _, full = p.Publish(ctx, "sales", "orders", make([]byte, 512), nil, "")
	}
	require.ErrorIs(t, full, stream.ErrFull)
}

// Any name the catalog accepts becomes subject tokens NATS accepts, and parses back.
func TestSubjectRoundTrip(t *testing.T) {
	c := stream.Config{SubjectPrefix: "lakegate.batches"}
	for _, d := range [][2]string{{"iot.plant1", "events"}, {"Sales-EU", "Orders 2024"}, {"a b.c*d", "x>y~z"}, {"ünï", "名前"}} {
		subj := c.Subject(d[0], d[1])
		for _, tok := range strings.Split(strings.TrimPrefix(subj, "lakegate.batches."), ".") {
			require.Regexp(t, `^[A-Za-z0-9_~]+$`, tok, subj)
		}
		ns, name, err := c.Dataset(subj)
		require.NoError(t, err)
		require.Equal(t, d[0], ns)
		require.Equal(t, d[1], name)
	}
	require.Equal(t, "lakegate.batches.iot.plant1.events", c.Subject("iot.plant1", "events"), "plain names keep their subject")
	for _, bad := range []string{"lakegate.batches.x", "lakegate.batches.a.b~", "lakegate.batches.a.b~zz", "other.a.b"} {
		_, _, err := c.Dataset(bad)
		require.Error(t, err, bad)
	}
}

package natsembed_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/lakegate/lakegate/internal/natsembed"
)

// A message published to a stream survives a restart of the server on the same directory.
func TestJetStreamPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	publish := func() {
		srv, err := natsembed.Start(natsembed.Config{StoreDir: dir})
		require.NoError(t, err)
		defer srv.Shutdown()
		nc, err := nats.Connect(srv.ClientURL())
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage})
		require.NoError(t, err)
		_, err = js.Publish(ctx, "t.a", []byte("hello"))
		require.NoError(t, err)
	}
	publish()

	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	require.NoError(t, err)
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL(), nats.Timeout(5*time.Second))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, "T")
	require.NoError(t, err)
	msg, err := s.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "hello", string(msg.Data))
}

func TestStartRequiresStoreDir(t *testing.T) {
	_, err := natsembed.Start(natsembed.Config{})
	require.ErrorContains(t, err, "store directory")
}

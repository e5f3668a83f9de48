// Package natsembed runs a NATS server with JetStream inside the lakegate process, storing
// its streams under a directory, for the default single-binary deployment and for tests.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures the embedded server.
type Config struct {
	StoreDir string // JetStream storage directory (required)
	Host     string // default 127.0.0.1: the embedded server is not exposed
	Port     int    // default -1: a random free port
	// MaxStoreBytes bounds JetStream file storage; default 10 GiB.
	MaxStoreBytes int64
	// SyncAlways fsyncs every stored message before JetStream acknowledges it, so an
	// acknowledged batch survives a power loss, not only a process crash. Without it the
	// store syncs every two minutes (the nats-server default).
	SyncAlways bool
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("natsembed: store directory is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	if cfg.MaxStoreBytes == 0 {
		cfg.MaxStoreBytes = 10 << 30
	}
	opts := &server.Options{
		ServerName:         "lakegate-embedded",
		Host:               cfg.Host,
		Port:               cfg.Port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxStore:  cfg.MaxStoreBytes,
		JetStreamMaxMemory: 256 << 20,
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         8 << 20,
		SyncAlways:         cfg.SyncAlways,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("natsembed: server did not become ready within 30s")
	}
	return &Server{srv: srv}, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

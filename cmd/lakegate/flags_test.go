package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFlagsHaveEnvironmentTwins(t *testing.T) {
	env := map[string]string{"LAKEGATE_HTTP_ADDR": "127.0.0.1:9999", "LAKEGATE_JWT_LEEWAY": "10s", "LAKEGATE_DATA_DIR": "/tmp/x"}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := serveFlags(fs)
	require.NoError(t, parseFlags(fs, []string{"--data-dir", "/tmp/flag-wins"}, func(k string) string { return env[k] }))
	require.Equal(t, "127.0.0.1:9999", cfg.HTTP.Addr)
	require.Equal(t, 10*time.Second, cfg.JWTLeeway)
	require.Equal(t, "/tmp/flag-wins", cfg.DataDir, "a command-line flag wins over its environment twin")

	// The network edges: loopback by default, no trusted proxy, bounded timeouts and connections.
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg = serveFlags(fs)
	require.NoError(t, parseFlags(fs, nil, func(string) string { return "" }))
	require.Equal(t, "127.0.0.1:8181", cfg.HTTP.Addr)
	require.Empty(t, cfg.HTTP.TrustedProxies)
	require.Equal(t, 10*time.Second, cfg.HTTP.ReadHeaderTimeout)
	require.Equal(t, 120*time.Second, cfg.HTTP.IdleTimeout)
	require.Equal(t, int64(1024), cfg.HTTP.BodyMinRate)
	require.Equal(t, 10*time.Second, cfg.HTTP.BodyGracePeriod)
	require.Equal(t, 4096, cfg.HTTP.MaxConnections)
	env = map[string]string{"LAKEGATE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1", "LAKEGATE_HTTP_MAX_CONNECTIONS": "64"}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg = serveFlags(fs)
	require.NoError(t, parseFlags(fs, []string{"--http-idle-timeout", "5s"}, func(k string) string { return env[k] }))
	require.Equal(t, []string{"10.0.0.0/8", "192.0.2.1"}, cfg.HTTP.TrustedProxies)
	require.Equal(t, 64, cfg.HTTP.MaxConnections)
	require.Equal(t, 5*time.Second, cfg.HTTP.IdleTimeout)

	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(fs)
	err := parseFlags(fs, nil, func(k string) string {
		if k == "LAKEGATE_DB_MAX_CONNS" {
			return "many"
		}
		return ""
	})
	require.ErrorContains(t, err, "LAKEGATE_DB_MAX_CONNS")
}

func TestServeHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(fs)
	usage(fs, &out, "usage")()
	fs.VisitAll(func(f *flag.Flag) {
		require.Contains(t, out.String(), "--"+f.Name)
		require.Contains(t, out.String(), envName(f.Name))
		require.NotEmpty(t, strings.TrimSpace(f.Usage), f.Name)
	})
}

func TestValidateNamesTheSetting(t *testing.T) {
	base := func() *serveConfig {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c := serveFlags(fs)
		c.DatabaseURL = "postgres://u@127.0.0.1:5432/db"
		c.DataDir = t.TempDir()
		return c
	}
	require.NoError(t, base().validate())
	for setting, mod := range map[string]func(*serveConfig){
		"database-url":         func(c *serveConfig) { c.DatabaseURL = "" },
		"db-max-conns":         func(c *serveConfig) { c.DBMaxConns = 1 },
		"nats-url":             func(c *serveConfig) { c.NATSURL = "::" },
		"log-format":           func(c *serveConfig) { c.LogFormat = "xml" },
		"http-addr":            func(c *serveConfig) { c.HTTP.Addr = "8181" },
		"jwt-max-bytes":        func(c *serveConfig) { c.JWTMaxBytes = 10 },
		"policy-poll-interval": func(c *serveConfig) { c.PolicyPoll = 0 },
		"http-body-min-rate":   func(c *serveConfig) { c.HTTP.BodyMinRate = 0 },
		"http-idle-timeout":    func(c *serveConfig) { c.HTTP.IdleTimeout = -time.Second },
		"http-max-connections": func(c *serveConfig) { c.HTTP.MaxConnections = 0 },
		"trusted-proxies":      func(c *serveConfig) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "proxy.example"} },
	} {
		c := base()
		mod(c)
		require.ErrorContains(t, c.validate(), setting)
	}
}

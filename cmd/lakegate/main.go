// Command lakegate is the governance-first lakehouse gateway and Iceberg catalog.
//
//	lakegate serve     run the service
//	lakegate migrate   apply database migrations and exit
//	lakegate token     mint a development token signed with the data dir's dev key
//	lakegate bench     load generators for make bench
//	lakegate version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "lakegate:", err)
			os.Exit(1)
		}
	}
}

const topUsage = `usage: lakegate <command> [flags]

commands:
  serve     run the service (HTTP API, policy, audit, embedded NATS by default)
  migrate   apply database migrations and exit
  token     mint a development token signed with the data dir's HS256 key
  bench     load generators (bench get: authenticated GET throughput and latency)
  version   print the version

Run 'lakegate <command> --help' for a command's flags.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, topUsage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stderr)
	case "token":
		return token(args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "lakegate", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, topUsage)
		return nil
	}
	fmt.Fprintln(stderr, topUsage)
	return fmt.Errorf("unknown command %q", args[0])
}

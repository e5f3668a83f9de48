package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lakegate/lakegate/internal/auth"
)

func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dataDir, sub, issuer, audience, rolesClaim string
		roles                                      stringList
		ttl                                        time.Duration
	)
	fs.StringVar(&dataDir, "data-dir", ".lakegate", "data dir whose dev HS256 key signs the token (the same as serve's)")
	fs.StringVar(&sub, "sub", "", "subject (principal name), e.g. alice")
	fs.Var(&roles, "roles", "comma-separated roles, e.g. admin or producer,pii_writer")
	fs.DurationVar(&ttl, "ttl", time.Hour, "lifetime of the token")
	fs.StringVar(&issuer, "issuer", "", "iss claim (match serve's --jwt-issuer if set)")
	fs.StringVar(&audience, "audience", "", "aud claim (match serve's --jwt-audience if set)")
	fs.StringVar(&rolesClaim, "roles-claim", "roles", "claim name for the roles (match serve's --jwt-roles-claim)")
	fs.Usage = usage(fs, stderr, "usage: lakegate token --sub NAME [--roles a,b] [--ttl 1h]\n\nPrints a development token signed with the data dir's HS256 key.")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if sub == "" {
		return errors.New("sub: required, e.g. --sub alice")
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return errors.New("ttl: must be between 1s and 366 days")
	}
	secret, err := auth.LoadOrCreateDevSecret(dataDir)
	if err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	tok, err := auth.MintHS256(secret, auth.MintOptions{Subject: sub, Roles: roles, TTL: ttl, Issuer: issuer, Audience: audience, RolesClaim: rolesClaim})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

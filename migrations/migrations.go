// Package migrations holds lakegate's Postgres schema as ordered SQL files, embedded in the binary.
package migrations

import "embed"

// FS holds the migration files (NNNNN_name.sql, goose format).
//
//go:embed *.sql
var FS embed.FS

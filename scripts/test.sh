#!/usr/bin/env bash
# Runs every test: starts a private PostgreSQL cluster for them unless
# LAKEGATE_TEST_DATABASE_URL is already set, makes the PyIceberg venv (scripts/pyenv.sh), runs
# go test (race detector on), stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${TEST_PG_PORT:-54330}
if [ -z "${LAKEGATE_TEST_DATABASE_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/lakegate-testpg.XXXXXX)
  trap 'scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
  url=$(scripts/pg.sh start "$pgdir" "$port")
  export LAKEGATE_TEST_DATABASE_URL=${url%/lakegate*}/postgres?sslmode=disable
fi

# The PyIceberg interoperability test (tests/pyiceberg_test.go) runs this venv's python.
LAKEGATE_TEST_PYTHON=$(scripts/pyenv.sh)
export LAKEGATE_TEST_PYTHON

go vet ./...
go test -race -count=1 -timeout 30m "$@" ./...

#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 30s). The seed corpora also
# run as ordinary tests in make test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}

# Some targets write to Postgres (lineage's FuzzAuditRow): a private cluster unless
# LAKEGATE_TEST_DATABASE_URL is set.
if [ -z "${LAKEGATE_TEST_DATABASE_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/lakegate-fuzzpg.XXXXXX)
  trap 'scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
  url=$(scripts/pg.sh start "$pgdir" "${TEST_PG_PORT:-54331}")
  export LAKEGATE_TEST_DATABASE_URL=${url%/lakegate*}/postgres?sslmode=disable
fi
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done

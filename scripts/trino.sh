#!/usr/bin/env bash
# Trino 476 against lakegate (tests/engines/test_trino.py; `make test-trino`): scripts/engines.sh
# in its Trino mode — the environment from scripts/trinoenv.sh (Trino server and CLI from Maven
# Central, cached), lakegate on a fresh database and data dir, the capture proxy, a single-node
# Trino with catalog `lakegate`, pytest, then everything stopped. Not part of `make test` or CI.
#
#   scripts/trino.sh [pytest args]          e.g. scripts/trino.sh -k "merge or view"
#
# Same variables as engines.sh (LAKEGATE_ENGINES_PG_URL, LAKEGATE_ENGINES_OUT, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
LAKEGATE_ENGINES_TRINO=1 exec scripts/engines.sh test_trino.py "$@"

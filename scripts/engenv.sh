#!/usr/bin/env bash
# Environment of the engine interoperability tests (tests/engines: Spark and DuckDB): a venv with
# the exact pins of tests/engines/requirements.txt, and the Iceberg Spark runtime jar from Maven
# Central. Creates or updates both and prints, for eval:
#
#   LAKEGATE_ENGINES_PYTHON=<venv python>
#   LAKEGATE_ICEBERG_SPARK_JAR=<jar>
#
#   scripts/engenv.sh     cache at ${LAKEGATE_ENGINES_CACHE:-$HOME/.cache/lakegate/engines}
#
# Idempotent and offline once cached: the venv keeps a hash of the requirements and of the
# interpreter (both match: nothing is installed), and the jar is checked against its pinned
# SHA-256 (it matches: Maven is not run). The DuckDB extensions come from their pip packages
# and Spark loads the jar from this file, so a test run downloads nothing. Needs Python >= 3.11
# ($LAKEGATE_PYTHON3, else python3.11/python3), Java 17+ and Maven (mvn) for the first fetch.
# Everything but the printed lines goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/engines/requirements.txt
cache=${LAKEGATE_ENGINES_CACHE:-$HOME/.cache/lakegate/engines}
venv=$cache/venv

# The Iceberg runtime for Spark 4.0 / Scala 2.13; bump with pyspark in the requirements.
jar_gav=org.apache.iceberg:iceberg-spark-runtime-4.0_2.13:1.11.0
jar_name=iceberg-spark-runtime-4.0_2.13-1.11.0.jar
jar_sha256=63c3b812549dc232c1920865ff42436df8604a9bbacd693930985c06bd97e6dc
jar=$cache/jars/$jar_name

log() { echo "engenv.sh: $*" >&2; }

find_python() {
  local p
  for p in ${LAKEGATE_PYTHON3:-} python3.11 python3; do
    command -v "$p" >/dev/null 2>&1 || continue
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$p"; return
    fi
  done
  return 1
}

mkdir -p "$cache/jars"
exec 9>"$cache/.lock"
flock 9

# --- the venv
py=$(find_python) || { log "Python >= 3.11 not found (install it, or set LAKEGATE_PYTHON3)"; exit 1; }
pyver=$("$py" -c 'import sys; print(sys.version.split()[0])')
stamp=$( { sha256sum "$req" | cut -d' ' -f1; echo "$py $pyver"; } | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.lakegate-stamp" 2>/dev/null)" = "$stamp" ] \
   && "$venv/bin/python" -c 'import pyspark, duckdb, duckdb_extension_iceberg, pytest, requests' 2>/dev/null; then
  :
else
  log "creating $venv with $py ($pyver) from $req"
  rm -rf "$venv"
  "$py" -m venv "$venv" >&2 || { log "python -m venv failed: install Debian's python3-venv"; exit 1; }
  pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
  "${pip[@]}" install -q -r "$req" >&2
  "${pip[@]}" check >&2
  echo "$stamp" >"$venv/.lakegate-stamp"
fi

# --- the Iceberg Spark runtime jar
jar_ok() { [ -f "$jar" ] && [ "$(sha256sum "$jar" | cut -d' ' -f1)" = "$jar_sha256" ]; }
if ! jar_ok; then
  command -v mvn >/dev/null 2>&1 || { log "mvn not found: install Maven (Debian: maven) to fetch $jar_gav"; exit 1; }
  log "fetching $jar_gav from Maven Central"
  tmp=$(mktemp -d "$cache/jars/.fetch.XXXXXX")
  # -o first: a jar already in the local Maven repository needs no network.
  if ! mvn -o -B -q dependency:copy -Dartifact="$jar_gav" -DoutputDirectory="$tmp" >/dev/null 2>&1; then
    mvn -B -q dependency:copy -Dartifact="$jar_gav" -DoutputDirectory="$tmp" >&2
  fi
  mv "$tmp/$jar_name" "$jar"
  rm -rf "$tmp"
  jar_ok || { log "$jar: SHA-256 is not the pinned $jar_sha256"; rm -f "$jar"; exit 1; }
fi

echo "LAKEGATE_ENGINES_PYTHON=$venv/bin/python"
echo "LAKEGATE_ICEBERG_SPARK_JAR=$jar"

#!/usr/bin/env bash
# The Apache Iceberg REST Compatibility Kit (RCK, iceberg-open-api 1.11.0:
# RESTCompatibilityKitCatalogTests and RESTCompatibilityKitViewCatalogTests, which run iceberg-core's
# CatalogTests and ViewCatalogTests through the reference RESTCatalog client) against the real
# lakegate binary.
#
#   scripts/rck.sh [CONSOLE-LAUNCHER-OPTIONS...]     e.g. --select-method org.apache...#createTable
#                                                    (given selectors replace the two classes)
#
# Steps: build bin/lakegate; resolve the RCK's classpath with Maven (tests/rck/pom.xml, from Maven
# Central into ~/.m2 the first time, offline after); take a fresh database; start lakegate on a free
# loopback port with a fresh data dir (embedded NATS, file:// warehouse); mint an admin token; run the
# JUnit Platform console launcher; stop the server. Exits non-zero when a test fails or errors.
#
# Environment:
#   RCK_DATABASE_URL            use this (empty) database as is
#   LAKEGATE_TEST_DATABASE_URL  else: a Postgres server (as scripts/test.sh exports it) on which a fresh
#                               database rck_<pid> is created, and dropped afterwards
#                               else: a private cluster from scripts/pg.sh on port RCK_PG_PORT (54331)
#   RCK_REPORT_DIR              reports: JUnit XML (TEST-junit-jupiter.xml), the launcher's tree
#                               (rck-output.txt), the server log (lakegate.log); default tests/rck/target/report
#   RCK_KEEP=1                  keep the data dir and database afterwards (for diagnosis)
#   RCK_SUPPORTS_NAMES_WITH_DOT, RCK_REQUIRES_NAMESPACE_CREATE, RCK_OVERRIDES_REQUESTED_LOCATION,
#   RCK_SUPPORTS_SERVERSIDE_RETRY  the RCK's capability switches (rck.* catalog properties); defaults
#                               below, with the reasons in tests/rck/README.md
#   RCK_SERVE_ARGS              extra arguments for `lakegate serve`
#   RCK_LAKEGATE_BIN            run this lakegate binary instead of building bin/lakegate
#
# Tools: Go (the project's toolchain), Java >= 17 and Maven; as root, Debian's openjdk-17-jdk-headless
# and maven are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { echo "rck.sh: $*" >&2; }

# --- tools -----------------------------------------------------------------------------------------
java_ok() { command -v java >/dev/null 2>&1 && java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); exit !(v[1] >= 17) }'; }
if ! java_ok || ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Java 17 and Maven from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq openjdk-17-jdk-headless maven >&2
  fi
  java_ok || { log "Java >= 17 not found"; exit 1; }
  command -v mvn >/dev/null 2>&1 || { log "Maven (mvn) not found"; exit 1; }
fi

report=${RCK_REPORT_DIR:-$root/tests/rck/target/report}
mkdir -p "$report"
report=$(cd "$report" && pwd)
rm -f "$report"/*.xml "$report"/rck-output.txt "$report"/lakegate.log

start_s=$SECONDS

# --- lakegate --------------------------------------------------------------------------------------
if [ -n "${RCK_LAKEGATE_BIN:-}" ]; then
  bin=$RCK_LAKEGATE_BIN
else
  make -s build >&2
  bin=$root/bin/lakegate
fi

# --- the RCK's classpath ---------------------------------------------------------------------------
# Resolved once per pom (its hash names the file) and kept while every jar is still in ~/.m2.
cpdir=$root/tests/rck/target
mkdir -p "$cpdir"
cpfile=$cpdir/classpath-$(sha256sum tests/rck/pom.xml | cut -c1-16).txt
cp_ok() {
  [ -s "$cpfile" ] || return 1
  local j
  while IFS= read -r j; do [ -f "$j" ] || return 1; done < <(tr ':' '\n' <"$cpfile")
}
if ! cp_ok; then
  log "resolving the RCK classpath with Maven (tests/rck/pom.xml)"
  mvn -B -q -f tests/rck/pom.xml dependency:build-classpath -Dmdep.outputFile="$cpfile" >&2 \
    || { rm -f "$cpfile"; log "Maven could not resolve tests/rck/pom.xml"; exit 1; }
fi
classpath=$(cat "$cpfile")

# --- database --------------------------------------------------------------------------------------
psql_bin() {
  if command -v psql >/dev/null 2>&1; then command -v psql; return; fi
  ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V -r | head -1
}
pgdir= dbname= admin_url=
datadir=$(mktemp -d /tmp/lakegate-rck.XXXXXX)
server_pid=
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${RCK_KEEP:-0}" = 1 ]; then
    log "kept data dir $datadir${dbname:+ and database $dbname}"
  else
    if [ -n "$dbname" ] && [ -n "$admin_url" ]; then
      "$(psql_bin)" "$admin_url" -qc "DROP DATABASE IF EXISTS \"$dbname\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [ -n "$pgdir" ]; then scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; fi
    rm -rf "$datadir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${RCK_DATABASE_URL:-}" ]; then
  dburl=$RCK_DATABASE_URL
else
  if [ -n "${LAKEGATE_TEST_DATABASE_URL:-}" ]; then
    admin_url=$LAKEGATE_TEST_DATABASE_URL
  else
    pgdir=$(mktemp -d /tmp/lakegate-rckpg.XXXXXX)
    url=$(scripts/pg.sh start "$pgdir" "${RCK_PG_PORT:-54331}")
    admin_url=${url%/lakegate*}/postgres?sslmode=disable
  fi
  dbname=rck_$$
  psql=$(psql_bin)
  [ -n "$psql" ] || { log "psql not found"; exit 1; }
  "$psql" "$admin_url" -qc "DROP DATABASE IF EXISTS \"$dbname\" WITH (FORCE)" >/dev/null 2>&1 || true
  "$psql" "$admin_url" -qc "CREATE DATABASE \"$dbname\"" >/dev/null
  base=${admin_url%%\?*}
  dburl=${base%/*}/$dbname?sslmode=disable
fi

# --- server ----------------------------------------------------------------------------------------
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  return 1
}
port=
for attempt in 1 2 3; do
  port=$(free_port)
  # shellcheck disable=SC2086
  # The RCK creates tables at fixed locations (file:/tmp/ns/..., file:/tmp/newdb/...) and views
  # under its JUnit temp dir: an operator's allowed locations, as Polaris's.
  LAKEGATE_DATABASE_URL=$dburl "$bin" serve --data-dir "$datadir" --http-addr "127.0.0.1:$port" \
    --allowed-locations "file:///tmp/ns,file:///tmp/newdb,file://$datadir/jtmp" \
    ${RCK_SERVE_ARGS:-} >>"$report/lakegate.log" 2>&1 &
  server_pid=$!
  up=
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || break
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  [ -n "$up" ] && break
  kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=
  log "lakegate did not come up on port $port (attempt $attempt); log: $report/lakegate.log"
  [ "$attempt" = 3 ] && { tail -20 "$report/lakegate.log" >&2; exit 1; }
done
token=$("$bin" token --data-dir "$datadir" --sub rck --roles admin)
log "lakegate on 127.0.0.1:$port (data dir $datadir), ready after $((SECONDS - start_s)) s"

# --- the RCK ---------------------------------------------------------------------------------------
# RCKUtils turns CATALOG_* variables into catalog properties (__ → -, _ → ., lowercased); the rck.*
# capability switches are catalog properties too. rck.local=false (a JUnit configuration parameter)
# stops RESTServerExtension from starting the RCK's own in-memory server.
export CATALOG_URI="http://127.0.0.1:$port/iceberg"
export CATALOG_TOKEN=$token
export CATALOG_WAREHOUSE="file://$datadir/warehouse"
export CATALOG_RCK_REQUIRES__NAMESPACE__CREATE=${RCK_REQUIRES_NAMESPACE_CREATE:-true}
export CATALOG_RCK_SUPPORTS__NAMES__WITH__DOT=${RCK_SUPPORTS_NAMES_WITH_DOT:-false}
export CATALOG_RCK_OVERRIDES__REQUESTED__LOCATION=${RCK_OVERRIDES_REQUESTED_LOCATION:-false}
export CATALOG_RCK_SUPPORTS__SERVERSIDE__RETRY=${RCK_SUPPORTS_SERVERSIDE_RETRY:-true}

selectors=("$@")
if [ ${#selectors[@]} = 0 ]; then
  selectors=(--select-class org.apache.iceberg.rest.RESTCompatibilityKitCatalogTests
             --select-class org.apache.iceberg.rest.RESTCompatibilityKitViewCatalogTests)
fi

log "running the RCK (output: $report/rck-output.txt)"
set +e
# The suites' @TempDir (ViewCatalogTests asks for view locations there) is under java.io.tmpdir:
# keep it in the run's data dir, outside the warehouse.
mkdir -p "$datadir/jtmp"
java -Xmx1g -XX:+UseSerialGC -Djava.io.tmpdir="$datadir/jtmp" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "$classpath" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
  --config=rck.local=false --reports-dir="$report" --fail-if-no-tests \
  --exclude-methodname '.*[.#]testRegisterTable' \
  "${selectors[@]}" >"$report/rck-output.txt" 2>&1
rc=$?
set -e

# Excluded by lakegate's isolation rule (tests/rck/README.md): testRegisterTable registers a
# table whose snapshots reference /path/to/data-*.parquet, files outside the table's location.

# The launcher's summary, and one plain closing line.
sed -n '/Test run finished/,$p' "$report/rck-output.txt" >&2
count() { awk -v k="$1" '$0 ~ k { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; exit } }' "$report/rck-output.txt"; }
ok=$(count 'tests successful'); failed=$(count 'tests failed'); skipped=$(count 'tests skipped'); aborted=$(count 'tests aborted')
log "run took $((SECONDS - start_s)) s; reports in $report"
echo "rck: ${ok:-0} passed, ${failed:-0} failed, $(( ${skipped:-0} + ${aborted:-0} )) skipped"
if [ "$rc" != 0 ]; then
  grep -E '^\s*[|+'"'"'`-].*\[X\]' "$report/rck-output.txt" >&2 || true
fi
exit "$rc"

#!/usr/bin/env bash
# Engine interoperability tests (tests/engines): Spark 4.0 with the Iceberg runtime, and DuckDB
# with its iceberg extension, against a real lakegate. Builds lakegate, starts it on a fresh
# database and data dir on a free loopback port (embedded NATS, file:// warehouse), mints an
# admin token and a token of a principal without grants, runs pytest, stops the server.
#
#   scripts/engines.sh [pytest args]        e.g. scripts/engines.sh -k duckdb
#
# Postgres: with LAKEGATE_ENGINES_PG_URL (a superuser URL of a running server, e.g.
# postgres://postgres@127.0.0.1:54340/postgres) a fresh database is created on it and dropped
# afterwards; without it a private cluster is started with scripts/pg.sh (port
# $ENGINES_PG_PORT, default 54331) and removed afterwards.
# The venv and the Iceberg Spark runtime jar come from scripts/engenv.sh (cached; offline once
# cached). Server log (--log-level debug), pytest output and a JUnit report stay in
# $LAKEGATE_ENGINES_OUT (default: a new /tmp/lakegate-engines.XXXXXX), printed at the end, with
# traffic.jsonl: every REST exchange of the engines, bodies included (tests/engines/capture_proxy.py).
# LAKEGATE_ENGINES_EMULATE=nosuchtable makes that proxy emulate a proposed fix (diagnosis only;
# see the proxy and tests/engines/FAILURES.md).
# LAKEGATE_ENGINES_TRINO=1 (scripts/trino.sh, `make test-trino`) runs test_trino.py instead: the
# environment comes from scripts/trinoenv.sh, and a single-node Trino 476 (Temurin 25, 3 GiB heap,
# an etc/ written for the run; catalogs `lakegate`, `lakegate_nogrant`, `lakegate_scoped` = Iceberg
# REST through the capture proxy with the admin, no-grant and scoped tokens) is started after
# lakegate and stopped before it; its log is $out/trino.log.
# Without it, test_trino.py is not collected.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

log() { echo "engines.sh: $*" >&2; }

out=${LAKEGATE_ENGINES_OUT:-$(mktemp -d /tmp/lakegate-engines.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/lakegate-engines-run.XXXXXX)
data_dir=$work/data
mkdir -p "$data_dir"

server_pid=
proxy_pid=
trino_pid=
pgdir=
db_admin_url=
db_name=
cleanup() {
  set +e
  if [ -n "$trino_pid" ] && kill -0 "$trino_pid" 2>/dev/null; then
    kill -TERM "$trino_pid"
    for _ in $(seq 1 100); do kill -0 "$trino_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$trino_pid" 2>/dev/null && kill -KILL "$trino_pid"
  fi
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid"
  fi
  if [ -n "$db_name" ]; then
    psql_cmd "$db_admin_url" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1
  fi
  if [ -n "$pgdir" ]; then
    scripts/pg.sh stop "$pgdir" >/dev/null 2>&1
    rm -rf "$pgdir"
  fi
  [ -n "${LAKEGATE_ENGINES_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

psql_cmd() {
  local p
  p=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
  [ -n "$p" ] || { log "psql not found"; return 1; }
  "$p" "$1" -v ON_ERROR_STOP=1 -qAt "${@:2}"
}

t0=$(date +%s)
trino=${LAKEGATE_ENGINES_TRINO:-}
if [ -n "$trino" ]; then
  eval "$(scripts/trinoenv.sh)"
else
  eval "$(scripts/engenv.sh)"
fi
t_env=$(date +%s)

log "building lakegate"
make -s build >&2

# --- Postgres: a fresh database
if [ -n "${LAKEGATE_ENGINES_PG_URL:-}" ]; then
  db_admin_url=$LAKEGATE_ENGINES_PG_URL
  db_name=lakegate_engines_$(date +%s)_$$
  psql_cmd "$db_admin_url" -c "CREATE DATABASE $db_name" >/dev/null
  base=${db_admin_url%%\?*}
  db_url="${base%/*}/$db_name?sslmode=disable"
else
  pgdir=$(mktemp -d /tmp/lakegate-engines-pg.XXXXXX)
  db_url=$(scripts/pg.sh start "$pgdir" "${ENGINES_PG_PORT:-54331}")
fi

# --- lakegate on a free loopback port
port=$("$LAKEGATE_ENGINES_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
LAKEGATE_DATABASE_URL=$db_url bin/lakegate serve --data-dir "$data_dir" --http-addr "127.0.0.1:$port" \
  --log-level debug >"$out/lakegate.log" 2>&1 &
server_pid=$!
for i in $(seq 1 150); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { log "lakegate exited; see $out/lakegate.log"; tail -20 "$out/lakegate.log" >&2; exit 1; }
  [ "$i" = 150 ] && { log "lakegate not ready after 30 s; see $out/lakegate.log"; exit 1; }
  sleep 0.2
done
log "lakegate on $url (data dir $data_dir)"

# Engines talk to lakegate through a recording proxy (LAKEGATE_ENGINES_CAPTURE=0: directly):
# $out/traffic.jsonl holds every REST exchange with its bodies, for the failure analysis.
if [ "${LAKEGATE_ENGINES_CAPTURE:-1}" != 0 ]; then
  pport=$("$LAKEGATE_ENGINES_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$LAKEGATE_ENGINES_PYTHON" tests/engines/capture_proxy.py "$pport" "$url" "$out/traffic.jsonl" >"$work/proxy.out" 2>"$out/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 1 50); do grep -q ready "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$work/proxy.out" || { log "capture proxy did not start; see $out/proxy.log"; exit 1; }
  export LAKEGATE_URL=http://127.0.0.1:$pport
  [ -z "${LAKEGATE_ENGINES_EMULATE:-}" ] || log "WARNING: the proxy emulates fixes ($LAKEGATE_ENGINES_EMULATE): diagnosis only"
else
  export LAKEGATE_URL=$url
fi
export LAKEGATE_DATA_DIR=$data_dir
export LAKEGATE_ICEBERG_SPARK_JAR
LAKEGATE_TOKEN=$(bin/lakegate token --data-dir "$data_dir" --sub engines-admin --roles admin --ttl 4h)
# A principal that no grant names and no built-in role covers.
LAKEGATE_NOGRANT_TOKEN=$(bin/lakegate token --data-dir "$data_dir" --sub engines-nogrant --roles nobody --ttl 4h)
# A principal whose only grants the tests give it (table-scoped), by subject.
LAKEGATE_SCOPED_TOKEN=$(bin/lakegate token --data-dir "$data_dir" --sub engines-scoped --roles engines_scoped --ttl 4h)
export LAKEGATE_TOKEN LAKEGATE_NOGRANT_TOKEN LAKEGATE_SCOPED_TOKEN

free_port() { "$LAKEGATE_ENGINES_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- Trino (LAKEGATE_ENGINES_TRINO=1): one node, coordinator and worker, a 3 GiB heap, only the
# iceberg plugin (faster start, less memory). The catalog file holds the admin token.
start_trino() {
  local etc=$work/trino-etc tport
  tport=$(free_port)
  mkdir -p "$etc/catalog" "$work/trino-data" "$work/trino-plugin"
  ln -s "$LAKEGATE_TRINO_HOME/plugin/iceberg" "$work/trino-plugin/iceberg"
  cat >"$etc/node.properties" <<EON
node.environment=lakegate_engines
node.id=lakegate-engines-$$
node.data-dir=$work/trino-data
node.internal-address=127.0.0.1
EON
  cat >"$etc/jvm.config" <<EON
-server
-Xmx3G
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+EnableDynamicAgentLoading
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Duser.timezone=UTC
EON
  cat >"$etc/config.properties" <<EON
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$tport
discovery.uri=http://127.0.0.1:$tport
plugin.dir=$work/trino-plugin
query.max-memory=1GB
query.max-memory-per-node=1GB
task.concurrency=2
EON
  echo "io.trino=INFO" >"$etc/log.properties"
  # The namespace's location decides where tables go (file:// under the data dir); the local file
  # system of Trino 476 reads file:// locations under local.location, which must be a plain /.
  # Retention minimums at 0 s so that the tests can expire snapshots and remove orphans at once.
  # Three catalogs, one per token: lakegate (admin), lakegate_nogrant, lakegate_scoped.
  local cat tok
  for cat in lakegate:$LAKEGATE_TOKEN lakegate_nogrant:$LAKEGATE_NOGRANT_TOKEN lakegate_scoped:$LAKEGATE_SCOPED_TOKEN; do
    tok=${cat#*:}; cat=${cat%%:*}
    cat >"$etc/catalog/$cat.properties" <<EON
connector.name=iceberg
iceberg.catalog.type=rest
iceberg.rest-catalog.uri=$LAKEGATE_URL/iceberg
iceberg.rest-catalog.security=OAUTH2
iceberg.rest-catalog.oauth2.token=$tok
fs.native-local.enabled=true
local.location=/
iceberg.expire-snapshots.min-retention=0s
iceberg.remove-orphan-files.min-retention=0s
EON
    chmod 600 "$etc/catalog/$cat.properties"
  done
  JAVA_HOME=$LAKEGATE_TRINO_JAVA_HOME PATH=$LAKEGATE_TRINO_JAVA_HOME/bin:$PATH \
    "$LAKEGATE_TRINO_HOME/bin/launcher" run --etc-dir="$etc" --data-dir="$work/trino-data" >"$out/trino.log" 2>&1 &
  trino_pid=$!
  local t0=$SECONDS
  while :; do
    if curl -fsS "http://127.0.0.1:$tport/v1/info" 2>/dev/null | grep -q '"starting":false'; then break; fi
    kill -0 "$trino_pid" 2>/dev/null || { log "Trino exited; see $out/trino.log"; tail -30 "$out/trino.log" >&2; exit 1; }
    [ $((SECONDS - t0)) -lt 300 ] || { log "Trino not ready after 300 s; see $out/trino.log"; exit 1; }
    sleep 1
  done
  export LAKEGATE_TRINO_URL=http://127.0.0.1:$tport
  log "Trino $LAKEGATE_TRINO_URL ready after $((SECONDS - t0)) s (pid $trino_pid)"
}

pytest_args=()
if [ -n "$trino" ]; then
  t_trino=$(date +%s)
  start_trino
  t_trino=$(( $(date +%s) - t_trino ))
else
  pytest_args=(--ignore=test_trino.py)
fi

# pyspark's launcher needs JAVA_HOME or java on PATH; Spark 4.0 runs on Java 17 and 21.
t_start=$(date +%s)
set +e
# DuckDB leaves an empty data/ in its working directory; it is removed after the run.
had_data=0; [ -e tests/engines/data ] && had_data=1
(cd tests/engines && "$LAKEGATE_ENGINES_PYTHON" -m pytest -v --tb=short -p no:cacheprovider \
   --junitxml="$out/junit.xml" "${pytest_args[@]}" "$@" 2>&1 | tee "$out/pytest.log")
rc=${PIPESTATUS[0]}
[ "$had_data" = 1 ] || rmdir tests/engines/data 2>/dev/null || true
set -e
t_end=$(date +%s)

# The audit log of the run, for the failure analysis (admin token; newest first).
curl -fsS -H "Authorization: Bearer $LAKEGATE_TOKEN" "$url/v1/audit?page_size=1000" >"$out/audit.json" 2>/dev/null || true
if [ -n "$trino" ] && [ -r "/proc/$trino_pid/status" ]; then
  # The launcher execs java: this pid is Trino's JVM; VmHWM is its peak resident memory.
  log "Trino: start $t_trino s, peak RSS $(awk '/VmHWM/ {printf "%d MiB", $2/1024}' "/proc/$trino_pid/status")"
fi
log "environment $((t_env - t0)) s, tests $((t_end - t_start)) s, total $((t_end - t0)) s"
log "server log, pytest log, JUnit report and audit log in $out"
exit "$rc"

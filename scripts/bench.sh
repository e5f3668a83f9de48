#!/usr/bin/env bash
# make bench: component micro-benchmarks, then the HTTP benchmark of issue #2 — authenticated,
# authorized GET /v1/datasets/{namespace}/{name} with audit on, load generator on the same
# machine. Uses a private PostgreSQL cluster and embedded NATS in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${BENCH_CONCURRENCY:-32}
DURATION=${BENCH_DURATION:-15s}
port=${BENCH_PG_PORT:-54332}

echo "== machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
go version

echo; echo "== component benchmarks (go test -bench)"
go test -run '^$' -bench 'BenchmarkDecide$|BenchmarkVerifyHS256|BenchmarkVerifyRS256|BenchmarkCheck|BenchmarkDecode' -benchmem \
  ./policy/ ./internal/auth/ ./quality/ | grep -E '^(Benchmark|ok|PASS)' || true

work=$(mktemp -d /tmp/lakegate-bench.XXXXXX)
cleanup() {
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

db=$(scripts/pg.sh start "$work/pg" "$port")
addr=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bin/lakegate serve --data-dir "$work/data" --database-url "$db" --http-addr "$addr" --log-level warn &
srv_pid=$!
for _ in $(seq 1 100); do curl -sf "http://$addr/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://$addr/readyz" >/dev/null || { echo "server did not become ready" >&2; exit 1; }

admin=$(bin/lakegate token --data-dir "$work/data" --sub bench-admin --roles admin)
reader=$(bin/lakegate token --data-dir "$work/data" --sub bench-reader --roles analyst --ttl 2h)
curl -sf -XPOST "http://$addr/v1/datasets" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{
  "namespace":"bench","name":"events",
  "schema":{"fields":[{"name":"id","type":"long","required":true},{"name":"ts","type":"timestamptz","required":true},{"name":"v","type":"double"}]},
  "partitioning":[{"field":"ts","transform":"hour"}]}' >/dev/null
# The reader acts through a grant, so every request evaluates the grant rules, not the admin shortcut.
curl -sf -XPOST "http://$addr/v1/grants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{
  "principal_type":"role","principal":"analyst","privilege":"dataset.read","scope_type":"namespace","namespace":"bench"}' >/dev/null

echo; echo "== HTTP: GET /v1/datasets/bench/events (JWT HS256 + OPA grant decision + audit row per request)"
bin/lakegate bench get --url "http://$addr/v1/datasets/bench/events" --token "$reader" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 3s

# Iceberg REST loadTable, by a principal holding a table.load grant.
curl -sf -XPOST "http://$addr/v1/grants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{
  "principal_type":"role","principal":"analyst","privilege":"table.load","scope_type":"namespace","namespace":"bench"}' >/dev/null
echo; echo "== HTTP: Iceberg REST loadTable GET /iceberg/v1/namespaces/bench/tables/events (JWT + OPA + audit row per request)"
bin/lakegate bench get --url "http://$addr/iceberg/v1/namespaces/bench/tables/events" --token "$reader" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 3s

echo; echo "== Iceberg commit latency as history grows (one table, ${BENCH_SNAPSHOTS:-5000} snapshots)"
bin/lakegate bench commits --uri "http://$addr/iceberg" --token "$admin" --snapshots "${BENCH_SNAPSHOTS:-5000}"

echo; echo "== Table hygiene: 2,000 real appends (manifest merging, expiry with file deletion); compaction of 50 micro-batch files"
LAKEGATE_TEST_DATABASE_URL="${db%/lakegate*}/postgres?sslmode=disable" go test -run '^$' \
  -bench 'BenchmarkAppendCommitsWithHistory|BenchmarkCompaction' -benchtime=1x ./catalog/ ./writers/ 2>/dev/null | grep -E '^(Benchmark|ok)' || true

echo; echo "== Streaming ingest: ~256-byte records, durable JetStream acks, writer committing snapshots"
curl -sf -XPOST "http://$addr/v1/datasets" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{
  "namespace":"bench","name":"ingest","unknown_fields":"reject",
  "schema":{"fields":[{"name":"id","type":"long","required":true},{"name":"ts","type":"timestamptz","required":true},
    {"name":"device","type":"string"},{"name":"site","type":"string"},{"name":"kind","type":"string"},{"name":"unit","type":"string"},
    {"name":"value","type":"double"},{"name":"status","type":"string"},{"name":"firmware","type":"string"},{"name":"note","type":"string"}]},
  "partitioning":[{"field":"ts","transform":"hour"}],
  "quality":[{"rule":"range","field":"value","min":-100,"max":1000},{"rule":"not_null","field":"device"}]}' >/dev/null
curl -sf -XPOST "http://$addr/v1/grants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{
  "principal_type":"role","principal":"producer","privilege":"records.write","scope_type":"dataset","namespace":"bench","name":"ingest"}' >/dev/null
producer=$(bin/lakegate token --data-dir "$work/data" --sub bench-producer --roles producer --ttl 2h)
bin/lakegate bench ingest --url "http://$addr" --token "$producer" --dataset bench.ingest \
  --producers "${BENCH_PRODUCERS:-8}" --batch "${BENCH_BATCH:-2000}" --duration "$DURATION" --server-pid "$srv_pid"

sleep 1
rows=$(psql "$db" -Atc "SELECT count(*) FROM audit_log WHERE principal = 'bench-reader'")
echo "audit rows written for the benchmark's requests: $rows"
rss=$(ps -o rss= -p "$srv_pid" | tr -d ' ')
echo "server RSS after the run: $((rss / 1024)) MiB"

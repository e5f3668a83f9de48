# lakegate — make run starts the whole service with embedded defaults; make test runs every test.
SHELL := /bin/bash
GO ?= go
DATA_DIR ?= .lakegate
PG_PORT ?= 54329
TEST_PG_PORT ?= 54330
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test test-go test-rck test-engines test-trino bench fuzz lint pg-start pg-stop clean

build: ## build bin/lakegate
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lakegate ./cmd/lakegate

# Starts a private PostgreSQL cluster under $(DATA_DIR)/pg unless LAKEGATE_DATABASE_URL is set,
# then lakegate with embedded NATS JetStream and a local warehouse under $(DATA_DIR).
run: build
	@if [ -z "$$LAKEGATE_DATABASE_URL" ]; then \
	  url=$$(scripts/pg.sh start $(DATA_DIR)/pg $(PG_PORT)) || exit 1; \
	  export LAKEGATE_DATABASE_URL=$$url; \
	  echo "PostgreSQL: private cluster in $(DATA_DIR)/pg on 127.0.0.1:$(PG_PORT) (stop it with: make pg-stop)"; \
	fi; \
	exec bin/lakegate serve --data-dir $(DATA_DIR)

pg-start:
	@scripts/pg.sh start $(DATA_DIR)/pg $(PG_PORT)

pg-stop:
	@scripts/pg.sh stop $(DATA_DIR)/pg

# Every test, against a private PostgreSQL cluster (started and stopped by scripts/test.sh)
# and embedded NATS.
test:
	@scripts/test.sh

# The Iceberg REST Compatibility Kit (iceberg-open-api 1.11.0 from Maven Central) against the real
# binary: scripts/rck.sh (Java 17 + Maven; reports in tests/rck/target/report).
test-rck:
	@scripts/rck.sh

bench: build
	@scripts/bench.sh

fuzz:
	@scripts/fuzz.sh

clean:
	rm -rf bin

# Spark (pyspark + Iceberg runtime) and DuckDB (iceberg extension) against a real lakegate:
# venv and jar cached by scripts/engenv.sh; not part of `make test` yet. PYTEST_ARGS narrows it.
test-engines:
	@scripts/engines.sh $(PYTEST_ARGS)

# Trino 476 (single node, Temurin 25) against a real lakegate: server, CLI and client cached by
# scripts/trinoenv.sh; not part of `make test` or CI. PYTEST_ARGS narrows it.
test-trino:
	@scripts/trino.sh $(PYTEST_ARGS)

#!/usr/bin/env bash
# Environment of the Trino interoperability tests (tests/engines/test_trino.py): Trino 476 (server
# tarball and CLI executable jar, from Maven Central through Maven, each checked against a pinned
# SHA-256), the Temurin 25 JDK it needs, and the engines venv (scripts/engenv.sh) plus the pinned
# `trino` Python client (tests/engines/requirements-trino.txt, installed into the same venv on top
# of requirements.txt, so the Spark/DuckDB pins and their stamp stay as they are). Prints, for eval:
#
#   LAKEGATE_ENGINES_PYTHON=<venv python>
#   LAKEGATE_ICEBERG_SPARK_JAR=<jar>           (from engenv.sh)
#   LAKEGATE_TRINO_HOME=<unpacked trino-server-476>
#   LAKEGATE_TRINO_CLI=<trino-cli-476-executable.jar>
#   LAKEGATE_TRINO_JAVA_HOME=<JDK 25+>
#
#   scripts/trinoenv.sh   cache at ${LAKEGATE_TRINO_CACHE:-$HOME/.cache/lakegate/trino}
#
# Idempotent and offline once cached. The server tarball is ~820 MB; once unpacked and checked it
# is deleted (the unpacked tree keeps a stamp with the tarball's SHA-256), and so is Maven's own
# copy in ~/.m2, so the cache holds one copy (~880 MB unpacked). JDK: $LAKEGATE_TRINO_JAVA_HOME,
# else /usr/lib/jvm/temurin-25-jdk-amd64 or any /usr/lib/jvm/*25* (Debian: temurin-25-jdk).
# Everything but the printed lines goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${LAKEGATE_TRINO_CACHE:-$HOME/.cache/lakegate/trino}
version=476
server_gav=io.trino:trino-server:$version:tar.gz
server_sha256=cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f
cli_gav=io.trino:trino-cli:$version:jar:executable
cli_name=trino-cli-$version-executable.jar
cli_sha256=fe4e9c7fb569cd67673afa1622945f6308e1e59bdb825419352b80887661757b
home=$cache/trino-server-$version
cli=$cache/$cli_name
req=tests/engines/requirements-trino.txt

log() { echo "trinoenv.sh: $*" >&2; }

# The engines venv first (it takes its own lock).
eval "$(scripts/engenv.sh)"

mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8

# --- the JDK
jdk=${LAKEGATE_TRINO_JAVA_HOME:-}
if [ -z "$jdk" ]; then
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25*; do
    [ -x "$d/bin/java" ] && { jdk=$d; break; }
  done
fi
[ -n "$jdk" ] && [ -x "$jdk/bin/java" ] || { log "no JDK 25 found (Trino $version needs Java 24+): set LAKEGATE_TRINO_JAVA_HOME"; exit 1; }

# mvn_copy GAV DIR: the artifact into DIR (offline first: it may be in ~/.m2 already).
mvn_copy() {
  command -v mvn >/dev/null 2>&1 || { log "mvn not found: install Maven (Debian: maven) to fetch $1"; exit 1; }
  log "fetching $1 from Maven Central"
  if ! mvn -o -B -q dependency:copy -Dartifact="$1" -DoutputDirectory="$2" >/dev/null 2>&1; then
    mvn -B -q dependency:copy -Dartifact="$1" -DoutputDirectory="$2" >&2
  fi
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- the server
if [ "$(cat "$home/.lakegate-sha256" 2>/dev/null)" != "$server_sha256" ] || [ ! -x "$home/bin/launcher" ]; then
  rm -rf "$home"
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  mvn_copy "$server_gav" "$tmp"
  tgz=$tmp/trino-server-$version.tar.gz
  got=$(sha "$tgz")
  [ "$got" = "$server_sha256" ] || { log "$tgz: SHA-256 $got is not the pinned $server_sha256"; rm -rf "$tmp"; exit 1; }
  log "unpacking $tgz"
  tar -xzf "$tgz" -C "$tmp"
  mv "$tmp/trino-server-$version" "$home"
  echo "$server_sha256" >"$home/.lakegate-sha256"
  rm -rf "$tmp" "$HOME/.m2/repository/io/trino/trino-server/$version"
fi

# --- the CLI
if [ ! -f "$cli" ] || [ "$(sha "$cli")" != "$cli_sha256" ]; then
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  mvn_copy "$cli_gav" "$tmp"
  got=$(sha "$tmp/$cli_name")
  [ "$got" = "$cli_sha256" ] || { log "$cli_name: SHA-256 $got is not the pinned $cli_sha256"; rm -rf "$tmp"; exit 1; }
  mv "$tmp/$cli_name" "$cli"
  rm -rf "$tmp"
fi

# --- the Python client, into the engines venv (a stamp of its pins beside the venv's own)
py=$LAKEGATE_ENGINES_PYTHON
stamp=$(sha "$req")
if [ "$(cat "${py%/bin/python}/.lakegate-trino-stamp" 2>/dev/null)" != "$stamp" ] || ! "$py" -c 'import trino' 2>/dev/null; then
  log "installing $req into ${py%/bin/python}"
  "$py" -m pip --disable-pip-version-check --no-input install -q -r "$req" >&2
  "$py" -m pip --disable-pip-version-check --no-input check >&2
  echo "$stamp" >"${py%/bin/python}/.lakegate-trino-stamp"
fi

echo "LAKEGATE_ENGINES_PYTHON=$py"
echo "LAKEGATE_ICEBERG_SPARK_JAR=$LAKEGATE_ICEBERG_SPARK_JAR"
echo "LAKEGATE_TRINO_HOME=$home"
echo "LAKEGATE_TRINO_CLI=$cli"
echo "LAKEGATE_TRINO_JAVA_HOME=$jdk"

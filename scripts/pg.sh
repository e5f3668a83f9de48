#!/usr/bin/env bash
# Private PostgreSQL cluster on loopback, from the machine's PostgreSQL binaries.
#
#   scripts/pg.sh start DIR PORT   initialise DIR (once) and start the cluster; prints the database URL
#   scripts/pg.sh stop DIR         stop the cluster in DIR
#   scripts/pg.sh url DIR PORT     print the database URL
#
# The cluster listens on 127.0.0.1:PORT only, keeps its socket inside DIR and trusts loopback
# connections (it is a development/test cluster). When the binaries are missing and we run as root,
# Debian's postgresql package is installed. Postgres refuses to run as root, so as root the cluster
# runs as the 'postgres' system user.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|url DIR [PORT]}
dir=${2:?data directory required}
port=${3:-54329}
dbname=lakegate

find_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir; return
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pg.sh: installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    bindir=$(find_bindir)
  else
    echo "pg.sh: PostgreSQL binaries not found; install Debian's 'postgresql' package or set LAKEGATE_DATABASE_URL" >&2
    exit 1
  fi
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pgdata="$dir/data"
url="postgres://postgres@127.0.0.1:${port}/${dbname}?sslmode=disable"

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
      chown postgres "$dir"
      chmod 0700 "$dir"
      # postgres must be able to reach DIR through its parents.
      p=$dir
      while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
    fi
    if [ ! -f "$pgdata/PG_VERSION" ]; then
      as_pg "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
      cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
    fi
    if as_pg "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
      :
    else
      as_pg "$bindir/pg_ctl" -D "$pgdata" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { tail -5 "$dir/server.log" >&2
             echo "pg.sh: PostgreSQL did not start in $dir (log: $dir/server.log); if port $port is taken, pick another (make run PG_PORT=...)" >&2
             exit 1; }
    fi
    "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1 \
      || "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname"
    echo "$url"
    ;;
  stop)
    if [ -f "$pgdata/PG_VERSION" ]; then
      as_pg "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  url)
    echo "$url"
    ;;
  *)
    echo "usage: pg.sh start|stop|url DIR [PORT]" >&2; exit 2 ;;
esac

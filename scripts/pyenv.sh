#!/usr/bin/env bash
# Python environment of the interoperability tests (tests/pyiceberg, and moto's S3 server for
# tests/s3_test.go): a venv with the exact pins of tests/pyiceberg/requirements.txt. Creates or
# updates it and prints its python.
#
#   scripts/pyenv.sh          venv at ${LAKEGATE_PYENV:-$HOME/.cache/lakegate/pyenv}
#
# Idempotent: the venv keeps a hash of the requirements and of the interpreter it was made
# with; when both match, nothing is installed. Otherwise the venv is made anew, so it never
# keeps a package that the pins no longer name. Needs Python >= 3.11 (pyarrow's floor), from
# $LAKEGATE_PYTHON3, else python3.11/python3 on PATH. As root, Debian's python3 is installed when
# there is none, and python3-venv when `python3 -m venv` cannot bootstrap pip.
# Everything but the printed path goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/pyiceberg/requirements.txt
venv=${LAKEGATE_PYENV:-$HOME/.cache/lakegate/pyenv}

log() { echo "pyenv.sh: $*" >&2; }

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

if ! py=$(find_python); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "Python >= 3.11 not found; installing Debian's python3 and python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq python3 python3-venv >&2
  fi
  py=$(find_python) || { log "Python >= 3.11 not found (install it, or set LAKEGATE_PYTHON3)"; exit 1; }
fi
pyver=$("$py" -c 'import sys; print(sys.version.split()[0])')
stamp=$( { sha256sum "$req" | cut -d' ' -f1; echo "$py $pyver"; } | sha256sum | cut -d' ' -f1)

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.lakegate-stamp" 2>/dev/null)" = "$stamp" ] \
   && "$venv/bin/python" -c 'import pyiceberg, pyarrow, pytest, moto.server' 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi

make_venv() { rm -rf "$venv" && "$py" -m venv "$venv" >&2; }

log "creating $venv with $py ($pyver) from $req"
if ! make_venv; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "python -m venv failed; installing Debian's python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    minor=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    apt-get update -qq >&2
    apt-get install -y -qq python3-venv >&2 || true
    apt-get install -y -qq "python$minor-venv" >&2 || true
    make_venv
  else
    log "python -m venv failed: install Debian's python3-venv (or set LAKEGATE_PYTHON3 to a Python with ensurepip)"
    exit 1
  fi
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)
"${pip[@]}" install -q -r "$req" >&2
"${pip[@]}" check >&2
echo "$stamp" >"$venv/.lakegate-stamp"
echo "$venv/bin/python"

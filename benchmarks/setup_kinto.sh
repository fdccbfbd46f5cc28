#!/usr/bin/env bash
# Sets up the reference Kinto 26.5.0 for the benchmarks, OUTSIDE the repository:
#   - a virtualenv (default /work/kinto-bench-venv, override with KINTO_BENCH_VENV)
#     with kinto==26.5.0, psycopg2-binary and a production WSGI server
#     (granian --interface wsgi; gunicorn as a fallback if granian cannot be installed);
#   - the `wrk` load generator (Debian package) if missing;
#   - the PostgreSQL database `kinto_bench` (created if missing), migrated with
#     `kinto migrate --ini benchmarks/kinto.ini`.
# None of this is a dependency of the kintogql package.
#
# Env overrides: KINTO_BENCH_VENV, KINTO_BENCH_PYTHON (interpreter used to create the venv),
#                KINTO_BENCH_PG (default postgresql://postgres@127.0.0.1:5432), KINTO_BENCH_DB.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${KINTO_BENCH_VENV:-/work/kinto-bench-venv}"
PYTHON="${KINTO_BENCH_PYTHON:-python3}"
PG="${KINTO_BENCH_PG:-postgresql://postgres@127.0.0.1:5432}"
DB="${KINTO_BENCH_DB:-kinto_bench}"
KINTO_VERSION="26.5.0"

log() { echo "[setup_kinto] $*" >&2; }

# 1. wrk
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk (apt)"
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && apt-get install -y -qq wrk
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq wrk
    fi
fi

# 2. virtualenv with Kinto + a production server
case "$VENV" in
    "$(cd "$HERE/.." && pwd)"/*) log "refusing to create the venv inside the repository: $VENV"; exit 2 ;;
esac
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
if ! "$VENV/bin/python" -c "import kinto, sys; sys.exit(0 if kinto.__version__ == '$KINTO_VERSION' else 1)" 2>/dev/null; then
    log "installing kinto==$KINTO_VERSION psycopg2-binary"
    "$VENV/bin/python" -m pip install -q "kinto==$KINTO_VERSION" psycopg2-binary
fi
# kinto.core's PostgreSQL backends need SQLAlchemy + zope.sqlalchemy (the kinto[postgresql] extra).
"$VENV/bin/python" -c "import sqlalchemy, zope.sqlalchemy, psycopg2" 2>/dev/null || \
    "$VENV/bin/python" -m pip install -q "kinto[postgresql]==$KINTO_VERSION" psycopg2-binary
if [ ! -x "$VENV/bin/granian" ] && [ ! -x "$VENV/bin/gunicorn" ]; then
    log "installing granian"
    if ! "$VENV/bin/python" -m pip install -q granian; then
        log "granian not installable, falling back to gunicorn"
        "$VENV/bin/python" -m pip install -q gunicorn
    fi
fi

# 3. database + schema
ADMIN_URL="$PG/postgres"
if ! psql "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    log "creating database $DB"
    psql "$ADMIN_URL" -qc "CREATE DATABASE $DB"
fi
log "kinto migrate"
(cd "$HERE" && "$VENV/bin/kinto" migrate --ini "$HERE/kinto.ini" >/dev/null 2>&1) || \
    (cd "$HERE" && "$VENV/bin/kinto" migrate --ini "$HERE/kinto.ini")

touch "$VENV/.kinto-bench-ready"
log "ready: $VENV ($("$VENV/bin/python" -c 'import kinto; print("kinto", kinto.__version__)'))"

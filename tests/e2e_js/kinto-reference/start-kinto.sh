#!/usr/bin/env bash
# Start the REAL Kinto 26.5.0 (reference implementation) on PostgreSQL, for
# comparing the kinto.js e2e suite's behaviour with kintogql's.
#
# One-time setup (outside the repo, never a project dependency):
#   python3 -m venv /work/kinto-venv
#   /work/kinto-venv/bin/pip install 'kinto[postgresql]==26.5.0'
#   (i.e. kinto==26.5.0 plus psycopg2-binary, sqlalchemy, zope.sqlalchemy)
#
# Usage:
#   tests/e2e_js/kinto-reference/start-kinto.sh            # port 8889
#   PORT=8890 KINTO_VENV=/path/to/venv tests/e2e_js/kinto-reference/start-kinto.sh
# then, in another shell:
#   KINTO_URL=http://127.0.0.1:8889/v1 tests/e2e_js/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KINTO_VENV="${KINTO_VENV:-/work/kinto-venv}"
PORT="${PORT:-8889}"
PGHOST="${PGHOST:-127.0.0.1}"
PGUSER="${PGUSER:-postgres}"
DB="kinto_e2e"

if ! psql -h "$PGHOST" -U "$PGUSER" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" postgres | grep -q 1; then
  psql -h "$PGHOST" -U "$PGUSER" -c "CREATE DATABASE $DB" postgres
fi

"$KINTO_VENV/bin/kinto" migrate --ini "$HERE/kinto.ini"
exec "$KINTO_VENV/bin/kinto" start --ini "$HERE/kinto.ini" --port "$PORT"

#!/usr/bin/env bash
# Run the kinto.js end-to-end suite against the server at $KINTO_URL
# (e.g. KINTO_URL=http://127.0.0.1:8889/v1). Extra arguments go to
# `node --test`, e.g. --test-name-pattern=conflicts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ -z "${KINTO_URL:-}" ]; then
  echo "run.sh: set KINTO_URL to the server's API root, e.g. http://127.0.0.1:8889/v1" >&2
  exit 2
fi
export KINTO_URL

# Install the pinned packages when missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# One file at a time: scenario 7 makes its own concurrency, and the timing of
# scenario 8 should not be disturbed by other tests' traffic.
exec node --test --test-concurrency=1 "$@" test/*.test.js

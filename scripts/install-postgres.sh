#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the feedback-store tests when they are missing. Idempotent. The
# tests start their own throwaway cluster on 127.0.0.1 (tests/postgres_server.py); the package's own cluster is
# not needed and is not started here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "the PostgreSQL tests" postgresql
ls /usr/lib/postgresql/*/bin/initdb

#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the feedback-store tests when they are missing. Idempotent. The
# tests start their own throwaway cluster on 127.0.0.1 (tests/postgres_server.py); the package's own cluster is
# not needed and is not started here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-postgres: not root and no sudo; install Debian's postgresql package to run the PostgreSQL tests" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb

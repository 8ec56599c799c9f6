#!/usr/bin/env bash
# Run a Chroma server for the guide on this machine: the index every app worker shares (see README, "Running at
# scale"). Usage: scripts/chroma-server.sh [port] [data folder]   (defaults: 8000, data/chroma-server)
# Then, for `guide index` and every worker: export GUIDE_CHROMA_URL=http://127.0.0.1:<port>
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-${CHROMA_PORT:-8000}}
DATA=${2:-${CHROMA_DATA:-data/chroma-server}}
HOST=${CHROMA_HOST:-127.0.0.1}   # bind to a private address only: the server has no authentication
mkdir -p "$DATA"
export ANONYMIZED_TELEMETRY=False
exec .venv/bin/chroma run --host "$HOST" --port "$PORT" --path "$DATA"

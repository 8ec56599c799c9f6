#!/usr/bin/env bash
# Install (first run only takes a few minutes), build the index, and serve the web app on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/guide index
exec .venv/bin/python app.py "$@"

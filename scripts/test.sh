#!/usr/bin/env bash
# Install everything the tests need (including a headless browser when it can) and run lint and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ -f scripts/install-browser.sh ]; then bash scripts/install-browser.sh; fi
bash scripts/install-postgres.sh
.venv/bin/ruff check guide evals tests app.py
.venv/bin/python -m pytest "$@"

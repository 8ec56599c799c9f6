#!/usr/bin/env bash
# Create .venv and install the guide into it. Usage: scripts/setup.sh [extras], e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch first and exactly pinned: a looser pin makes pip fetch a multi-GB CUDA build.
.venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
extras=${1:-}
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/pip install -q --disable-pip-version-check -e "$target" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import guide, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"

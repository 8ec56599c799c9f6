#!/usr/bin/env bash
# Install Debian's Chromium (and fonts) for the browser tests when it is missing. Idempotent; no browser downloads
# by test tools: Playwright drives this system Chromium through executable_path.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-browser: not root and no sudo; install Debian's chromium package to run the browser tests" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation fonts-dejavu-core >/dev/null
/usr/bin/chromium --version

#!/usr/bin/env bash
# Install Debian's Chromium (and fonts) for the browser tests when it is missing. Idempotent; no browser downloads
# by test tools: Playwright drives this system Chromium through executable_path.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "the browser tests" chromium fonts-liberation fonts-dejavu-core
/usr/bin/chromium --version

#!/usr/bin/env bash
# Install Debian packages with apt, as root or through passwordless sudo. Used by the install-*.sh scripts.
# Usage: scripts/apt-install.sh <what they are for> <package>...
set -euo pipefail
PURPOSE=$1
shift
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "$(basename "$0"): not root and no sudo; install Debian's $* to run $PURPOSE" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null

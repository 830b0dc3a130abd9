#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (root only).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
else
  echo "warning: /usr/bin/chromium is missing; run 'sudo apt-get install chromium' for the browser tests" >&2
fi

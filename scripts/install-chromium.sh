#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/ui) when it is not there yet.
# Idempotent: does nothing when /usr/bin/chromium exists. No browser download through npm.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM still missing after apt-get install" >&2
  exit 1
fi
"$CHROMIUM" --version

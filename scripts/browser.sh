#!/usr/bin/env bash
# Install the headless browser of the end-to-end tests (Debian's chromium and chromium-driver) when missing.
# Idempotent: does nothing when /usr/bin/chromium exists. Playwright drives this system browser; it never
# downloads one of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing; run as root (or: sudo apt-get install -y chromium chromium-driver)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
/usr/bin/chromium --version

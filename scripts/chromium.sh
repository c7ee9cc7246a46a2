#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser e2e suite (test/console.e2e-spec.ts
# drives /usr/bin/chromium through playwright-core; Playwright's own browser download is not
# used). A Chromium already present is never touched. Env: CHROMIUM_PATH (default /usr/bin/chromium).
set -euo pipefail
say() { echo "[chromium] $*" >&2; }
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  say "$("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") present; nothing to do"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  say "$CHROMIUM is missing and this is not root: apt-get install chromium (or set CHROMIUM_PATH)"
  exit 1
fi
exec 9>/tmp/streamcell-apt.lock
flock 9
say "installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
say "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"

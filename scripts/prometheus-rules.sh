#!/usr/bin/env bash
# Checks and unit-tests the Prometheus alert rules in deploy/prometheus/ with promtool (series in,
# alerts out: alerts.test.yml), and checks the shipped scrape config. Part of `npm test`.
# On a fresh Debian machine, as root, installs promtool with Debian's `prometheus` package
# (as scripts/docker-engine.sh installs docker.io). Nothing here runs a Prometheus server.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"
cd "$SC_ROOT/deploy/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
  [ "$(id -u)" = "0" ] || sc_die "promtool missing: install Debian's prometheus package (apt-get install prometheus)"
  sc_log "installing promtool (Debian package prometheus) with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

promtool --version 2>&1 | head -n1 >&2
promtool check rules alerts.yml
promtool check config prometheus.yml
promtool test rules alerts.test.yml

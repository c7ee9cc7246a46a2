#!/usr/bin/env bash
# The test command of the README (`npm test`). On a fresh Debian machine, as root, it does
# everything: dependencies, build, lint, type check, unit tests, alert rules, Docker engine, Chromium,
# images and e2e tests.
# Prints the time of every phase at the end (also when a phase fails).
#
# Env: SKIP_E2E=1 (unit only), JEST_E2E_ARGS="..." (extra args for the e2e run, e.g. a file).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/common.sh"
cd "$SC_ROOT"

T_START=$(date +%s)
SC_TEST_TMP=""
if [ -z "${STREAMCELL_TEST_STATE_FILE:-}" ]; then
  SC_TEST_TMP="$(mktemp -d /tmp/streamcell-test.XXXXXX)"
  STREAMCELL_TEST_STATE_FILE="$SC_TEST_TMP/stack.json"
fi
export STREAMCELL_TEST_STATE_FILE
# Jest JSON reports, digested at the end of a failed run (the failure reasons as the last lines).
SC_REPORTS="$(mktemp -d /tmp/streamcell-reports.XXXXXX)"
export TESTCONTAINERS_RYUK_DISABLED="${TESTCONTAINERS_RYUK_DISABLED:-true}"

finish() {
  local rc=$?
  # An interrupted or crashed e2e run may not have reached the jest teardown: remove exactly the
  # containers the harness recorded, by id.
  if [ -f "$STREAMCELL_TEST_STATE_FILE" ]; then
    local ids
    ids="$(node -e 'try{console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).containerIds.join(" "))}catch{}' "$STREAMCELL_TEST_STATE_FILE")"
    if [ -n "$ids" ] && [ "${STREAMCELL_TEST_KEEP_STACK:-0}" != "1" ]; then
      sc_log "removing leftover e2e containers: $ids"
      # shellcheck disable=SC2086
      docker rm -f -v $ids >/dev/null 2>&1 || true
    fi
  fi
  if [ -n "$SC_TEST_TMP" ]; then rm -rf "$SC_TEST_TMP"; fi
  if [ "$rc" -ne 0 ]; then
    echo "--- failed tests ---" >&2
    node scripts/lib/jest-digest.js "$SC_REPORTS/unit.json" "$SC_REPORTS/e2e.json" || true
  fi
  rm -rf "$SC_REPORTS"
  sc_phase_report
  echo "  total        $(( $(date +%s) - T_START ))s" >&2
  if [ "$rc" -eq 0 ]; then sc_log "npm test: PASSED"; else sc_log "npm test: FAILED (exit $rc)"; fi
}
trap finish EXIT

# 1. Dependencies: npm ci when node_modules is missing or the lock file changed since the last install.
sc_phase_start deps
lock_hash="$(sha256sum package-lock.json | cut -c1-64)"
if [ -d node_modules ] && [ "$(cat node_modules/.streamcell-lock-hash 2>/dev/null || true)" = "$lock_hash" ]; then
  sc_log "node_modules was installed from this package-lock.json; npm ci skipped"
elif [ -d node_modules ] && npm ls --all >/dev/null 2>&1; then
  # Installed some other way but complete and consistent: keep it (npm ci would wipe it).
  echo "$lock_hash" > node_modules/.streamcell-lock-hash
  sc_log "node_modules satisfies package.json; npm ci skipped"
else
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.streamcell-lock-hash
fi
sc_phase_end

# 2. Build (WASM kernel, tsc, path aliases). The e2e suites run the built apps.
sc_phase_start build
npm run build
sc_phase_end

# 3. Lint, type check and unit tests: fast, and before the Docker phases, so that a failure of
# any of them is reported within minutes.
sc_phase_start lint
npm run lint
sc_phase_end

sc_phase_start typecheck
npm run typecheck
sc_phase_end

sc_phase_start unit
npm run test:unit -- --ci --json --outputFile="$SC_REPORTS/unit.json"
sc_phase_end

# Alert rules: promtool check and rule unit tests (installs Debian's prometheus package for promtool).
sc_phase_start rules
bash scripts/prometheus-rules.sh
sc_phase_end

# 4. Docker engine (starts Debian's dockerd only when none answers) and Chromium for the browser suite.
sc_phase_start engine
bash scripts/docker-engine.sh
bash scripts/chromium.sh
sc_phase_end

# 5. Images (base, Redis, Kafka reused by tag; app rebuilt when dist changed).
sc_phase_start images
bash deploy/images/build.sh
sc_phase_end

# 6. End-to-end tests on Kafka and Redis containers started by test/global-setup.ts.
if [ "${SKIP_E2E:-0}" != "1" ]; then
  sc_phase_start e2e
  # shellcheck disable=SC2086
  npm run test:e2e -- --ci --json --outputFile="$SC_REPORTS/e2e.json" ${JEST_E2E_ARGS:-}
  sc_phase_end
fi

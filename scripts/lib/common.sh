#!/usr/bin/env bash
# Shared shell helpers for streamcell scripts. Source it; it defines functions only.

# Repository root (scripts/lib/../..).
SC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SC_ROOT

sc_log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
sc_die() { echo "[$(date -u +%H:%M:%S)] ERROR: $*" >&2; exit 1; }

# The legacy builder works with either client; Debian's 20.10 client matches the Debian engine.
sc_docker() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

# sc_image_label IMAGE LABEL: prints the label's value, or nothing when the image is absent.
sc_image_label() {
  sc_docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# sc_image_exists IMAGE
sc_image_exists() { sc_docker image inspect "$1" >/dev/null 2>&1; }

# sc_hash_paths PATH...: one sha256 over the names and contents of every file under the paths.
sc_hash_paths() {
  (
    cd "$SC_ROOT"
    for p in "$@"; do
      [ -e "$p" ] || continue
      find "$p" -type f -print0
    done | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16
  )
}

# Phase timing: sc_phase_start NAME; ...; sc_phase_end. sc_phase_report prints all phases.
SC_PHASES=()
sc_phase_start() { SC_PHASE_NAME="$1"; SC_PHASE_T0=$(date +%s); sc_log "=== $1"; }
sc_phase_end() {
  local dt=$(( $(date +%s) - SC_PHASE_T0 ))
  SC_PHASES+=("$(printf '%-12s %5ss' "$SC_PHASE_NAME" "$dt")")
  sc_log "=== $SC_PHASE_NAME done in ${dt}s"
  SC_PHASE_NAME=""
}
sc_phase_report() {
  # A phase still open here is the one that failed.
  if [ -n "${SC_PHASE_NAME:-}" ]; then
    SC_PHASES+=("$(printf '%-12s %5ss (failed)' "$SC_PHASE_NAME" "$(( $(date +%s) - SC_PHASE_T0 ))")")
    SC_PHASE_NAME=""
  fi
  echo "--- phase timings ---" >&2
  local p
  for p in "${SC_PHASES[@]}"; do echo "  $p" >&2; done
}

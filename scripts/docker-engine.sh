#!/usr/bin/env bash
# Make sure a Docker engine answers. On a fresh Debian machine (no systemd) install Debian's
# docker.io and start dockerd in the background. An engine that already answers is never touched.
#
# Env:
#   DOCKER_ENGINE_LOG      dockerd log file (default /var/log/streamcell-dockerd.log)
#   DOCKER_ENGINE_TIMEOUT  seconds to wait for `docker info` (default 120)
set -euo pipefail

LOG="${DOCKER_ENGINE_LOG:-/var/log/streamcell-dockerd.log}"
TIMEOUT="${DOCKER_ENGINE_TIMEOUT:-120}"

say() { echo "[docker-engine] $*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

# Several scripts may ask for the engine at once; only one of them may start it.
exec 9>/tmp/streamcell-docker-engine.lock
flock 9

if command -v docker >/dev/null 2>&1 && engine_answers; then
  # The image build still needs debootstrap even where someone else runs the engine.
  if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    say "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  say "engine answers; nothing to do"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  say "no Docker engine answers and this is not root: start one yourself (or run as root)"
  exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A stale pid file from a dead dockerd would stop a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  # fd 9 (the lock) must not be inherited, or the lock would live as long as dockerd.
  # setsid: its own session, so a caller's job control or Ctrl-C does not take the engine down.
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null 9>&- &
else
  say "a dockerd process exists but does not answer yet; waiting for it"
fi

deadline=$(( $(date +%s) + TIMEOUT ))
until engine_answers; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    say "dockerd did not answer 'docker info' within ${TIMEOUT}s; last log lines from $LOG:"
    tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
  sleep 1
done
say "engine up: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"

#!/usr/bin/env bash
# Builds every image the tests and docker-compose need, without a registry, and reuses
# base/kafka/redis by tag (rebuilt only when their recipe under deploy/images/ changes).
# The app image is rebuilt whenever its content (dist/, production node_modules, wasm) changes.
#
#   npm run images                 # all images
#   deploy/images/build.sh kafka   # some of: base kafka redis prometheus app
#
# Env (image names are configuration; a name outside streamcell/ is taken as provided
# by a registry and is not built here):
#   BASE_IMAGE  (streamcell/base:bookworm)   KAFKA_IMAGE (streamcell/kafka:4)
#   REDIS_IMAGE (streamcell/redis:7)         APP_IMAGE   (streamcell/app:dev)
#   PROMETHEUS_IMAGE (streamcell/prometheus:2)
#   DEBIAN_MIRROR  mirror for debootstrap (default: the first Debian URI in /etc/apt sources)
#   FORCE_REBUILD=1  rebuild even when a tag exists
set -euo pipefail
# shellcheck source=../../scripts/lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/common.sh"

BASE_IMAGE="${BASE_IMAGE:-streamcell/base:bookworm}"
KAFKA_IMAGE="${KAFKA_IMAGE:-streamcell/kafka:4}"
REDIS_IMAGE="${REDIS_IMAGE:-streamcell/redis:7}"
APP_IMAGE="${APP_IMAGE:-streamcell/app:dev}"
PROMETHEUS_IMAGE="${PROMETHEUS_IMAGE:-streamcell/prometheus:2}"
IMAGES_DIR="$SC_ROOT/deploy/images"
RECIPE_LABEL=io.streamcell.recipe
CONTENT_LABEL=io.streamcell.content
export DOCKER_BUILDKIT=0

ours() { [[ "$1" == streamcell/* ]]; }

# Reuse decision for recipe-built images: present, and built from the same recipe.
up_to_date() {
  local image="$1" recipe="$2"
  [ "${FORCE_REBUILD:-0}" = "1" ] && return 1
  sc_image_exists "$image" || return 1
  local have
  have="$(sc_image_label "$image" "$RECIPE_LABEL")"
  [ -z "$have" ] || [ "$have" = "$recipe" ]
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  fi
  [ -n "$uri" ] || sc_die "no Debian mirror found in /etc/apt sources; set DEBIAN_MIRROR"
  echo "$uri"
}

# Unmounts whatever debootstrap left mounted inside the rootfs, then removes it without
# crossing into other filesystems. Never fails.
remove_rootfs() {
  local dir="$1" mounts
  mounts="$(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r || true)"
  if [ -n "$mounts" ]; then echo "$mounts" | xargs -r -n1 umount -l 2>/dev/null || true; fi
  rm -rf --one-file-system "$dir" || true
}

build_base() {
  if ! ours "$BASE_IMAGE"; then sc_log "base: using provided $BASE_IMAGE"; return; fi
  if [ "${FORCE_REBUILD:-0}" != "1" ] && sc_image_exists "$BASE_IMAGE"; then
    sc_log "base: $BASE_IMAGE present, reused"; return
  fi
  command -v debootstrap >/dev/null || sc_die "debootstrap missing (scripts/docker-engine.sh installs it)"
  local mirror rootfs
  mirror="$(debian_mirror)"
  rootfs="$(mktemp -d /var/tmp/streamcell-rootfs.XXXXXX)"
  sc_log "base: debootstrap minbase bookworm (mirror from apt sources) into $rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 40 "$rootfs.log" >&2; remove_rootfs "$rootfs"; sc_die "debootstrap failed (log $rootfs.log)"; }
  rm -f "$rootfs.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  # Images are small and short-lived: no docs, no recommends.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90streamcell"
  tar -C "$rootfs" --numeric-owner -c . | sc_docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  # debootstrap may leave proc/sys mounted inside the rootfs: unmount first, never cross into them.
  remove_rootfs "$rootfs"
  sc_log "base: built $BASE_IMAGE"
}

# An image built from its recipe directory deploy/images/<name> alone (Debian packages on the base).
build_from_recipe() {
  local name="$1" image="$2"
  if ! ours "$image"; then sc_log "$name: using provided $image"; return; fi
  local recipe; recipe="$(sc_hash_paths "deploy/images/$name")"
  if up_to_date "$image" "$recipe"; then sc_log "$name: $image present, reused"; return; fi
  sc_log "$name: building $image"
  sc_docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$RECIPE_LABEL=$recipe" \
    -t "$image" "$IMAGES_DIR/$name" >/dev/null
  sc_log "$name: built $image"
}

build_redis() { build_from_recipe redis "$REDIS_IMAGE"; }

# Debian's prometheus package (server and promtool).
build_prometheus() { build_from_recipe prometheus "$PROMETHEUS_IMAGE"; }

build_kafka() {
  if ! ours "$KAFKA_IMAGE"; then sc_log "kafka: using provided $KAFKA_IMAGE"; return; fi
  local recipe; recipe="$(sc_hash_paths deploy/images/kafka/pom.xml deploy/images/kafka/Dockerfile deploy/images/kafka/entrypoint.sh deploy/images/kafka/log4j2.xml)"
  if up_to_date "$KAFKA_IMAGE" "$recipe"; then sc_log "kafka: $KAFKA_IMAGE present, reused"; return; fi
  command -v mvn >/dev/null || sc_die "kafka: Maven (mvn) is needed to fetch the Kafka jars"
  local ctx; ctx="$(mktemp -d /var/tmp/streamcell-kafka.XXXXXX)"
  sc_log "kafka: fetching jars with Maven (~/.m2 caches them)"
  mvn -B -q -f "$IMAGES_DIR/kafka/pom.xml" dependency:copy-dependencies "-Dkafka.libs.dir=$ctx/libs" >"$ctx.mvn.log" 2>&1 \
    || { tail -n 40 "$ctx.mvn.log" >&2; rm -rf "$ctx"; sc_die "kafka: Maven could not fetch the jars (log $ctx.mvn.log)"; }
  rm -f "$ctx.mvn.log"
  cp "$IMAGES_DIR/kafka/Dockerfile" "$IMAGES_DIR/kafka/entrypoint.sh" "$IMAGES_DIR/kafka/log4j2.xml" "$ctx/"
  sc_log "kafka: building $KAFKA_IMAGE ($(ls "$ctx/libs" | wc -l) jars)"
  sc_docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$RECIPE_LABEL=$recipe" \
    -t "$KAFKA_IMAGE" "$ctx" >/dev/null || { rm -rf "$ctx"; sc_die "kafka: docker build failed"; }
  rm -rf "$ctx"
  sc_log "kafka: built $KAFKA_IMAGE"
}

build_app() {
  if ! ours "$APP_IMAGE"; then sc_log "app: using provided $APP_IMAGE"; return; fi
  cd "$SC_ROOT"
  [ -d dist/apps ] || sc_die "app: dist/apps missing; run 'npm run build' first"
  local node_bin; node_bin="$(readlink -f "$(command -v node)")"
  # Production packages only (what `npm ci --omit=dev` would keep), outermost paths only.
  local mods; mods="$(mktemp)"
  npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$SC_ROOT/||" | grep '^node_modules/' \
    | LC_ALL=C sort -u | awk 'BEGIN{last="\001"} index($0, last "/")==1 {next} {print; last=$0}' >"$mods" || true
  [ -s "$mods" ] || sc_die "app: could not list production node_modules (npm ls)"
  local content
  content="$( { sc_hash_paths dist libs/lstm/wasm/build deploy/images/app/Dockerfile; \
                sha256sum package.json package-lock.json "$node_bin" "$mods"; } | sha256sum | cut -c1-16)"
  if [ "${FORCE_REBUILD:-0}" != "1" ] && [ "$(sc_image_label "$APP_IMAGE" "$CONTENT_LABEL")" = "$content" ]; then
    rm -f "$mods"; sc_log "app: $APP_IMAGE up to date ($content), reused"; return
  fi
  local empty; empty="$(mktemp -d)"
  mkdir -p "$empty/wasm"
  local wasm_src=("-C" "$empty" "wasm")
  [ -d libs/lstm/wasm/build ] && wasm_src=("-C" "$SC_ROOT/libs/lstm" "wasm/build")
  local previous; previous="$(sc_docker image inspect --format '{{.Id}}' "$APP_IMAGE" 2>/dev/null || true)"
  sc_log "app: building $APP_IMAGE ($content)"
  # The build context is streamed as a tar: only what the image needs, no staging copy.
  tar -c \
      -C "$IMAGES_DIR/app" Dockerfile \
      -C "$(dirname "$node_bin")" --transform "s|^$(basename "$node_bin")\$|node|" "$(basename "$node_bin")" \
      -C "$SC_ROOT" package.json dist -T "$mods" \
      "${wasm_src[@]}" \
    | sc_docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "CONTENT_HASH=$content" \
        -t "$APP_IMAGE" - >/dev/null
  rm -rf "$empty" "$mods"
  # The image this tag pointed to before is ours and now untagged: remove it (by id) unless in use.
  if [ -n "$previous" ] && [ "$previous" != "$(sc_docker image inspect --format '{{.Id}}' "$APP_IMAGE")" ]; then
    sc_docker rmi "$previous" >/dev/null 2>&1 || true
  fi
  sc_log "app: built $APP_IMAGE"
}

main() {
  local targets=("$@")
  [ "${#targets[@]}" -gt 0 ] || targets=(base redis kafka prometheus app)
  sc_docker info >/dev/null 2>&1 || sc_die "no Docker engine answers; run scripts/docker-engine.sh"
  local t t0
  for t in "${targets[@]}"; do
    t0=$(date +%s)
    case "$t" in
      base) build_base ;;
      redis) build_base; build_redis ;;
      kafka) build_base; build_kafka ;;
      prometheus) build_base; build_prometheus ;;
      app) build_base; build_app ;;
      *) sc_die "unknown image '$t' (base, redis, kafka, prometheus, app)" ;;
    esac
    sc_log "$t: $(( $(date +%s) - t0 ))s"
  done
}

main "$@"

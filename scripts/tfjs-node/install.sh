#!/usr/bin/env bash
# Optional step: make @tensorflow/tfjs-node@4.22.0 loadable without its own install script.
#
# tfjs-node's install script downloads libtensorflow and a prebuilt addon from a CDN that this
# environment cannot reach. This script builds the same result from package registries only:
#   1. the package itself from npm (`--ignore-scripts`, `--no-save`: package.json and
#      package-lock.json stay untouched), when node_modules does not already have it;
#   2. libtensorflow (C API, TensorFlow 2.10.1, linux x86_64) from Maven Central:
#      org.tensorflow:tensorflow-core-api:0.5.0:jar:linux-x86_64 holds libtensorflow_cc.so.2
#      (exports TF_* and TFE_*) and libtensorflow_framework.so.2;
#   3. the matching C API headers from PyPI: the tensorflow-cpu 2.10.1 wheel
#      (tensorflow/include/tensorflow/c/**, core/platform/ctstring*.h);
#   4. node_api.h from the local Node.js install, else the npm package node-api-headers;
#   5. compiles binding/tfjs_backend.cc + tfjs_binding.cc with g++ (no node-gyp, no download of
#      node headers) into the path node-pre-gyp looks up (lib/napi-v8/tfjs_binding.node),
#      with rpath $ORIGIN/../../deps/lib where the two libraries are placed;
#   6. checks that `require('@tensorflow/tfjs-node')` selects the `tensorflow` backend.
#
# Usage: scripts/tfjs-node/install.sh [project-dir] [--force]
#   project-dir  directory whose node_modules receives tfjs-node (default: the repository root)
#   --force      rebuild even when the stamp says it is installed
# Environment:
#   TFJS_NODE_CACHE  download/extract cache (default: $HOME/.cache/streamcell/tfjs-node)
#
# Needs: node + npm, mvn (and a JDK), python3 + pip, g++. Idempotent: a second run only verifies.
# `npm ci` wipes node_modules: run this script again afterwards.
set -euo pipefail

TFJS_NODE_VERSION=4.22.0
TF_VERSION=2.10.1
MVN_ARTIFACT=org.tensorflow:tensorflow-core-api:0.5.0:jar:linux-x86_64
MVN_JAR=tensorflow-core-api-0.5.0-linux-x86_64.jar
MVN_JAR_SHA256=f394c5be26c8f3b644cdc77e6741b2cfe774caa8aedeb969c50e074444feac55
JAR_LIB_DIR=org/tensorflow/internal/c_api/linux-x86_64
WHEEL_SPEC=tensorflow-cpu==${TF_VERSION}
WHEEL_FILE=tensorflow_cpu-2.10.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_SHA256=0d30c8199b542b7144d7fffa5ee9bd9e539657b15c60a61b7a0ad44a8d1379d2
NODE_API_HEADERS_VERSION=1.5.0

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=""
force=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) project="$a" ;;
  esac
done
project=$(cd "${project:-$script_dir/../..}" && pwd)
cache=${TFJS_NODE_CACHE:-$HOME/.cache/streamcell/tfjs-node}
mkdir -p "$cache"

log() { printf '[tfjs-node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "only linux x86_64 is supported (got $(uname -s)-$(uname -m))"
for tool in node npm g++ python3 mvn; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
[ -f "$project/package.json" ] || die "$project has no package.json"

pkg="$project/node_modules/@tensorflow/tfjs-node"
stamp_value="tfjs-node=$TFJS_NODE_VERSION tf=$TF_VERSION jar=$MVN_JAR_SHA256 node=$(node -p 'process.versions.modules')"

verify() {
  (cd "$project" && TF_CPP_MIN_LOG_LEVEL=2 node -e '
    const tf = require("@tensorflow/tfjs-node");
    if (tf.getBackend() !== "tensorflow") { console.error("backend is " + tf.getBackend()); process.exit(1); }
    const v = tf.tensor2d([[1, 2], [3, 4]]).matMul(tf.tensor2d([[1], [1]])).dataSync();
    if (v[0] !== 3 || v[1] !== 7) { console.error("unexpected matMul result " + v); process.exit(1); }
    console.log("tfjs-node " + tf.version["tfjs-node"] + " loaded, backend tensorflow, libtensorflow " + tf.backend().binding.TF_Version);
  ')
}

sha256_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# Extract members whose names start with one of the given prefixes from a zip (jar, wheel).
unzip_prefixes() {
  python3 - "$@" <<'PY'
import os, sys, zipfile
archive, dest, *prefixes = sys.argv[1:]
with zipfile.ZipFile(archive) as z:
    n = 0
    for m in z.infolist():
        if m.is_dir() or not any(m.filename.startswith(p) for p in prefixes):
            continue
        z.extract(m, dest)
        n += 1
if n == 0:
    sys.exit("nothing matched in " + archive)
PY
}

# 0. Already done?
if [ "$force" = 0 ] && [ -f "$pkg/deps/.streamcell-stamp" ] && [ "$(cat "$pkg/deps/.streamcell-stamp")" = "$stamp_value" ]; then
  if verify; then log "already installed in $project"; exit 0; fi
  log "stamp present but verification failed: rebuilding"
fi

# 1. The npm package, without its install script and without touching package.json / lock.
if [ ! -f "$pkg/package.json" ] || [ "$(node -p "require('$pkg/package.json').version")" != "$TFJS_NODE_VERSION" ] \
   || ! (cd "$project" && node -e 'require.resolve("@mapbox/node-pre-gyp", { paths: [require.resolve("@tensorflow/tfjs-node/package.json")] })' 2>/dev/null); then
  log "installing @tensorflow/tfjs-node@$TFJS_NODE_VERSION into $project/node_modules (no scripts, no save)"
  (cd "$project" && npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_NODE_VERSION" >&2)
fi
[ -f "$pkg/binding/tfjs_backend.cc" ] || die "$pkg/binding/tfjs_backend.cc missing after npm install"

# 2. libtensorflow from Maven Central.
libdir="$cache/lib-$TF_VERSION"
if [ ! -f "$libdir/.done" ]; then
  if [ ! -f "$cache/$MVN_JAR" ] || ! sha256_ok "$cache/$MVN_JAR" "$MVN_JAR_SHA256"; then
    log "fetching $MVN_ARTIFACT with Maven"
    mvn -q -B dependency:copy -Dartifact="$MVN_ARTIFACT" -DoutputDirectory="$cache" >&2
  fi
  sha256_ok "$cache/$MVN_JAR" "$MVN_JAR_SHA256" || die "checksum mismatch for $MVN_JAR"
  rm -rf "$libdir.tmp" && mkdir -p "$libdir.tmp"
  unzip_prefixes "$cache/$MVN_JAR" "$libdir.tmp" "$JAR_LIB_DIR/libtensorflow_cc.so.2" \
    "$JAR_LIB_DIR/libtensorflow_framework.so.2" "$JAR_LIB_DIR/LICENSE" "$JAR_LIB_DIR/THIRD_PARTY_TF_JNI_LICENSES"
  rm -rf "$libdir" && mv "$libdir.tmp/$JAR_LIB_DIR" "$libdir" && rm -rf "$libdir.tmp"
  nm -D --defined-only "$libdir/libtensorflow_cc.so.2" | grep -c ' T TFE_Execute@' >/dev/null \
    || die "libtensorflow_cc.so.2 does not export the eager C API"
  touch "$libdir/.done"
  rm -f "$cache/$MVN_JAR"
fi

# 3. C API headers from the PyPI wheel of the same TensorFlow version.
incdir="$cache/include-$TF_VERSION"
if [ ! -f "$incdir/.done" ]; then
  if [ ! -f "$cache/$WHEEL_FILE" ] || ! sha256_ok "$cache/$WHEEL_FILE" "$WHEEL_SHA256"; then
    log "fetching $WHEEL_SPEC wheel with pip (headers only are used)"
    python3 -m pip download "$WHEEL_SPEC" --no-deps --only-binary=:all: --python-version 3.10 \
      --platform manylinux2014_x86_64 -d "$cache" >&2
  fi
  sha256_ok "$cache/$WHEEL_FILE" "$WHEEL_SHA256" || die "checksum mismatch for $WHEEL_FILE"
  rm -rf "$incdir.tmp" && mkdir -p "$incdir.tmp"
  unzip_prefixes "$cache/$WHEEL_FILE" "$incdir.tmp" tensorflow/include/tensorflow/c/ \
    tensorflow/include/tensorflow/core/platform/ctstring
  rm -rf "$incdir" && mv "$incdir.tmp/tensorflow/include" "$incdir" && rm -rf "$incdir.tmp"
  touch "$incdir/.done"
  rm -f "$cache/$WHEEL_FILE"
fi

# 4. node_api.h: the local Node.js install has it, else the npm package node-api-headers.
node_inc="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
if [ ! -f "$node_inc/node_api.h" ]; then
  node_inc="$cache/node-api-headers-$NODE_API_HEADERS_VERSION/include"
  if [ ! -f "$node_inc/node_api.h" ]; then
    log "fetching node-api-headers@$NODE_API_HEADERS_VERSION from npm"
    tgz=$(cd "$cache" && npm pack --silent "node-api-headers@$NODE_API_HEADERS_VERSION" | tail -1)
    mkdir -p "$cache/node-api-headers-$NODE_API_HEADERS_VERSION"
    tar -xzf "$cache/$tgz" -C "$cache/node-api-headers-$NODE_API_HEADERS_VERSION" --strip-components=1
    rm -f "$cache/$tgz"
  fi
fi

# 5. Place the libraries and headers, compile the addon where node-pre-gyp finds it.
mkdir -p "$pkg/deps/lib" "$pkg/deps/include"
for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
  rm -f "$pkg/deps/lib/$f"
  ln "$libdir/$f" "$pkg/deps/lib/$f" 2>/dev/null || cp "$libdir/$f" "$pkg/deps/lib/$f"
done
# Names tfjs-node's own scripts use for the C library.
ln -sf libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so.2"
ln -sf libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"
ln -sf libtensorflow.so.2 "$pkg/deps/lib/libtensorflow.so"
rm -rf "$pkg/deps/include/tensorflow" && cp -r "$incdir/tensorflow" "$pkg/deps/include/"

module=$(cd "$project" && node -p 'require("@mapbox/node-pre-gyp").find(require.resolve("@tensorflow/tfjs-node/package.json"))')
napi=$(basename "$(dirname "$module")" | sed -n 's/^napi-v\([0-9]*\)$/\1/p')
[ -n "$napi" ] || die "cannot read the N-API version from $module"
mkdir -p "$(dirname "$module")"
log "compiling the addon (N-API $napi) -> ${module#"$project"/}"
g++ -std=c++17 -O2 -fPIC -shared -DNAPI_VERSION="$napi" -DBUILDING_NODE_EXTENSION \
  -I"$node_inc" -I"$pkg/deps/include" -I"$pkg" \
  "$pkg/binding/tfjs_backend.cc" "$pkg/binding/tfjs_binding.cc" \
  -L"$pkg/deps/lib" -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 \
  -Wl,-rpath,'$ORIGIN/../../deps/lib' -o "$module.tmp"
mv "$module.tmp" "$module"

# 6. Check.
verify || die "tfjs-node does not load"
printf '%s' "$stamp_value" > "$pkg/deps/.streamcell-stamp"
log "done: @tensorflow/tfjs-node@$TFJS_NODE_VERSION with libtensorflow $TF_VERSION in $project"

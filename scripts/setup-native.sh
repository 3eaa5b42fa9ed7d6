#!/usr/bin/env bash
# Give @tensorflow/tfjs-node a working native TensorFlow without its install script.
#
# tfjs-node's install script downloads libtensorflow 2.9.1 from storage.googleapis.com, which
# these machines (and air-gapped networks) cannot reach, so package.json denies it. Instead we
# take libtensorflow_cc/libtensorflow_framework and the C headers from the tensorflow-cpu wheel
# (pip can fetch it from a mirror or a local wheel dir), put them where tfjs-node's binding.gyp
# looks (deps/lib, deps/include) and build the addon from source with node-gyp.
#
# --gpu does the same for @tensorflow/tfjs-node-gpu with the GPU-enabled `tensorflow` wheel and
# the CUDA 12 runtime wheels it declares (scripts/native/gpu-libs.sh); it builds on a machine
# without a GPU too, and says whether a CUDA device initialised.
#
# Idempotent: exits at once when tfjs-node already loads with the native backend. The extracted
# libraries are cached outside node_modules (MLPIPE_CACHE, default ~/.cache/mlpipe) so a re-run
# after `npm ci` (which wipes the package) only relinks and rebuilds the addon (~1 min).
#
# Env: MLPIPE_CACHE          cache root (wheels/, libtensorflow-<ver>/)
#      MLPIPE_TF_WHEEL       path to a tensorflow-cpu wheel to use (air-gapped route)
#      MLPIPE_TF_GPU_WHEEL   with --gpu: path to a tensorflow (GPU) wheel to use
#      MLPIPE_TF_VERSION     tensorflow(-cpu) version (default 2.21.0)
#      PIP_* (PIP_INDEX_URL, PIP_FIND_LINKS, ...) are honoured by pip as usual.
#      MLPIPE_NATIVE_FORCE=1 rebuild even if tfjs-node already works.
set -euo pipefail

GPU=0
case "${1:-}" in
  --gpu) GPU=1 ;;
  "") ;;
  *) printf '[setup-native] ERROR: unknown option %s (usage: setup-native.sh [--gpu])\n' "$1" >&2; exit 2 ;;
esac

TF_VERSION="${MLPIPE_TF_VERSION:-2.21.0}"
CACHE="${MLPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlpipe}"
WHEEL_DIR="$CACHE/wheels"
LIB_CACHE="$CACHE/libtensorflow-$TF_VERSION"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=tfjs-node
WHEEL_PROJECT=tensorflow-cpu
WHEEL_ENV=MLPIPE_TF_WHEEL
WHEEL="${MLPIPE_TF_WHEEL:-}"
WHEEL_MB=270
BUILD_LOG=node-gyp-build.log
if [ "$GPU" = 1 ]; then
  NAME=tfjs-node-gpu
  WHEEL_PROJECT=tensorflow
  WHEEL_ENV=MLPIPE_TF_GPU_WHEEL
  WHEEL="${MLPIPE_TF_GPU_WHEEL:-}"
  WHEEL_MB=570
  LIB_CACHE="$CACHE/libtensorflow-gpu-$TF_VERSION"
  BUILD_LOG=node-gyp-build-gpu.log
fi
PKG="$ROOT/node_modules/@tensorflow/$NAME"
NAPI_VERSION=8 # tfjs-node's package.json lists napi 3..8; Node >= 20 picks the highest

say() { printf '[setup-native] %s\n' "$*"; }
die() {
  printf '[setup-native] ERROR: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '[setup-native]   fix: %s\n' "$line" >&2; done
  exit 1
}

# Prints "<backend> <tfjs-node version> <tf version> <functions|no-functions>" or fails.
# "functions": the addon has mlpipe's function-library extension (scripts/native/patch-binding.mjs)
# that runs a whole training step as one TensorFlow graph.
probe() {
  (cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL=2 node -e '
    const tf = require(process.argv[1]);
    tf.tensor([1, 2]).square().dataSync();
    const b = tf.backend().binding;
    const fns = typeof b.addFunctionDef === "function" ? "functions" : "no-functions";
    process.stdout.write([tf.getBackend(), tf.version["tfjs-node"], b.TF_Version, fns].join(" ") + "\n");
  ' "@tensorflow/$NAME" 2>/dev/null)
}

[ -d "$PKG" ] || die "node_modules/@tensorflow/$NAME is missing" "run 'npm ci' (or 'npm install') in $ROOT first"
[ "$GPU" = 0 ] || source "$ROOT/scripts/native/gpu-libs.sh"

reuse_deps=0
if [ "${MLPIPE_NATIVE_FORCE:-0}" != 1 ] && out="$(probe)" && [ "${out%% *}" = tensorflow ]; then
  if [ "${out##* }" = functions ]; then
    say "$NAME already works: backend tensorflow, TensorFlow $(echo "$out" | awk '{print $3}'), graph functions"
    [ "$GPU" = 0 ] || gpu_report
    exit 0
  fi
  # A working addon from tfjs-node's own install (its downloaded libtensorflow in deps/):
  # keep those libraries, rebuild only the addon with the function-library extension.
  say "$NAME works (TensorFlow $(echo "$out" | awk '{print $3}')) but lacks graph functions; rebuilding its addon"
  reuse_deps=1
else
  say "$NAME has no working native addon; building it against TensorFlow $TF_VERSION"
fi

# 1. Libraries and headers, cached outside node_modules.
if [ "$reuse_deps" = 1 ]; then
  say "using the libraries tfjs-node installed in $PKG/deps"
elif [ ! -f "$LIB_CACHE/lib/libtensorflow_cc.so.2" ] || [ ! -f "$LIB_CACHE/include/tensorflow/c/c_api.h" ] ||
  { [ "$GPU" = 1 ] && [ ! -f "$LIB_CACHE/$CUDA_PINS" ]; }; then
  wheel="$WHEEL"
  if [ -z "$wheel" ]; then
    wheel="$(ls "$WHEEL_DIR"/"${WHEEL_PROJECT//-/_}"-"$TF_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  fi
  if [ -z "$wheel" ]; then
    command -v python3 >/dev/null || die "python3 not found (needed to fetch and unpack the $WHEEL_PROJECT wheel)" \
      "install python3 with pip, or set $WHEEL_ENV=/path/to/${WHEEL_PROJECT//-/_}-$TF_VERSION-*.whl"
    mkdir -p "$WHEEL_DIR"
    say "downloading $WHEEL_PROJECT==$TF_VERSION wheel (~$WHEEL_MB MB) into $WHEEL_DIR"
    python3 -m pip download --no-deps --only-binary=:all: "$WHEEL_PROJECT==$TF_VERSION" -d "$WHEEL_DIR" ||
      die "pip could not download $WHEEL_PROJECT==$TF_VERSION" \
        "set PIP_INDEX_URL to a reachable mirror, or copy the wheel here and set $WHEEL_ENV=/path/to/it (see docs/native-tensorflow.md, air-gapped route)"
    wheel="$(ls "$WHEEL_DIR"/"${WHEEL_PROJECT//-/_}"-"$TF_VERSION"-*.whl | head -n1)"
  fi
  [ -f "$wheel" ] || die "wheel $wheel does not exist" "point $WHEEL_ENV at a $WHEEL_PROJECT wheel file"
  [ "$GPU" = 0 ] || pins="$(gpu_read_pins "$wheel")"
  say "extracting libtensorflow and headers from $(basename "$wheel") into $LIB_CACHE"
  python3 "$ROOT/scripts/native/extract-libtensorflow.py" "$wheel" "$LIB_CACHE" ||
    die "could not extract $wheel" "delete it and re-run so pip fetches it again"
  [ "$GPU" = 0 ] || printf '%s\n' "$pins" >"$LIB_CACHE/$CUDA_PINS"
else
  say "using cached libraries in $LIB_CACHE"
fi

# 2. Place them where binding.gyp and the runtime rpath ($ORIGIN/../../deps/lib) look.
# Hard links when the cache is on the same filesystem (no 850 MB copy), else a copy.
if [ "$reuse_deps" = 0 ]; then
rm -rf "$PKG/deps"
mkdir -p "$PKG/deps/lib"
for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
  ln "$LIB_CACHE/lib/$f" "$PKG/deps/lib/$f" 2>/dev/null || cp "$LIB_CACHE/lib/$f" "$PKG/deps/lib/$f"
done
cp -r "$LIB_CACHE/include" "$PKG/deps/include"
(
  cd "$PKG/deps/lib"
  # -ltensorflow / -ltensorflow_framework at link time; the sonames (libtensorflow_cc.so.2,
  # libtensorflow_framework.so.2) are what the addon asks for at run time.
  ln -sf libtensorflow_cc.so.2 libtensorflow.so
  ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so
  # tfjs-node's install script skips its download when this file exists (it expects 2.9.1).
  ln -sf libtensorflow_cc.so.2 libtensorflow.so.2.9.1
  ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so.2.9.1
)
[ "$GPU" = 0 ] || gpu_place_cuda_libs
fi

# 3. Build the addon with the node-gyp that ships with npm (or one on PATH), against the
# headers of the node that runs mlpipe (no header download).
# When tfjs-node already worked (its own install), a failed rebuild must not take that away:
# its addon is put back and setup goes on with a warning (training then runs eager ops).
backup="$PKG/lib.mlpipe-backup"
build_fail() {
  if [ "$reuse_deps" = 1 ]; then
    if [ -d "$backup" ]; then rm -rf "$PKG/lib"; mv "$backup" "$PKG/lib"; fi
    say "warning: could not rebuild $NAME's addon with graph functions ($1); keeping its own addon,"
    say "  so training runs eager ops (about 3x slower). fix: ${2:-see above}, then re-run this script"
    exit 0
  fi
  die "$@"
}
NODE_BIN="$(command -v node)"
NODE_PREFIX="$(cd "$(dirname "$(readlink -f "$NODE_BIN")")/.." && pwd)"
[ -f "$NODE_PREFIX/include/node/node_api.h" ] ||
  build_fail "Node headers not found under $NODE_PREFIX/include/node" \
    "install them (Debian: apt-get install libnode-dev, or use a Node from nodejs.org which ships include/)"
GYP=""
NPM_BIN="$(command -v npm || true)"
if [ -n "$NPM_BIN" ]; then
  cand="$(dirname "$(readlink -f "$NPM_BIN")")/../node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$cand" ] && GYP="$cand"
fi
[ -n "$GYP" ] || [ ! -f "$ROOT/node_modules/node-gyp/bin/node-gyp.js" ] || GYP="$ROOT/node_modules/node-gyp/bin/node-gyp.js"
if [ -z "$GYP" ] && command -v node-gyp >/dev/null; then GYP="$(readlink -f "$(command -v node-gyp)")"; fi
[ -n "$GYP" ] || build_fail "node-gyp not found" "install npm (it bundles node-gyp) or 'npm i -g node-gyp'"
command -v g++ >/dev/null && command -v make >/dev/null ||
  build_fail "a C++ toolchain is needed to build the addon" "Debian/Ubuntu: apt-get install -y g++ make python3"

node "$ROOT/scripts/native/patch-binding.mjs" "$PKG" | sed 's/^/[setup-native] /' ||
  build_fail "could not add the function-library extension to $NAME's binding" "see the message above"
say "building tfjs_binding.node with $(node "$GYP" --version) (Node headers: $NODE_PREFIX/include/node)"
rm -rf "$PKG/build" "$backup"
if [ "$reuse_deps" = 1 ] && [ -d "$PKG/lib" ]; then mv "$PKG/lib" "$backup"; else rm -rf "$PKG/lib"; fi
log="$CACHE/$BUILD_LOG"
mkdir -p "$CACHE"
link_env=() # --gpu: LDFLAGS for the CUDA libraries the addon loads itself (gpu_link_flags)
[ "$GPU" = 0 ] || [ "$reuse_deps" = 1 ] || link_env=("LDFLAGS=$(gpu_link_flags)")
if ! (cd "$PKG" && env "${link_env[@]}" node "$GYP" rebuild --nodedir="$NODE_PREFIX" --jobs="$(nproc 2>/dev/null || echo 2)" \
  --module_name=tfjs_binding --module_path="$PKG/lib/napi-v$NAPI_VERSION" \
  --napi_build_version="$NAPI_VERSION") >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  build_fail "node-gyp build failed (full log: $log)" "check the compiler errors above; a different TF version may need other headers"
fi
addon="$PKG/lib/napi-v$NAPI_VERSION/tfjs_binding.node"
[ -f "$addon" ] || build_fail "node-gyp reported success but $addon does not exist" "see $log"

# 4. Prove it: load, run an op, report versions.
out="$(probe)" || build_fail "the rebuilt addon does not load" \
  "run: node -e \"require('@tensorflow/$NAME')\" in $ROOT to see the loader error; ldd $addon"
set -- $out
[ "$1" = tensorflow ] || build_fail "$NAME loaded but the backend is '$1', not 'tensorflow'" "see $log"
[ "$4" = functions ] || build_fail "the rebuilt addon lacks addFunctionDef" "see $log; scripts/native/patch-binding.mjs should have added it"
rm -rf "$backup"
say "ok: backend $1, $NAME $2, TensorFlow $3, graph functions ($addon)"
case "$3" in "$TF_VERSION"*) ;; *) say "warning: expected TensorFlow $TF_VERSION, got $3" ;; esac
if [ "$GPU" = 1 ]; then
  [ "$reuse_deps" = 1 ] || gpu_check_links "$addon"
  gpu_report
fi

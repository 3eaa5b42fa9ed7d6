#!/usr/bin/env bash
# Opt-in test of the CUDA build route, on any Linux x86_64 machine with or without a GPU. It
# downloads the tensorflow-cpu, tensorflow and CUDA 12 wheels twice (about 7 GB, 17 GB of disk at
# its peak), so neither `npm test` nor .ci/run runs it. From scratch: a copy of this working tree
# (tracked and untracked files, no node_modules) and an empty MLPIPE_CACHE, under one temporary
# directory:
#   1. npm ci: both tfjs packages install without their scripts (nothing fetched from Google);
#   2. the CPU build (scripts/setup-native.sh); with the GPU package installed but not built,
#      `auto` is quiet and `gpu` names the build command;
#   3. scripts/setup-native.sh --gpu; the library paths, checked with readelf, ldd and the
#      loader's own trace (LD_DEBUG=libs, no LD_LIBRARY_PATH);
#   4. without a GPU: the GPU build loads and says no CUDA device initialised, `auto` falls back to
#      the CPU build with one line (also through `mlpipe dev`), `gpu` fails with the reason, `cpu`
#      is quiet, and a second native TensorFlow in one process is refused. With a GPU: `auto` and
#      `gpu` train on it (scripts/gpu-check.sh then measures it);
#   5. scripts/gpu-worker-image.sh, as an image build runs it: its own cache, removed at the end.
# Prints PASS/FAIL per check; exits 1 if any failed. MLPIPE_KEEP=1 keeps the directory.
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-gpu-route.XXXXXX")"
REPO="$BASE/repo"
export MLPIPE_CACHE="$BASE/cache"
unset MLPIPE_TF_BACKEND MLPIPE_TF_WHEEL MLPIPE_TF_GPU_WHEEL MLPIPE_NATIVE_FORCE LD_LIBRARY_PATH TF_CPP_MIN_LOG_LEVEL
fails=0
say() { printf '[test-gpu-route] %s\n' "$*"; }
pass() { say "PASS $1"; }
fail() { say "FAIL $1"; fails=$((fails + 1)); }
# check NAME COMMAND...: passes when the command succeeds.
check() { local name="$1"; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
cleanup() { if [ "${MLPIPE_KEEP:-0}" = 1 ]; then say "kept $BASE"; else rm -rf "$BASE"; fi; }
trap cleanup EXIT
# sel PREF [--preload PKG]: runs the selection in a fresh process; stdout to $BASE/out, stderr to $BASE/err.
sel() { (cd "$REPO" && node --import tsx scripts/native/select-backend.ts "$@") >"$BASE/out" 2>"$BASE/err"; }
out_has() { grep -qE "$1" "$BASE/out"; }
# The lines mlpipe itself wrote on stderr (TensorFlow's own log lines are not mlpipe's).
mlpipe_lines() { grep -c '^mlpipe: ' "$BASE/err"; }
gpu_here() { [ -e /dev/nvidiactl ] || [ -e /proc/driver/nvidia/version ]; }

say "$(date -u +%Y-%m-%dT%H:%MZ) in $BASE ($(uname -m), Node $(node --version), $(nproc) cores, GPU: $(gpu_here && echo yes || echo none))"
mkdir -p "$REPO"
(cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$REPO") || { say "could not copy $SRC"; exit 1; }

# 1. npm ci with both install scripts denied.
say "npm ci"
(cd "$REPO" && npm ci --no-audit --no-fund >"$BASE/npm-ci.log" 2>&1) || { tail -n 20 "$BASE/npm-ci.log"; fail "npm ci"; exit 1; }
for p in tfjs-node tfjs-node-gpu; do
  check "npm ci installs @tensorflow/$p without running its install script (no deps/, no addon)" \
    test ! -e "$REPO/node_modules/@tensorflow/$p/deps" -a ! -e "$REPO/node_modules/@tensorflow/$p/lib"
done

# 2. The CPU build; the GPU package installed but not built.
say "scripts/setup-native.sh (CPU)"
(cd "$REPO" && bash scripts/setup-native.sh 2>&1 | tail -n 1 | sed 's/^/  /') || fail "setup-native.sh"
sel auto
check "not built: auto trains on tfjs-node" out_has '^RESULT \{"backend":"tensorflow","tfVersion":"2\.21\.0"'
check "not built: auto says nothing about the GPU" test "$(grep -ci 'gpu\|cuda' "$BASE/err")" = 0
check "not built: only tfjs-node's libtensorflow is in the process" out_has '^LOADED @tensorflow/tfjs-node$'
sel gpu
check "not built: gpu fails naming the build command" out_has '^ERROR GPU training was requested but is unavailable: @tensorflow/tfjs-node-gpu is installed but its addon is not built\. Fix: run `bash scripts/setup-native\.sh --gpu`'

# 3. The GPU build from an empty cache.
say "scripts/setup-native.sh --gpu (downloads ~3.1 GB into an empty cache)"
t0=$(date +%s)
(cd "$REPO" && bash scripts/setup-native.sh --gpu >"$BASE/setup-gpu.log" 2>&1)
rc=$?
grep '^\[setup-native\]' "$BASE/setup-gpu.log" | sed 's/^/  /' | cut -c1-400
check "setup-native.sh --gpu succeeds ($(($(date +%s) - t0)) s)" test "$rc" = 0
PKG="$REPO/node_modules/@tensorflow/tfjs-node-gpu"
ADDON="$PKG/lib/napi-v8/tfjs_binding.node"
check "the CUDA wheels are the and-cuda pins of tensorflow 2.21.0's METADATA" \
  diff <(ls "$MLPIPE_CACHE/wheels" | grep '^nvidia_' | sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/; s/_/-/g' | sort) \
  <(sort "$MLPIPE_CACHE/libtensorflow-gpu-2.21.0/cuda-requirements.txt")
readelf -d "$ADDON" | grep -E 'NEEDED|RUNPATH' | grep -E 'tensorflow|cusolver|RUNPATH' | sed 's/^ */  readelf: /'
check "addon RUNPATH is \$ORIGIN-relative into the package" \
  bash -c "readelf -d '$ADDON' | grep -q 'RUNPATH.*\[\$ORIGIN/../../deps/nvidia/cusolver/lib:\$ORIGIN/../../deps/lib\]'"
ldd "$ADDON" | grep -E 'tensorflow|cusolver|not found' | sed -E "s|$REPO/||; s/^\s*/  ldd: /"
check "ldd resolves every library of the addon" bash -c "! ldd '$ADDON' | grep -q 'not found'"
(cd "$REPO" && LD_DEBUG=libs node -e 'require("@tensorflow/tfjs-node-gpu")' 2>"$BASE/ld-debug.log" >/dev/null)
{ grep -A1 'find library=libcudart.so.12' "$BASE/ld-debug.log" | grep -o '(RUNPATH from file .*)'
  grep -o 'calling init: .*libcudart.so.12' "$BASE/ld-debug.log"; } | sed "s|$REPO/||g; s/^/  LD_DEBUG libcudart.so.12: /"
check "TensorFlow dlopens libcudart.so.12 from deps/nvidia through libtensorflow_framework's RUNPATH" \
  grep -q "calling init: $PKG/lib/napi-v8/../../deps/lib/../nvidia/cuda_runtime/lib/libcudart.so.12" "$BASE/ld-debug.log"
check "the CPU build is untouched by the GPU build" \
  bash -c "cd '$REPO' && bash scripts/setup-native.sh | grep -q 'tfjs-node already works: backend tensorflow, TensorFlow 2.21.0, graph functions'"

# 4. Behaviour on this machine.
if gpu_here; then
  sel auto
  check "GPU host: auto trains on the GPU" out_has '^RESULT \{"backend":"tensorflow-gpu"'
  sel gpu
  check "GPU host: gpu trains on the GPU" out_has '^RESULT \{"backend":"tensorflow-gpu"'
  say "now run scripts/gpu-check.sh for speeds and the equivalence tests on the GPU"
else
  (cd "$REPO" && node --import tsx scripts/native/gpu-status.ts) >"$BASE/out" 2>&1
  sed 's/^/  /' "$BASE/out" | cut -c1-400
  check "no GPU: the GPU build loads and reports that no CUDA device initialised" \
    out_has '^note: @tensorflow/tfjs-node-gpu loaded \(TensorFlow 2\.21\.0\) but no CUDA device initialised: .*libcuda\.so\.1'
  sel auto
  sed 's/^/  stderr: /' "$BASE/err" | grep 'mlpipe: ' | cut -c1-400
  check "no GPU: auto falls back to tfjs-node" out_has '^RESULT \{"backend":"tensorflow","tfVersion":"2\.21\.0"'
  check "no GPU: with exactly one line, which says so" \
    bash -c "[ \$(grep -c '^mlpipe: ' '$BASE/err') = 1 ] && grep -q '^mlpipe: training on the CPU build (@tensorflow/tfjs-node): @tensorflow/tfjs-node-gpu loaded (TensorFlow 2.21.0) but no CUDA device initialised' '$BASE/err'"
  check "no GPU: and only tfjs-node's libtensorflow is in the process" out_has '^LOADED @tensorflow/tfjs-node$'
  sel gpu
  sed 's/^/  /' "$BASE/out" | cut -c1-400
  check "no GPU: gpu fails with the reason and the fix" \
    out_has '^ERROR GPU training was requested but is unavailable: @tensorflow/tfjs-node-gpu loaded \(TensorFlow 2\.21\.0\) but no CUDA device initialised: .*Fix: a GPU host needs the NVIDIA driver'
  sel cpu
  check "no GPU: cpu trains on tfjs-node, without a word about the GPU" \
    bash -c "grep -q '^RESULT {\"backend\":\"tensorflow\"' '$BASE/out' && [ \$(grep -ci 'gpu\|cuda' '$BASE/err') = 0 ]"
  check "no GPU: and only tfjs-node's libtensorflow is in its process" out_has '^LOADED @tensorflow/tfjs-node$'
  sel cpu --preload @tensorflow/tfjs-node-gpu
  check "a process that already loaded tfjs-node-gpu refuses tfjs-node, naming why" \
    out_has '^ERROR The CPU backend is unavailable: this process already runs TensorFlow from @tensorflow/tfjs-node-gpu, and a second native TensorFlow \(@tensorflow/tfjs-node\) cannot share it'
  sel auto --preload @tensorflow/tfjs-node-gpu
  check "auto keeps to the GPU build a process already loaded (on its CPU device, with one line)" \
    bash -c "grep -q '^RESULT {\"backend\":\"tensorflow\"' '$BASE/out' && [ \$(grep -c '^mlpipe: ' '$BASE/err') = 1 ]"
  sel auto --preload @tensorflow/tfjs-node
  check "auto keeps to tfjs-node when a process already loaded it, without probing" \
    bash -c "grep -q '^RESULT {\"backend\":\"tensorflow\"' '$BASE/out' && [ \$(grep -c '^mlpipe: ' '$BASE/err') = 0 ]"
  say "mlpipe dev pipelines/iris-mlp.yaml under auto"
  (cd "$REPO" && MLPIPE_HOME="$BASE/home" timeout 600 node bin/mlpipe.js dev pipelines/iris-mlp.yaml --exit --no-cache \
    --address "127.0.0.1:$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')" \
    --ui-port "$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')") >"$BASE/dev.log" 2>&1
  rc=$?
  grep -E '^mlpipe: |succeeded in|failed' "$BASE/dev.log" | sed 's/^/  /' | cut -c1-200
  check "no GPU: a pipeline run under auto trains on the CPU build after the one line" \
    bash -c "[ $rc = 0 ] && [ \$(grep -c '^mlpipe: training on the CPU build' '$BASE/dev.log') = 1 ]"
fi

# 5. The image helper: both builds with a throwaway cache, which it removes; they still load.
say "scripts/gpu-worker-image.sh (npm ci and both builds again, its own cache: downloads ~3.4 GB)"
mkdir -p "$BASE/tmp"
(cd "$REPO" && env -u MLPIPE_CACHE TMPDIR="$BASE/tmp" bash scripts/gpu-worker-image.sh >"$BASE/image.log" 2>&1)
rc=$?
grep '^\[gpu-worker-image\]\|^\[setup-native\] ok' "$BASE/image.log" | sed 's/^/  /' | cut -c1-200
check "gpu-worker-image.sh builds tfjs-node and tfjs-node-gpu" test "$rc" = 0
check "and removes its cache (the image layer holds no wheels)" test -z "$(ls -d "$BASE"/tmp/mlpipe-cache.* 2>/dev/null)"
sel auto
check "both builds load without the cache (auto: $(gpu_here && echo tensorflow-gpu || echo 'tensorflow, after the one line'))" \
  out_has "^RESULT \{\"backend\":\"$(gpu_here && echo tensorflow-gpu || echo tensorflow)\""
check "the GPU build's CUDA libraries are in node_modules" test -s "$PKG/deps/nvidia/cudnn/lib/libcudnn.so.9"
check "scripts/setup.sh afterwards reinstalls nothing (gpu-check.sh calls it)" \
  bash -c "cd '$REPO' && MLPIPE_SKIP_BROWSER=1 bash scripts/setup.sh 2>&1 | grep -q 'npm packages up to date'"

say "$([ "$fails" = 0 ] && echo "all checks passed" || echo "$fails check(s) FAILED")"
[ "$fails" = 0 ]

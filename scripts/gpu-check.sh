#!/usr/bin/env bash
# The one command that verifies mlpipe's CUDA route, on a machine with an NVIDIA GPU:
#   1. builds what it needs (scripts/setup.sh, then scripts/setup-native.sh --gpu),
#   2. requires that tfjs-node-gpu initialises a CUDA device,
#   3. trains the seed LeNet (synthetic data) on the GPU and on the CPU build: samples/s each,
#   4. runs pipelines/mnist-lenet.yaml end to end (mlpipe dev, a real Temporal dev server) on the
#      GPU and on the CPU build: the train stage's samples/s and the test accuracy,
#   5. runs the graph-step equivalence tests (test/ml/train/graph-step.test.ts) on the GPU backend,
# and prints a summary. Exits 1 at once on a machine without a GPU, else 1 if any step failed.
# Nothing here can run on the machines this project is developed on (no GPU is lent to them
# that runs TensorFlow's CUDA 12 build): see docs/native-tensorflow.md, GPU route.
#
# Env: GPU_CHECK_STEP_TIMEOUT  seconds per step (default 1800)
#      MLPIPE_CACHE, PIP_*     as for scripts/setup-native.sh
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
STEP_TIMEOUT="${GPU_CHECK_STEP_TIMEOUT:-1800}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-gpu-check.XXXXXX")"
failures=()
say() { printf '[gpu-check] %s\n' "$*"; }
failed() { say "FAILED: $1"; failures+=("$1"); }
step() { timeout --kill-after=30 "$STEP_TIMEOUT" "$@"; }

# 0. A GPU must be visible before anything is downloaded.
if [ ! -e /dev/nvidiactl ] && [ ! -e /proc/driver/nvidia/version ]; then
  say "ERROR: no NVIDIA GPU here: neither /dev/nvidiactl nor /proc/driver/nvidia/version exists" >&2
  say "  fix: run this on a host with an NVIDIA GPU and its driver (in a container: docker run --gpus all ...);" >&2
  say "  on a machine without a GPU, scripts/test-gpu-route.sh checks the GPU build and its CPU fallback" >&2
  exit 1
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | sed 's/^/[gpu-check] GPU /'
fi

# 1. Builds: npm packages, the Temporal CLI, tfjs-node (CPU) and tfjs-node-gpu.
say "building (scripts/setup.sh, scripts/setup-native.sh --gpu)"
MLPIPE_SKIP_BROWSER=1 step bash scripts/setup.sh || { say "ERROR: scripts/setup.sh failed (see above)"; exit 1; }
step bash scripts/setup-native.sh --gpu || { say "ERROR: scripts/setup-native.sh --gpu failed (see above)"; exit 1; }

# 2. A CUDA device, as mlpipe's backend selection sees it.
node --import tsx scripts/native/gpu-status.ts --require | sed 's/^/[gpu-check] /'
[ "${PIPESTATUS[0]}" = 0 ] || { say "ERROR: no CUDA device initialised (reason above)"; exit 1; }

# 3. The seed LeNet, one process per build (one native TensorFlow per process).
for b in gpu cpu; do
  want=tensorflow; [ "$b" = cpu ] || want=tensorflow-gpu
  say "LeNet on $b"
  MLPIPE_TF_BACKEND=$b step node --import tsx scripts/native/lenet-speed.ts --expect "$want" >"$WORK/lenet-$b.out" 2>"$WORK/lenet-$b.err"
  rc=$?
  grep -v '^{' "$WORK/lenet-$b.out" | sed 's/^/[gpu-check]   /'
  [ "$rc" = 0 ] || { tail -n 20 "$WORK/lenet-$b.err"; failed "LeNet on $b (exit $rc)"; }
done

# 4. The MNIST pipeline through mlpipe dev (its own Temporal dev server on free ports).
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
mnist_summary() { # the train stage's history artifact and the run report, as one JSON line
  node -e '
    const fs = require("fs"), path = require("path"), home = process.argv[1];
    const files = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? files(path.join(d, e.name)) : [path.join(d, e.name)]);
    const hist = files(path.join(home, "artifacts")).map((f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return null; } })
      .find((j) => j && j.stage === "train" && typeof j.samplesPerSecond === "number");
    const report = files(path.join(home, "runs")).find((f) => f.endsWith("report.json"));
    const acc = report ? JSON.parse(fs.readFileSync(report, "utf8")).evaluation?.evaluate?.metrics?.accuracy : undefined;
    console.log(JSON.stringify({ backend: hist?.backend?.backend, engine: hist?.engine?.engine, epochs: hist?.epochs, samplesPerSecond: hist?.samplesPerSecond, accuracy: acc }));
  ' "$1"
}
for b in gpu cpu; do
  home="$WORK/mnist-$b"
  mkdir -p "$home"
  say "pipelines/mnist-lenet.yaml on $b (mlpipe dev, MLPIPE_HOME=$home)"
  MLPIPE_HOME="$home" MLPIPE_TF_BACKEND=$b step node bin/mlpipe.js dev pipelines/mnist-lenet.yaml --exit --no-cache \
    --address "127.0.0.1:$(free_port)" --ui-port "$(free_port)" >"$WORK/mnist-$b.log" 2>&1
  rc=$?
  mnist_summary "$home" >"$WORK/mnist-$b.json" 2>/dev/null
  say "  $(cat "$WORK/mnist-$b.json")"
  [ "$rc" = 0 ] || { tail -n 30 "$WORK/mnist-$b.log"; failed "MNIST pipeline on $b (exit $rc; log $WORK/mnist-$b.log)"; }
done

# 5. Graph step vs eager ops on the GPU. TF32 (Ampere and newer) rounds matmuls and convolutions
# to 10-bit mantissas, far beyond the tests' 2e-4 tolerance; NVIDIA_TF32_OVERRIDE=0 keeps float32.
say "graph-step equivalence tests on the GPU (test/ml/train/graph-step.test.ts)"
MLPIPE_TF_BACKEND=gpu NVIDIA_TF32_OVERRIDE=0 step npx vitest run test/ml/train/graph-step.test.ts >"$WORK/graph-step.log" 2>&1
rc=$?
grep -E 'Test Files|Tests |FAIL|✗|×' "$WORK/graph-step.log" | sed 's/^/[gpu-check]   /'
[ "$rc" = 0 ] || failed "graph-step tests on the GPU (exit $rc; log $WORK/graph-step.log)"

# 6. Summary.
node -e '
  const fs = require("fs"), w = process.argv[1];
  const read = (f) => { try { return JSON.parse(fs.readFileSync(`${w}/${f}`, "utf8").trim().split("\n").pop()); } catch { return null; } };
  const g = read("lenet-gpu.out"), c = read("lenet-cpu.out");
  const n = (v) => (typeof v === "number" ? Math.round(v).toLocaleString("en-US") : "-");
  const x = (a, b) => (typeof a === "number" && typeof b === "number" && b > 0 ? (a / b).toFixed(2) + "x" : "-");
  console.log("[gpu-check] summary (samples/s; GPU / CPU)");
  for (const r of g?.rows ?? c?.rows ?? []) {
    const gs = g?.rows.find((q) => q.batchSize === r.batchSize)?.samplesPerSecond, cs = c?.rows.find((q) => q.batchSize === r.batchSize)?.samplesPerSecond;
    console.log(`[gpu-check]   LeNet batch ${r.batchSize}: GPU ${n(gs)}, CPU ${n(cs)}, ${x(gs, cs)}`);
  }
  const mg = read("mnist-gpu.json"), mc = read("mnist-cpu.json");
  console.log(`[gpu-check]   MNIST pipeline (batch 32): GPU ${n(mg?.samplesPerSecond)} (accuracy ${mg?.accuracy ?? "-"}), CPU ${n(mc?.samplesPerSecond)} (accuracy ${mc?.accuracy ?? "-"}), ${x(mg?.samplesPerSecond, mc?.samplesPerSecond)}`);
' "$WORK"
if [ "${#failures[@]}" -gt 0 ]; then
  say "FAILED: ${#failures[@]} step(s): $(printf '%s; ' "${failures[@]}")logs in $WORK"
  exit 1
fi
say "ok: the CUDA route works here (logs in $WORK)"

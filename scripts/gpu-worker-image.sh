#!/usr/bin/env bash
# Builds what a GPU worker needs, from the repository root: the RUN step of a GPU worker image
# (docs/native-tensorflow.md, "GPU worker image"), or the same on a bare host.
#   1. npm ci (from the lockfile; no install script of either tfjs package runs)
#   2. tfjs-node, the CPU build: `auto` falls back to it, with one line, when the container
#      gets no GPU (a missing `--gpus`), instead of failing every GPU stage
#   3. tfjs-node-gpu against the GPU tensorflow wheel and its CUDA 12 runtime wheels
#
# MLPIPE_CACHE unset: the wheels go to a temporary directory removed at the end. The builds keep
# hard links to the libraries they use, so nothing is lost and the image layer holds no wheels.
# Set MLPIPE_CACHE to a BuildKit cache mount to keep the wheels between image builds (the
# libraries are then copied into node_modules: hard links cannot leave the mount).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${MLPIPE_CACHE:-}" ]; then
  MLPIPE_CACHE="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-cache.XXXXXX")"
  export MLPIPE_CACHE
  trap 'rm -rf "$MLPIPE_CACHE"' EXIT
fi
say() { printf '[gpu-worker-image] %s\n' "$*"; }

say "npm ci"
npm ci --no-audit --no-fund
# The stamp scripts/setup.sh keeps, so that it (and scripts/gpu-check.sh) does not reinstall.
sha256sum package-lock.json | cut -d' ' -f1 >node_modules/.mlpipe-lock.sha256
say "tfjs-node (CPU build)"
bash scripts/setup-native.sh
say "tfjs-node-gpu (CUDA build)"
bash scripts/setup-native.sh --gpu
say "done: start the worker with \`node bin/mlpipe.js worker --gpus 1\` (one worker per GPU, see docs/native-tensorflow.md)"

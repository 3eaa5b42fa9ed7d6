// Shared helpers for the src/ml tests. These tests run on the real native backend: CI runs
// scripts/setup-native.sh first, and expectNativeBackend() fails loudly when it did not work.
import { expect } from 'vitest';
import { selectBackend, type SelectedBackend } from '../../src/ml/runtime/backend.ts';
import type { ArrayData } from '../../src/ml/train/fit.ts';

/**
 * The backend the tests must run on: native TensorFlow, unless MLPIPE_TF_BACKEND=js was asked for
 * (or =gpu: the CUDA build, as scripts/gpu-check.sh runs the graph-step tests).
 */
export function expectNativeBackend(): SelectedBackend {
  const sel = selectBackend();
  const pref = process.env.MLPIPE_TF_BACKEND;
  const wanted = pref === 'js' ? 'cpu-js' : pref === 'gpu' ? 'tensorflow-gpu' : 'tensorflow';
  expect(
    sel.info.backend,
    `backend is ${sel.info.backend}, expected ${wanted}: the native TensorFlow addon is missing or ` +
      `broken; run \`bash scripts/setup-native.sh\``,
  ).toBe(wanted);
  return sel;
}

/** Deterministic pseudo-random floats in [0, 1). */
export function randoms(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296;
  }
  return out;
}

/** A small two-class problem that a linear model separates: label = x0 + x1 > 1. */
export function separable(n: number, features = 4, seed = 3): { x: ArrayData; y: ArrayData; labels: Int32Array } {
  const data = randoms(n * features, seed);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = data[i * features]! + data[i * features + 1]! > 1 ? 1 : 0;
  const oneHot = new Float32Array(n * 2);
  labels.forEach((l, i) => (oneHot[i * 2 + l] = 1));
  return { x: { data, shape: [n, features] }, y: { data: oneHot, shape: [n, 2] }, labels };
}

export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

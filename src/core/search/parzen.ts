// The Parzen estimator of Optuna's TPE (optuna/samplers/_tpe/parzen_estimator.py and
// probability_distributions.py): a mixture with one kernel per observed trial plus one prior
// kernel; each kernel is a product over the dimensions of a truncated normal (numeric, in the log
// for log dimensions, integrated over the step's cell for ints) or a categorical distribution.
// One dimension gives the univariate estimator, several the multivariate one.
import type { Rng } from '../rng.ts';
import { intHigh, type Dimension } from './space.ts';
import { logGaussMass, truncnormFromUniform, truncnormLogPdf } from './truncnorm.ts';

/** Weight of the prior kernel relative to one observation (Optuna's prior_weight). */
export const PRIOR_WEIGHT = 1;

type Kernels =
  | { kind: 'categorical' /** [kernel][choice index] */; probs: number[][] }
  | {
      kind: 'numeric';
      mu: number[];
      sigma: number[];
      /** The range in sampled values (not log). */
      low: number;
      high: number;
      /** 0 for continuous dimensions. */
      step: number;
      log: boolean;
      /** The range the normals are truncated to: widened by half a step, in the log if log. */
      lowT: number;
      highT: number;
    };

export interface ParzenEstimator {
  /** Mixture weight of each kernel (the prior last), summing to 1. */
  weights: number[];
  dims: Kernels[];
}

/**
 * Optuna's default_weights: equal weights, except that beyond 25 observations the older ones
 * (lower trial numbers, first in the list) ramp down linearly from 1/n.
 */
export function defaultWeights(n: number): number[] {
  if (n < 25) return Array<number>(n).fill(1);
  const ramp = n - 25;
  return [
    ...Array.from({ length: ramp }, (_, i) => (ramp === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (ramp - 1))),
    ...Array<number>(25).fill(1),
  ];
}

/**
 * `observations[d][i]`: trial i's value of dimension d (choice index for choices), trials in
 * trial-number order. `weights` overrides defaultWeights (Optuna does for multi-objective only).
 */
export function buildParzen(dims: Dimension[], observations: number[][], weights?: number[]): ParzenEstimator {
  const n = observations[0]?.length ?? 0;
  const w = n === 0 ? [1] : [...(weights ?? defaultWeights(n)), PRIOR_WEIGHT];
  const total = w.reduce((a, b) => a + b, 0);
  return { weights: w.map((x) => x / total), dims: dims.map((d, i) => kernelsFor(d, observations[i] ?? [])) };
}

function kernelsFor(d: Dimension, obs: number[]): Kernels {
  if (d.type === 'choice') {
    const k = d.values.length;
    if (obs.length === 0) return { kind: 'categorical', probs: [Array<number>(k).fill(1 / k)] };
    // Each observation's kernel: the prior's mass spread evenly, plus 1 on the observed choice.
    const nKernels = obs.length + 1;
    const probs = Array.from({ length: nKernels }, (_, i) => {
      const row = Array<number>(k).fill(PRIOR_WEIGHT / nKernels);
      if (i < obs.length) row[obs[i]!]! += 1;
      const sum = row.reduce((a, b) => a + b, 0);
      return row.map((p) => p / sum);
    });
    return { kind: 'categorical', probs };
  }
  const step = d.type === 'int' ? (d.step ?? 1) : 0;
  const log = d.type === 'logUniform' || (d.type === 'int' && !!d.log);
  const low = d.min;
  const high = d.type === 'int' ? intHigh(d) : d.max;
  const t = (x: number) => (log ? Math.log(x) : x);
  const lowT = t(low - step / 2);
  const highT = t(high + step / 2);
  const mus = obs.map(t);
  const sigmas = bandwidths(mus, lowT, highT);
  return { kind: 'numeric', mu: [...mus, 0.5 * (lowT + highT)], sigma: [...sigmas, highT - lowT], low, high, step, log, lowT, highT };
}

/**
 * Optuna's bandwidth rule: each kernel as wide as the larger gap to its sorted neighbours (the
 * range's ends count as neighbours, except that the outermost kernels look inwards only), clipped
 * to [range / min(100, kernels + 1), range] (the "magic clip"; kernels include the prior).
 */
function bandwidths(mus: number[], low: number, high: number): number[] {
  const order = mus.map((_, i) => i).sort((a, b) => mus[a]! - mus[b]! || a - b);
  const s = [low, ...order.map((i) => mus[i]!), high];
  const sorted = order.map((_, j) => Math.max(s[j + 1]! - s[j]!, s[j + 2]! - s[j + 1]!));
  if (s.length >= 4) {
    sorted[0] = s[2]! - s[1]!;
    sorted[sorted.length - 1] = s[s.length - 2]! - s[s.length - 3]!;
  }
  const max = high - low;
  const min = (high - low) / Math.min(100, 1 + (mus.length + 1));
  const out = Array<number>(mus.length);
  order.forEach((i, j) => (out[i] = Math.min(max, Math.max(min, sorted[j]!))));
  return out;
}

function pickIndex(probs: number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length - 1; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  return probs.length - 1;
}

/** `size` draws; each picks one kernel for all its dimensions. Returns [draw][dimension]. */
export function sampleParzen(pe: ParzenEstimator, rng: Rng, size: number): number[][] {
  return Array.from({ length: size }, () => {
    const k = pickIndex(pe.weights, rng.next());
    return pe.dims.map((d) => {
      if (d.kind === 'categorical') return pickIndex(d.probs[k]!, rng.next());
      const mu = d.mu[k]!;
      const sigma = d.sigma[k]!;
      let x = truncnormFromUniform(rng.next(), (d.lowT - mu) / sigma, (d.highT - mu) / sigma, mu, sigma);
      if (d.log) x = Math.exp(x);
      if (d.step) x = Math.min(d.high, Math.max(d.low, d.low + Math.round((x - d.low) / d.step) * d.step));
      return x;
    });
  });
}

/** log density (mass, for ints and choices) of the mixture at each point ([point][dimension]). */
export function logPdfParzen(pe: ParzenEstimator, points: number[][]): number[] {
  return points.map((x) => {
    const perKernel = pe.weights.map((w, k) => {
      let lp = Math.log(w);
      pe.dims.forEach((d, i) => {
        const xi = x[i]!;
        if (d.kind === 'categorical') lp += Math.log(d.probs[k]![xi]!);
        else lp += kernelLogPdf(d, k, xi);
      });
      return lp;
    });
    const m = Math.max(...perKernel);
    if (m === -Infinity) return -Infinity;
    return m + Math.log(perKernel.reduce((a, lp) => a + Math.exp(lp - m), 0));
  });
}

function kernelLogPdf(d: Extract<Kernels, { kind: 'numeric' }>, k: number, x: number): number {
  const mu = d.mu[k]!;
  const sigma = d.sigma[k]!;
  const t = (v: number) => (d.log ? Math.log(v) : v);
  // The normal's mass over the truncation range: every kernel is renormalised to it.
  if (!d.step) return truncnormLogPdf(t(x), (d.lowT - mu) / sigma, (d.highT - mu) / sigma, mu, sigma);
  const cell = logGaussMass((t(x - d.step / 2) - mu) / sigma, (t(x + d.step / 2) - mu) / sigma);
  return cell - logGaussMass((d.lowT - mu) / sigma, (d.highT - mu) / sigma);
}

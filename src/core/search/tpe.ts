// TPE, the Tree-structured Parzen Estimator (Bergstra et al. 2011), as Optuna's TPESampler
// implements it (optuna/samplers/_tpe/sampler.py, single objective, no constraints):
// - the first `nStartupTrials` (10) finished trials are random;
// - then the finished trials split into the best gamma(n) = min(ceil(n / 10), 25) ("below") and
//   the rest ("above"): complete trials by value first, then pruned ones, those that got further
//   and then did better first; running trials count as above (the "constant liar", so parallel
//   trials spread out);
// - a Parzen estimator is fitted to each side (parzen.ts), `nEiCandidates` (24) points are drawn
//   from the below one, and the point with the largest log l(x) - log g(x) wins;
// - univariate by default: each dimension on its own, from the trials that have it, which is how
//   conditional dimensions are handled. `multivariate` samples the dimensions every finished trial
//   has as one joint point (Optuna's relative sampling over the intersection search space) and the
//   others univariately. Optuna 5 made multivariate its single-objective default; earlier
//   versions, and this module, default to univariate.
import type { Rng } from '../rng.ts';
import { buildParzen, logPdfParzen, sampleParzen } from './parzen.ts';
import {
  allDimensions,
  choiceValue,
  sampleParams,
  singleValue,
  walkSpace,
  type Dimension,
  type ParamValues,
  type Scalar,
  type Space,
} from './space.ts';
import { reportedSteps, type Direction, type Trial } from './trials.ts';

export interface TpeOptions {
  /** Random trials before TPE starts (Optuna: 10). */
  nStartupTrials?: number;
  /** Candidates drawn from l(x) per suggestion (Optuna: 24). */
  nEiCandidates?: number;
  multivariate?: boolean;
  /** Count running trials as bad ones (Optuna: true). */
  constantLiar?: boolean;
}

export const gamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/** The parameters of the next trial given the table so far. */
export function tpeParams(space: Space, trials: readonly Trial[], direction: Direction, rng: Rng, opts: TpeOptions = {}): ParamValues {
  const finished = trials.filter((t) => t.state === 'complete' || t.state === 'pruned');
  if (finished.length < (opts.nStartupTrials ?? 10)) return sampleParams(space, rng);
  const running = opts.constantLiar === false ? [] : trials.filter((t) => t.state === 'running');
  const { below, above } = splitTrials(finished, running, gamma(finished.length), direction);
  const nCandidates = opts.nEiCandidates ?? 24;
  const dims = allDimensions(space);
  const joint: ParamValues = {};
  if (opts.multivariate) {
    const paths = [...dims.keys()]
      .filter((p) => singleValue(dims.get(p)!.dim) === undefined && finished.every((t) => p in t.params))
      .sort();
    if (paths.length)
      Object.assign(
        joint,
        sampleJoint(
          paths.map((p) => [p, dims.get(p)!.dim]),
          below,
          above,
          rng,
          nCandidates,
        ),
      );
  }
  return walkSpace(space, (path, d) => joint[path] ?? singleValue(d) ?? sampleJoint([[path, d]], below, above, rng, nCandidates)[path]!);
}

/** Below and above, each in trial order (the weights ramp down older trials). */
export function splitTrials(
  finished: readonly Trial[],
  running: readonly Trial[],
  nBelow: number,
  direction: Direction,
): { below: Trial[]; above: Trial[] } {
  const sign = direction === 'maximize' ? -1 : 1;
  const complete = finished.filter((t) => t.state === 'complete').sort((a, b) => sign * (a.value! - b.value!) || 0);
  const pruned = finished
    .filter((t) => t.state === 'pruned')
    .sort((a, b) => {
      const [sa, va] = prunedScore(a, sign);
      const [sb, vb] = prunedScore(b, sign);
      return sa - sb || va - vb;
    });
  const nComplete = Math.min(nBelow, complete.length);
  const nPruned = Math.min(nBelow - nComplete, pruned.length);
  const below = [...complete.slice(0, nComplete), ...pruned.slice(0, nPruned)];
  const above = [...complete.slice(nComplete), ...pruned.slice(nPruned), ...running];
  const byId = (a: Trial, b: Trial) => a.id - b.id;
  return { below: below.sort(byId), above: above.sort(byId) };
}

/** Optuna's order of pruned trials: the furthest step first, then the better value there. */
function prunedScore(t: Trial, sign: number): [number, number] {
  const steps = reportedSteps(t);
  if (steps.length === 0) return [1, 0];
  const last = steps[steps.length - 1]!;
  const v = t.intermediate![String(last)]!;
  return [-last, Number.isNaN(v) ? Infinity : sign * v];
}

/** Choices as their index, numbers as they are: the estimator's representation. */
function internal(d: Dimension, v: Scalar): number {
  return d.type === 'choice' ? d.values.findIndex((c) => choiceValue(c) === v) : (v as number);
}

function sampleJoint(dims: [string, Dimension][], below: Trial[], above: Trial[], rng: Rng, nCandidates: number): ParamValues {
  // A trial informs the estimate only if it has every one of these dimensions.
  const observe = (ts: Trial[]) => {
    const having = ts.filter((t) => dims.every(([p]) => p in t.params));
    return dims.map(([p, d]) => having.map((t) => internal(d, t.params[p]!)));
  };
  const ds = dims.map(([, d]) => d);
  const l = buildParzen(ds, observe(below));
  const g = buildParzen(ds, observe(above));
  const candidates = sampleParzen(l, rng, nCandidates);
  const ll = logPdfParzen(l, candidates);
  const lg = logPdfParzen(g, candidates);
  let best = 0;
  for (let i = 1; i < candidates.length; i++) if (ll[i]! - lg[i]! > ll[best]! - lg[best]!) best = i;
  const out: ParamValues = {};
  dims.forEach(([p, d], i) => {
    const x = candidates[best]![i]!;
    out[p] = d.type === 'choice' ? choiceValue(d.values[x]!) : x;
  });
  return out;
}

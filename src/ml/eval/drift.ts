// Drift statistics between a reference sample (the training data) and a current one (recent
// serving traffic). Definitions match test/fixtures/drift/make.py (numpy/scipy) to 1e-9:
// - PSI: 10 bins cut at the reference's deciles (numpy's linear quantiles); a value equal to a
//   cut goes to the lower bin (np.searchsorted side='left'); proportions are floored at 1e-4 so
//   an empty bin does not give an infinite PSI; PSI = Σ (cur − ref) · ln(cur / ref).
// - KS: the two-sample Kolmogorov–Smirnov statistic sup |F_ref − F_cur| (scipy.stats.ks_2samp).
import { quantile } from '../data/dataset-stats.ts';

export const PSI_BINS = 10;
export const PSI_FLOOR = 1e-4;

function finiteSorted(x: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]!)) out.push(x[i]!);
  return Float64Array.from(out).sort();
}

/** Number of sorted `edges` strictly below v (np.searchsorted(edges, v, 'left')). */
function binOf(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface PsiResult {
  value: number;
  edges: number[];
  reference: number[];
  current: number[];
}

export function psi(reference: ArrayLike<number>, current: ArrayLike<number>, bins = PSI_BINS): PsiResult {
  const ref = finiteSorted(reference);
  const cur = finiteSorted(current);
  if (ref.length === 0 || cur.length === 0) throw new Error('psi needs at least one finite value in each sample');
  const edges = new Float64Array(bins - 1);
  for (let i = 1; i < bins; i++) edges[i - 1] = quantile(ref, i / bins);
  const share = (s: Float64Array) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of s) counts[binOf(edges, v)]!++;
    return counts.map((c) => Math.max(c / s.length, PSI_FLOOR));
  };
  const r = share(ref);
  const c = share(cur);
  let value = 0;
  for (let i = 0; i < bins; i++) value += (c[i]! - r[i]!) * Math.log(c[i]! / r[i]!);
  return { value, edges: [...edges], reference: r, current: c };
}

/** Two-sample KS statistic. */
export function ks(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const a = finiteSorted(reference);
  const b = finiteSorted(current);
  if (a.length === 0 || b.length === 0) throw new Error('ks needs at least one finite value in each sample');
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const v = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= v) i++;
    while (j < b.length && b[j]! <= v) j++;
    const diff = Math.abs(i / a.length - j / b.length);
    if (diff > d) d = diff;
  }
  return d;
}

export type DriftTest = 'psi' | 'ks';

export function driftStatistic(test: DriftTest, reference: ArrayLike<number>, current: ArrayLike<number>): number {
  return test === 'psi' ? psi(reference, current).value : ks(reference, current);
}

// Row-level preprocessing: seeded shuffles and (stratified) splits. Splits are index lists into
// the dataset's rows, so the same seed always gives the same rows in every split.
import type { SplitName } from './dataset.ts';
import { Rng } from './rng.ts';
import { DataError } from './sources.ts';

export interface SplitSpec {
  train: number;
  validation?: number;
  test?: number;
  seed?: number;
  stratify?: boolean;
}

/** How many of `n` go to each split (largest remainder, so the counts add up). */
function counts(n: number, fr: number[]): number[] {
  const raw = fr.map((f) => f * n);
  const c = raw.map(Math.floor);
  let left = Math.min(n, Math.round(fr.reduce((a, b) => a + b, 0) * n)) - c.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) c[order[k]![1]]!++;
  return c;
}

/**
 * Split `order` (the current row order). `groups` (class keys per row) stratifies: every split
 * gets each class in the same shares.
 */
export function splitRows(
  order: Uint32Array,
  spec: SplitSpec,
  groups: (string | null)[] | undefined,
  where: string,
): Partial<Record<SplitName, Uint32Array>> {
  const val = spec.validation ?? 0;
  const test = spec.test ?? Math.max(0, 1 - spec.train - val);
  if (spec.train + val + test > 1 + 1e-9) {
    throw new DataError(`${where}: split shares add up to ${spec.train + val + test}, more than 1; lower train/validation/test`);
  }
  const fr = [spec.train, val, test];
  const rng = new Rng(spec.seed ?? 0);
  const perm = rng.shuffle(Uint32Array.from(order));
  const out: number[][] = [[], [], []];
  if (spec.stratify) {
    if (!groups)
      throw new DataError(`${where}: split.stratify needs a label column; declare schema.label in collect or label in preprocess`);
    const byClass = new Map<string, number[]>();
    for (const r of perm) {
      const g = groups[r] ?? '\u0000missing';
      let a = byClass.get(g);
      if (!a) byClass.set(g, (a = []));
      a.push(r);
    }
    for (const key of [...byClass.keys()].sort()) {
      const rows = byClass.get(key)!;
      const c = counts(rows.length, fr);
      let o = 0;
      c.forEach((k, s) => {
        for (let i = o; i < o + k; i++) out[s]!.push(rows[i]!); // (a spread of 100,000s of rows overflows the stack)
        o += k;
      });
    }
    // Interleave classes within each split so a split is not sorted by class.
    for (const s of out) rng.shuffle(s);
  } else {
    const c = counts(perm.length, fr);
    let o = 0;
    c.forEach((k, s) => {
      for (let i = o; i < o + k; i++) out[s]!.push(perm[i]!); // (a spread of 100,000s of rows overflows the stack)
      o += k;
    });
  }
  const res: Partial<Record<SplitName, Uint32Array>> = { train: Uint32Array.from(out[0]!) };
  if (val > 0) res.validation = Uint32Array.from(out[1]!);
  if (test > 0) res.test = Uint32Array.from(out[2]!);
  if (res.train!.length === 0) throw new DataError(`${where}: the train split is empty; raise split.train or collect more rows`);
  return res;
}

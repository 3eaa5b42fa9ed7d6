// Seeded synthetic datasets: the same config and seed give the same bytes everywhere.
// - blobs: `classes` Gaussian clusters (std = noise, default 1) around centres drawn in [-10, 10].
// - regression: y = x·w + b + noise·N(0,1), x ~ N(0,1), w ~ U(-5, 5) (noise default 0.1).
// - images: per class a random smooth template (imageSize², one channel) plus pixel noise.
import type { SyntheticSource } from '../../spec/types.gen.ts';
import { imageDataset, type Dataset } from './dataset.ts';
import { Rng } from './rng.ts';

/** A `synthetic` collect source, without its `type`. */
export type SyntheticConfig = Omit<SyntheticSource, 'type'>;

export function generateSynthetic(cfg: SyntheticConfig): Dataset {
  const rng = new Rng(cfg.seed ?? 0);
  const n = cfg.samples ?? 1000;
  const f = cfg.features ?? (cfg.generator === 'regression' ? 4 : 2);
  const k = cfg.classes ?? 3;
  const names = Array.from({ length: f }, (_, j) => `x${j}`);
  if (cfg.generator === 'blobs' || cfg.generator === 'regression') {
    const cols = names.map(() => new Float32Array(n));
    const y = new Float32Array(n);
    if (cfg.generator === 'blobs') {
      const noise = cfg.noise ?? 1;
      const centres = Array.from({ length: k }, () => Array.from({ length: f }, () => rng.next() * 20 - 10));
      for (let i = 0; i < n; i++) {
        const c = i % k;
        y[i] = c;
        for (let j = 0; j < f; j++) cols[j]![i] = centres[c]![j]! + noise * rng.normal();
      }
    } else {
      const noise = cfg.noise ?? 0.1;
      const w = Array.from({ length: f }, () => rng.next() * 10 - 5);
      const b = rng.next() * 2 - 1;
      for (let i = 0; i < n; i++) {
        let s = b;
        for (let j = 0; j < f; j++) {
          const x = rng.normal();
          cols[j]![i] = x;
          s += w[j]! * x;
        }
        y[i] = s + noise * rng.normal();
      }
    }
    return {
      rows: n,
      label: 'y',
      columns: [
        ...names.map((name, j) => ({ name, type: 'number' as const, shape: [], data: cols[j]! })),
        { name: 'y', type: cfg.generator === 'blobs' ? ('integer' as const) : ('number' as const), shape: [], data: y },
      ],
    };
  }
  const side = cfg.imageSize ?? 8;
  const px = side * side;
  const noise = cfg.noise ?? 0.2;
  // Templates: a few random Gaussian bumps per class, normalised to [0, 1].
  const templates = Array.from({ length: k }, () => {
    const t = new Float32Array(px);
    for (let b = 0; b < 3; b++) {
      const cx = rng.next() * side;
      const cy = rng.next() * side;
      const s = side / 6 + rng.next() * (side / 6);
      for (let yy = 0; yy < side; yy++)
        for (let xx = 0; xx < side; xx++) t[yy * side + xx]! += Math.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s));
    }
    const m = Math.max(...t);
    return t.map((v) => v / m);
  });
  const img = new Float32Array(n * px);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y[i] = c;
    for (let p = 0; p < px; p++) img[i * px + p] = Math.min(1, Math.max(0, templates[c]![p]! + noise * rng.normal()));
  }
  return imageDataset(side, img, y);
}

// Per-batch image augmentation in training: each batch's images flipped, shifted, cropped and
// brightened as it reaches the step, with draws seeded by (seed, epoch, batch), so every epoch
// sees new variants, a resumed run sees the ones an uninterrupted run would have, and nothing is
// stored (preprocess's `augment` step, by contrast, adds fixed copies to the dataset).
import type { TrainStage } from '../../spec/types.gen.ts';
import type { ArrayData } from './fit.ts';
import { rng } from './fit-batches.ts';

export type AugmentOptions = NonNullable<TrainStage['augment']>;

/** Why these features cannot be augmented (not [h, w] or [h, w, c] images), or null. */
export function augmentUnfit(featureShape: number[]): string | null {
  if (featureShape.length === 2 || featureShape.length === 3) return null;
  return (
    `augment needs image features of shape [h, w] or [h, w, c]; these are [${featureShape.join(', ')}] ` +
    '(one image column, e.g. from an image folder or a reshape)'
  );
}

/** Whether `o` changes anything. */
export function augments(o: AugmentOptions | undefined): o is AugmentOptions {
  return !!o && !!(o.flipHorizontal || o.flipVertical || o.shiftPixels || o.crop || o.brightness);
}

/** The seed of batch `batch` of epoch `epoch`: the three mixed so neighbours draw unrelated numbers. */
function batchSeed(seed: number, epoch: number, batch: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (epoch + 0x632be5ab), 0xc2b2ae35);
  h = Math.imul(h ^ (batch + 0x5bd1e995), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * `x` ([n, h, w] or [n, h, w, c]) augmented, a new array. Per image, in this order: flips (each
 * with probability ½), a shift of up to `shiftPixels` (edge pixels repeat into the gap), a
 * random crop from the image padded with `crop` zero pixels per side, then a brightness delta
 * clipped to the batch's value range.
 */
export function augmentBatch(x: ArrayData, o: AugmentOptions, seed: number, epoch: number, batch: number): ArrayData {
  const [n, h, w, c = 1] = x.shape as [number, number, number, number?];
  const random = rng(batchSeed(seed, epoch, batch));
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const src = x.data;
  const out = new Float32Array(src.length);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  if (o.brightness) {
    for (let i = 0; i < src.length; i++) {
      if (src[i]! < lo) lo = src[i]!;
      if (src[i]! > hi) hi = src[i]!;
    }
  }
  const s = o.shiftPixels ?? 0;
  const p = o.crop ?? 0;
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max, v));
  const size = h * w * c;
  for (let k = 0; k < n; k++) {
    // every draw is made whether or not its option is on, in a fixed order per image
    const fh = random() < 0.5 && !!o.flipHorizontal;
    const fv = random() < 0.5 && !!o.flipVertical;
    const dy = int(-s, s);
    const dx = int(-s, s);
    const cy = int(0, 2 * p) - p;
    const cx = int(0, 2 * p) - p;
    const delta = (random() * 2 - 1) * (o.brightness ?? 0);
    const base = k * size;
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const o0 = base + (y * w + xx) * c;
        // crop: the window starts cy, cx off the padded image's centre; outside the image is padding
        const py = y + cy;
        const px = xx + cx;
        if (py < 0 || py >= h || px < 0 || px >= w) {
          for (let ch = 0; ch < c; ch++) out[o0 + ch] = o.brightness ? Math.min(hi, Math.max(lo, 0)) : 0;
          continue;
        }
        // shift (edge repeated), then flip back to the source pixel
        let sy = clamp(py - dy, h - 1);
        let sx = clamp(px - dx, w - 1);
        if (fv) sy = h - 1 - sy;
        if (fh) sx = w - 1 - sx;
        const s0 = base + (sy * w + sx) * c;
        for (let ch = 0; ch < c; ch++) {
          const v = src[s0 + ch]!;
          out[o0 + ch] = delta ? Math.min(hi, Math.max(lo, v + delta)) : v;
        }
      }
    }
  }
  return { data: out, shape: x.shape.slice() };
}

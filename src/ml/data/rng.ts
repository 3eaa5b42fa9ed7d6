// Seeded randomness for data work (splits, shuffles, synthetic data, augmentation): the same seed
// always gives the same numbers on every machine. mulberry32 + Box-Muller.
import { Rng } from '../../core/rng.ts';

export { Rng };

export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(seed).shuffle(p);
}

// A seeded, bounded uniform sample of a stream of numbers (Li's "Algorithm L" reservoir): the
// median and quantiles of data larger than memory come from it. It keeps every value until
// `capacity` have passed (so small data gets exact results), then a uniform sample of that size;
// it draws a random number only when a value enters, so feeding it stays cheap. The same seed and
// the same sequence of values give the same sample, whatever the chunks the values came in.
import { Rng } from './rng.ts';

export class Reservoir {
  readonly values: Float64Array;
  /** Values offered so far. */
  seen = 0;
  private readonly rng: Rng;
  private w = 0;
  /** Index (in `seen` terms) of the next value that enters a full reservoir. */
  private next = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.values = new Float64Array(capacity);
    this.rng = new Rng(seed);
  }

  add(v: number): void {
    const i = this.seen++;
    if (i < this.capacity) {
      this.values[i] = v;
      if (i === this.capacity - 1) {
        this.w = Math.exp(Math.log(this.uniform()) / this.capacity);
        this.skip();
      }
      return;
    }
    if (i < this.next) return;
    this.values[this.rng.int(this.capacity)] = v;
    this.w *= Math.exp(Math.log(this.uniform()) / this.capacity);
    this.skip();
  }

  /** The sample, sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, Math.min(this.seen, this.capacity)).sort();
  }

  /** Whether the sample is every value offered (results from it are then exact). */
  get complete(): boolean {
    return this.seen <= this.capacity;
  }

  private skip(): void {
    this.next = this.seen + Math.floor(Math.log(this.uniform()) / Math.log(1 - this.w));
  }

  /** Uniform in (0, 1): log(0) would be -Infinity. */
  private uniform(): number {
    let u = 0;
    while (u === 0) u = this.rng.next();
    return u;
  }
}

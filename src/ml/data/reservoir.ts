// Seeded, bounded uniform samples of streams (Li's "Algorithm L" reservoir): the median and
// quantiles of data larger than memory come from them. A sample keeps every item until
// `capacity` have passed (so small data gets exact results), then a uniform sample of that size;
// it draws random numbers only when an item enters, so feeding it stays cheap. The same seed and
// the same sequence give the same sample, whatever the chunks the items came in.
import { Rng } from './rng.ts';

/** Which items of a stream a uniform sample of `capacity` keeps, and in which slot. */
export class SampleSlots {
  /** Items offered so far. */
  seen = 0;
  /** Index (in `seen` terms) of the next item that enters once the sample is full. */
  next = 0;
  private readonly rng: Rng;
  private w = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  /** The slot the next item goes to, or -1 when the sample passes it by. */
  take(): number {
    const i = this.seen++;
    if (i < this.capacity) {
      if (i === this.capacity - 1) {
        this.w = Math.exp(Math.log(this.uniform()) / this.capacity);
        this.skip();
      }
      return i;
    }
    if (i < this.next) return -1;
    const slot = this.rng.int(this.capacity);
    this.w *= Math.exp(Math.log(this.uniform()) / this.capacity);
    this.skip();
    return slot;
  }

  /** Whether the sample holds every item offered (results from it are then exact). */
  get complete(): boolean {
    return this.seen <= this.capacity;
  }

  /** How many slots hold items. */
  get filled(): number {
    return Math.min(this.seen, this.capacity);
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

/** A uniform sample of numbers from float32 data (stored as float32: no precision lost). */
export class Reservoir {
  readonly values: Float32Array;
  private readonly slots: SampleSlots;

  constructor(capacity: number, seed: number) {
    this.values = new Float32Array(capacity);
    this.slots = new SampleSlots(capacity, seed);
  }

  get seen(): number {
    return this.slots.seen;
  }

  get complete(): boolean {
    return this.slots.complete;
  }

  add(v: number): void {
    const s = this.slots.take();
    if (s >= 0) this.values[s] = v;
  }

  /** Adds the present (non-NaN) values of `data`; returns how many were missing. */
  addPresent(data: Float32Array): number {
    const slots = this.slots;
    let missing = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isNaN(v)) {
        missing++;
        continue;
      }
      // Past the capacity most values are passed by: count them without the call.
      if (slots.seen >= slots.capacity && slots.seen < slots.next) slots.seen++;
      else this.add(v);
    }
    return missing;
  }

  /** The sample, sorted ascending (a copy). */
  sorted(): Float64Array {
    return Float64Array.from(this.values.subarray(0, this.slots.filled)).sort();
  }
}

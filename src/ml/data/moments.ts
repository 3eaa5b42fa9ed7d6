// Streaming moments of a numeric column, shared by preprocess's fits, its output statistics and
// collect's merged statistics.
/** Count, mean and sum of squared deviations, merged chunk by chunk (Chan et al.), plus the range. */
export class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  lo = Infinity;
  hi = -Infinity;

  /** Adds the present (non-NaN) values of `data`. */
  addAll(data: Float32Array): void {
    let n = 0;
    let sum = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isNaN(v)) continue;
      n++;
      sum += v;
      if (v < this.lo) this.lo = v;
      if (v > this.hi) this.hi = v;
    }
    if (n === 0) return;
    const mean = sum / n;
    let m2 = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isNaN(v)) m2 += (v - mean) * (v - mean);
    }
    const total = this.n + n;
    const delta = mean - this.mean;
    this.mean += (delta * n) / total;
    this.m2 += m2 + (delta * delta * this.n * n) / total;
    this.n = total;
  }
}

// A generated table for the chunked (larger than memory) data path: numeric columns with missing
// values, a category and a text label, each row's origin a line of `gen.csv` (line r + 2, after
// the header), so that errors found in any chunk name a source line.
import type { Dataset } from '../../src/ml/data/dataset.ts';
import { Rng } from '../../src/ml/data/rng.ts';

export function generatedTable(rows: number, seed = 1): Dataset {
  const rng = new Rng(seed);
  const a = new Float32Array(rows);
  const b = new Float32Array(rows);
  const m = new Float32Array(rows);
  const cat: (string | null)[] = [];
  const y: (string | null)[] = [];
  const kinds = ['red', 'green', 'blue'];
  for (let r = 0; r < rows; r++) {
    a[r] = rng.next() < 0.1 ? NaN : 10 + 3 * rng.normal();
    b[r] = -2 + 0.5 * rng.normal();
    // Skewed, so that its median and mean differ.
    m[r] = rng.next() < 0.2 ? NaN : Math.exp(rng.normal());
    const k = rng.next();
    cat.push(rng.next() < 0.05 ? null : kinds[k < 0.5 ? 0 : k < 0.8 ? 1 : 2]!);
    y.push(b[r]! + 0.3 * rng.normal() > -2 ? 'yes' : 'no');
  }
  return {
    rows,
    label: 'y',
    columns: [
      { name: 'a', type: 'number', shape: [], data: a, nullable: true },
      { name: 'b', type: 'number', shape: [], data: b },
      { name: 'm', type: 'number', shape: [], data: m, nullable: true },
      { name: 'cat', type: 'category', values: cat, nullable: true },
      { name: 'y', type: 'category', values: y },
    ],
    origin: { file: 'gen.csv', unit: 'line', at: Uint32Array.from({ length: rows }, (_, r) => r + 2) },
  };
}

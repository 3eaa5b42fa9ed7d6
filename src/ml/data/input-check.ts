// Raw rows checked against a transform's input schema before any value is converted, so a request
// cannot slip a boolean, a string, an array or an overflowing number into a numeric feature, an
// unknown category into an encoded one, or a mis-shaped or out-of-range image into a tensor
// column. Every error names the row (from 1) and the column, and says what to send instead.
import { DataError } from './sources.ts';
import type { InputColumn, Transform } from './preprocess.ts';

const FLOAT32_MAX = 3.4028234663852886e38;

function fail(row: number, col: string, why: string): never {
  throw new DataError(`row ${row + 1}, column ${JSON.stringify(col)}: ${why}`);
}

const show = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));

/** A feature as a TensorFlow float32 needs it: a JSON number that stays finite in 32 bits. */
function checkNumber(v: unknown, row: number, col: string, at = ''): number {
  if (typeof v !== 'number')
    fail(
      row,
      col,
      `${at}${show(v)} ` +
        `is ${typeof v === 'string' ? 'a string' : Array.isArray(v) ? 'an array' : typeof v === 'boolean' ? 'a boolean' : 'not a number'}` +
        '; send a number',
    );
  if (!Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX)
    fail(row, col, `${at}${show(v)} is not a finite 32-bit number; send a number within ±3.4e38`);
  return v;
}

/** Values an encoding step (or the declared schema) knows for a column, as their text keys. */
function vocabularies(t: Transform): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of t.input) if (c.values?.length) out.set(c.name, c.values.map(String));
  for (const f of t.steps) {
    if (f.type === 'oneHot' || f.type === 'labelEncode') for (const [name, cats] of Object.entries(f.columns)) out.set(name, cats);
  }
  return out;
}

function imputed(t: Transform, name: string): boolean {
  return t.steps.some((f) => f.type === 'impute' && name in f.fills);
}

/** Flatten a tensor value sent nested (exactly the column's shape) or flat (all its values). */
function flatten(v: unknown, shape: number[], row: number, col: string): unknown[] {
  const width = shape.reduce((a, b) => a * b, 1);
  const want = `an array of shape [${shape.join(', ')}] (or ${width} numbers flat)`;
  if (!Array.isArray(v)) fail(row, col, `${show(v)} is not an array; send ${want}`);
  if (v.length === width && v.every((x) => !Array.isArray(x))) return v;
  const out: unknown[] = [];
  const walk = (x: unknown, depth: number, path: number[]) => {
    if (depth === shape.length) {
      out.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      const where = path.length ? ` at [${path.join('][')}]` : '';
      const got = Array.isArray(x) ? `${x.length} entries` : show(x);
      fail(row, col, `needs ${want}; got ${got}${where} where ${shape[depth]} entries belong`);
    }
    x.forEach((y, i) => walk(y, depth + 1, [...path, i]));
  };
  walk(v, 0, []);
  return out;
}

function checkTensor(c: InputColumn & { shape: number[] }, v: unknown, row: number): void {
  const flat = flatten(v, c.shape, row, c.name);
  flat.forEach((x, k) => {
    const n = checkNumber(x, row, c.name, `value ${k}: `);
    if (c.range && (n < c.range[0] || n > c.range[1])) {
      fail(
        row,
        c.name,
        `value ${k}: ${n} is outside the range seen in training [${c.range[0]}, ${c.range[1]}]; scale it as the training data was`,
      );
    }
  });
}

function checkScalar(c: InputColumn, v: unknown, row: number, vocab: string[] | undefined): void {
  if (c.type === 'boolean') {
    if (typeof v !== 'boolean' && v !== 0 && v !== 1) fail(row, c.name, `${show(v)} is not a boolean; send true or false`);
  } else if (c.type === 'number' || c.type === 'integer') {
    const n = checkNumber(v, row, c.name);
    if (c.type === 'integer' && !Number.isInteger(n)) fail(row, c.name, `${n} is not an integer; send a whole number`);
  } else if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) {
    fail(row, c.name, `${show(v)} is not a ${c.type === 'category' ? 'category value' : 'string'}; send a string`);
  }
  if (vocab) {
    // the keys training made: text as is, numbers as their float32 values
    const key = typeof v === 'string' ? v : String(Math.fround(Number(v)));
    if (!vocab.includes(key)) {
      const shown =
        vocab
          .slice(0, 20)
          .map((x) => JSON.stringify(x))
          .join(', ') + (vocab.length > 20 ? `, … (${vocab.length} in all)` : '');
      fail(row, c.name, `${show(v)} is not one of the values seen in training (${shown})`);
    }
  }
}

/** Throws DataError at the first value that the transform's input schema does not allow. */
export function checkRows(t: Transform, rows: Record<string, unknown>[]): void {
  const vocab = vocabularies(t);
  const specs = t.input.filter((c) => c.name !== t.label);
  rows.forEach((r, i) => {
    for (const c of specs) {
      const v = r[c.name];
      if (v === null || v === undefined || v === '') {
        if (!c.nullable && !imputed(t, c.name))
          fail(i, c.name, `value is missing; send ${c.shape?.length ? `an array of shape [${c.shape.join(', ')}]` : `a ${c.type}`}`);
        continue;
      }
      if (c.shape?.length) checkTensor(c as InputColumn & { shape: number[] }, v, i);
      else checkScalar(c, v, i, vocab.get(c.name));
    }
  });
}

// The fast path of a streamed csv chunk (table-fast.ts) against the row path it stands in for:
// the same source read with and without it gives the same chunks, byte for byte, and a value the
// fast path cannot take still gives the row path's exact located message (or dropped row).
import { describe, expect, it } from 'vitest';
import { encodeDataset } from '../../../src/ml/data/dataset.ts';
import { Rng } from '../../../src/ml/data/rng.ts';
import type { TableSchema } from '../../../src/ml/data/sources.ts';
import { chunkTable, csvSource, type StreamRequest } from '../../../src/ml/data/table-stream.ts';

const AT = 'collect stage "data"';

/** Numbers as files write them: fixed, long, exponent, signed, padded, -0, huge, tiny; some missing. */
function numberText(rng: Rng, i: number): string {
  const x = rng.normal() * 10 ** (rng.int(12) - 4);
  switch (i % 11) {
    case 0:
      return x.toFixed(4);
    case 1:
      return String(x);
    case 2:
      return x.toExponential(rng.int(10));
    case 3:
      return `+${Math.abs(x).toFixed(2)}`;
    case 4:
      return ` ${x.toFixed(1)} `;
    case 5:
      return rng.next() < 0.5 ? '-0' : '0.000';
    case 6:
      return rng.next() < 0.3 ? '' : String(Math.round(x));
    case 7:
      return (x * 1e20).toPrecision(17);
    case 8:
      return rng.next() < 0.5 ? `.${rng.int(1000)}` : `${rng.int(1000)}.`;
    case 9:
      return rng.next() < 0.2 ? 'NA' : x.toFixed(9);
    default:
      return `1234567890123456${rng.int(10)}.5`;
  }
}

/** A csv of `rows` rows: a (numbers, some missing), n (integers), cat (k0..k4, some missing), s (text), y (0/1). */
function generated(rows: number, edit?: (i: number, f: string[]) => void): string {
  const rng = new Rng(7);
  const lines = ['a,n,cat,s,y'];
  for (let i = 0; i < rows; i++) {
    const f = [
      numberText(rng, i + rng.int(3)),
      String(rng.int(1000) - 500),
      rng.next() < 0.05 ? '' : `k${rng.int(5)}`,
      `t${i % 37}`,
      String(rng.int(2)),
    ];
    edit?.(i, f);
    lines.push(f.join(','));
  }
  return `${lines.join('\n')}\n`;
}

async function* pieces(text: string, size = 7919): AsyncGenerator<Uint8Array> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/** The chunks (encoded) and dropped counts, with or without the fast path, and how many chunks or segments it typed. */
async function read(text: string, r: Partial<StreamRequest>, fast: boolean) {
  const req: StreamRequest = { format: 'csv', onBadRows: 'fail', where: AT, file: 'g.csv', chunkRows: 1500, ...r };
  const src = csvSource(pieces(text), req);
  let typed = 0;
  const own = src.fast!;
  src.fast = fast
    ? (rows, names, specs) => {
        const t = own(rows, names, specs);
        if (t) typed++;
        return t;
      }
    : undefined;
  const chunks: { bytes?: Buffer; dropped: number }[] = [];
  for await (const c of chunkTable(src, req)) chunks.push({ bytes: c.dataset ? encodeDataset(c.dataset) : undefined, dropped: c.dropped });
  return { chunks, typed };
}

function failure(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: Error) => e.message,
  );
}

const DECLARED: TableSchema = {
  label: 'y',
  columns: [
    { name: 'a', type: 'number', nullable: true },
    { name: 'n', type: 'integer' },
    { name: 'cat', type: 'category', values: ['k0', 'k1', 'k2', 'k3', 'k4'], nullable: true },
    { name: 's', type: 'string' },
    { name: 'y', type: 'integer' },
  ],
};

describe('the fast path of a streamed csv chunk', () => {
  it('gives the row path chunks byte for byte, inferred or declared, missing values and categories included', async () => {
    const text = generated(7000);
    for (const schema of [{ label: 'y' }, DECLARED]) {
      const fast = await read(text, { schema }, true);
      const rows = await read(text, { schema }, false);
      expect(fast.chunks.length).toBe(5);
      expect(fast.chunks).toEqual(rows.chunks);
      // every chunk typed by the fast path (the first whole, later ones a segment at a time)
      expect(fast.typed, JSON.stringify(schema)).toBeGreaterThanOrEqual(5);
      expect(rows.typed).toBe(0);
    }
  });

  it('leaves a chunk with a value it cannot take to the row path: the exact located message, or the same dropped rows', async () => {
    // line 5003 is row 5002: a non-number in a number column, in the fourth chunk
    const text = generated(7000, (i, f) => {
      if (i === 5001) f[0] = '12abc';
      if (i === 6100) f[2] = 'k9';
    });
    const message =
      `${AT}: g.csv row 5002 (line 5003), column "a": "12abc" is not a number. Fix the row, or set onBadRows: drop to skip such rows. ` +
      'The column types were inferred from the first 1500 rows (a: number, n: number, cat: string, s: string, y: integer); ' +
      'declare the columns in schema.columns when later rows hold other kinds of values';
    expect(await failure(read(text, { schema: { label: 'y' } }, true))).toBe(message);
    expect(await failure(read(text, { schema: { label: 'y' } }, false))).toBe(message);
    expect(await failure(read(text, { schema: DECLARED }, true))).toBe(
      `${AT}: g.csv row 5002 (line 5003), column "a": "12abc" is not a number. Fix the row, or set onBadRows: drop to skip such rows`,
    );
    // dropped: the bad value's row, and (declared) the category outside its values
    const fast = await read(text, { schema: DECLARED, onBadRows: 'drop' }, true);
    const rows = await read(text, { schema: DECLARED, onBadRows: 'drop' }, false);
    expect(fast.chunks.map((c) => c.dropped)).toEqual([0, 0, 0, 1, 1]);
    expect(fast.chunks).toEqual(rows.chunks);
    expect(fast.typed).toBeGreaterThan(0);
  });
});

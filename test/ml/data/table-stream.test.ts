// Streamed collect reading (table-stream.ts, table-source.ts): a source cut into chunks gathers
// back to the dataset the in-memory parser gives; types are fixed by the first chunk; errors in a
// late chunk name their true line and column; Parquet by row ranges and Arrow by record batches
// read what a whole-file read reads.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { concatDatasets } from '../../../src/ml/data/chunked.ts';
import { encodeDataset, type Dataset } from '../../../src/ml/data/dataset.ts';
import type { TableSchema } from '../../../src/ml/data/sources.ts';
import { parseTableHere } from '../../../src/ml/data/table-parse.ts';
import { streamTable } from '../../../src/ml/data/table-source.ts';
import type { StreamRequest } from '../../../src/ml/data/table-stream.ts';
import { tempDir } from '../../support/data.ts';

const AT = 'collect stage "data"';

/** 10,500 rows: x float, n integer, m missing only on some late rows, cat text, label category. */
function bigCsv(rows = 10_500, edit?: (i: number, fields: string[]) => void): string {
  const lines = ['x,n,m,cat,label'];
  for (let i = 0; i < rows; i++) {
    const f = [String(Math.sin(i) * 100), String(i % 97), i % 2500 === 1999 ? '' : String(i / 8), `c${i % 13}`, i % 3 ? 'yes' : 'no'];
    edit?.(i, f);
    lines.push(f.join(','));
  }
  return `${lines.join('\n')}\n`;
}

async function chunksOf(path: string, dir: string, r: Partial<StreamRequest> & Pick<StreamRequest, 'format'>) {
  const req: StreamRequest = { onBadRows: 'fail', where: AT, file: path, chunkRows: 1000, ...r };
  const out: Dataset[] = [];
  let dropped = 0;
  for await (const c of streamTable({ path }, dir, req)) {
    dropped += c.dropped;
    if (c.dataset) out.push(c.dataset);
  }
  return { chunks: out, dropped };
}

function errorOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected an error');
    },
    (e: Error) => e,
  );
}

/** The same dataset, statistics aside. */
function sameRows(a: Dataset, b: Dataset) {
  expect(encodeDataset({ ...a, stats: undefined })).toEqual(encodeDataset({ ...b, stats: undefined }));
}

describe('streamed csv and ndjson', () => {
  it('cuts a 10,500-row csv into chunks of 1000 that gather to the in-memory dataset', async () => {
    const dir = tempDir();
    const text = bigCsv();
    writeFileSync(join(dir, 'big.csv'), text);
    const { chunks, dropped } = await chunksOf('big.csv', dir, { format: 'csv', schema: { label: 'label' } });
    expect(chunks.map((c) => c.rows)).toEqual([...Array(10).fill(1000), 500]);
    expect(dropped).toBe(0);
    const whole = await parseTableHere(Buffer.from(text), {
      format: 'csv',
      schema: { label: 'label' },
      onBadRows: 'fail',
      where: AT,
      file: 'big.csv',
    });
    expect(whole.columns.find((c) => c.name === 'm')!.nullable, 'm misses values on lines 2001, 4501, …').toBe(true);
    expect(chunks[0]!.columns.find((c) => c.name === 'm')!.nullable, 'but not in the first chunk').toBe(false);
    sameRows(concatDatasets(chunks, { label: 'label' }), whole);
    expect(Array.from(chunks[7]!.origin!.at.slice(0, 2)), 'rows keep their source lines').toEqual([7002, 7003]);
  });

  it('gives a small source the in-memory dataset, byte for byte', async () => {
    const dir = tempDir();
    const text = bigCsv(900);
    writeFileSync(join(dir, 's.csv'), text);
    const { chunks } = await chunksOf('s.csv', dir, { format: 'csv' });
    expect(chunks).toHaveLength(1);
    const whole = await parseTableHere(Buffer.from(text), { format: 'csv', onBadRows: 'fail', where: AT, file: 's.csv' });
    sameRows(chunks[0]!, whole);
  });

  it('names the true line and column of a bad value in a late chunk, or drops it', async () => {
    const dir = tempDir();
    const schema: TableSchema = {
      label: 'label',
      columns: [
        { name: 'x', type: 'number' },
        { name: 'n', type: 'integer' },
        { name: 'm', type: 'number', nullable: true },
        { name: 'cat', type: 'string' },
        { name: 'label', type: 'category', values: ['yes', 'no'] },
      ],
    };
    writeFileSync(
      join(dir, 'bad.csv'),
      bigCsv(10_500, (i, f) => {
        if (i === 8765) f[0] = 'oops';
        if (i === 9001) f[4] = 'maybe';
      }),
    );
    const e = await errorOf(chunksOf('bad.csv', dir, { format: 'csv', schema }));
    expect(e.message).toMatch(/bad\.csv row 8766 \(line 8767\), column "x": "oops" is not a number\. Fix the row, or set onBadRows: drop/);
    const { chunks, dropped } = await chunksOf('bad.csv', dir, { format: 'csv', schema, onBadRows: 'drop' });
    expect(dropped).toBe(2);
    expect(chunks.reduce((a, c) => a + c.rows, 0)).toBe(10_498);
  });

  it('fixes inferred types by the first chunk: a later contradiction names its line and column', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 't.csv'),
      bigCsv(10_500, (i, f) => {
        if (i === 5000) f[1] = 'n/a?';
      }),
    );
    const e = await errorOf(chunksOf('t.csv', dir, { format: 'csv' }));
    expect(e.message).toMatch(/t\.csv row 5001 \(line 5002\), column "n": "n\/a\?" is not a number/);
    expect(e.message).toMatch(/inferred from the first 1000 rows \(x: number, n: number.*declare the columns in schema\.columns/);
    // a width error in a late chunk is located as the whole-file parser locates it
    writeFileSync(
      join(dir, 'w.csv'),
      bigCsv(3000, (i, f) => {
        if (i === 2500) f.push('extra');
      }),
    );
    const w = await errorOf(chunksOf('w.csv', dir, { format: 'csv' }));
    expect(w.message).toMatch(/w\.csv row 2501 \(line 2502\): has 6 fields, the header has 5/);
  });

  it('streams ndjson in chunks; a key the first chunk lacks is an error naming its line', async () => {
    const dir = tempDir();
    const lines = Array.from({ length: 2500 }, (_, i) => JSON.stringify({ a: i, b: i % 7 === 0 ? null : `t${i % 5}` }));
    writeFileSync(join(dir, 'd.ndjson'), `${lines.join('\n')}\n`);
    const { chunks } = await chunksOf('d.ndjson', dir, { format: 'ndjson' });
    expect(chunks.map((c) => c.rows)).toEqual([1000, 1000, 500]);
    const whole = await parseTableHere(Buffer.from(`${lines.join('\n')}\n`), {
      format: 'ndjson',
      onBadRows: 'fail',
      where: AT,
      file: 'd.ndjson',
    });
    sameRows(concatDatasets(chunks, {}), whole);
    lines[2100] = JSON.stringify({ a: 1, b: 'x', c: 3 });
    writeFileSync(join(dir, 'e.ndjson'), lines.join('\n'));
    const e = await errorOf(chunksOf('e.ndjson', dir, { format: 'ndjson' }));
    expect(e.message).toMatch(/e\.ndjson line 2101, column "c": the first 1000 rows have no such column/);
  });
});

describe('streamed Parquet and Arrow', () => {
  it('reads row ranges and record batches into what a whole-file read gives', async () => {
    const dir = tempDir();
    execFileSync(
      'python3',
      [
        '-c',
        `
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.ipc as ipc
n = 5300
t = pa.table({
  'x': pa.array([float(i) * 0.5 if i % 11 else None for i in range(n)], pa.float64()),
  'k': pa.array(list(range(n)), pa.int64()),
  's': pa.array(['v%d' % (i % 9) for i in range(n)]),
  'flag': pa.array([i % 2 == 0 for i in range(n)]),
})
pq.write_table(t, 'd.parquet', row_group_size=700)
with ipc.new_file('d.arrow', t.schema) as w:
  for b in t.to_batches(max_chunksize=450): w.write_batch(b)
with ipc.new_stream('d.arrows', t.schema) as w:
  for b in t.to_batches(max_chunksize=450): w.write_batch(b)
`,
      ],
      { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const { readFileSync } = await import('node:fs');
    for (const [file, format] of [
      ['d.parquet', 'parquet'],
      ['d.arrow', 'arrow'],
      ['d.arrows', 'arrow'],
    ] as const) {
      const { chunks } = await chunksOf(file, dir, { format });
      expect(
        chunks.map((c) => c.rows),
        file,
      ).toEqual([1000, 1000, 1000, 1000, 1000, 300]);
      const whole = await parseTableHere(readFileSync(join(dir, file)), { format, onBadRows: 'fail', where: AT, file });
      sameRows(concatDatasets(chunks, {}), whole);
      expect(Array.from(chunks[5]!.origin!.at.slice(0, 1)), `${file}: rows numbered across chunks`).toEqual([5001]);
    }
  });
});

// Big collected tables are parsed in a worker thread (src/ml/data/table-parse.ts): the same dataset
// and statistics, the same located errors, and a cancellation stops the thread.
import { readFileSync } from 'node:fs';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, type TableSchema } from '../../../src/ml/data/sources.ts';
import { parseTable, parseTableHere, type TableRequest } from '../../../src/ml/data/table-parse.ts';
import { irisSchema } from '../../support/pipelines.ts';

const IRIS = readFileSync(resolve('pipelines/data/iris.csv'));
const req = (r: Partial<TableRequest>): TableRequest => ({
  format: 'csv',
  onBadRows: 'fail',
  where: 'collect stage "data"',
  file: 'd',
  ...r,
});
const inThread = { inlineMaxBytes: 0 };
const iris = irisSchema as TableSchema;

describe('parsing tables off the event loop', () => {
  it('gives the same dataset and statistics in a thread as inline (csv, json, ndjson)', async () => {
    const csv = req({ schema: iris });
    expect(await parseTable(IRIS, csv, inThread)).toEqual(await parseTableHere(IRIS, csv));
    const rows = [
      { a: 1, s: 'x' },
      { a: 2.5, s: 'y' },
      { a: null, s: 'x' },
    ];
    const json = Buffer.from(JSON.stringify(rows));
    expect(await parseTable(json, req({ format: 'json' }), inThread)).toEqual(await parseTableHere(json, req({ format: 'json' })));
    const nd = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n'));
    const fromThread = await parseTable(nd, req({ format: 'ndjson' }), inThread);
    expect(fromThread).toEqual(await parseTableHere(nd, req({ format: 'ndjson' })));
    expect(fromThread.columns[0]!).toMatchObject({ name: 'a', data: new Float32Array([1, 2.5, NaN]) });
    expect(fromThread.stats!.columns.a).toMatchObject({ count: 2, missing: 1 });
  });

  it('reads Parquet and Arrow in a thread as inline', async () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => i / 8);
    const s = Array.from({ length: 1000 }, (_, i) => `k${i % 5}`);
    const pq = Buffer.from(
      parquetWriteBuffer({
        columnData: [
          { name: 'x', data: x, type: 'DOUBLE' },
          { name: 's', data: s, type: 'STRING' },
        ],
      }),
    );
    const arrow = Buffer.from(tableToIPC(tableFromArrays({ x, s }), 'file'));
    for (const [format, buf] of [
      ['parquet', pq],
      ['arrow', arrow],
    ] as const) {
      const fromThread = await parseTable(buf, req({ format }), inThread);
      expect(fromThread, format).toEqual(await parseTableHere(buf, req({ format })));
      expect(fromThread.rows).toBe(1000);
      expect(fromThread.columns.map((c) => c.type)).toEqual(['number', 'string']);
    }
  });

  it('reports bad data from the thread as the same located DataError', async () => {
    const bad = Buffer.from('a,b\n1,2\n3,oops\n');
    const r = req({
      schema: {
        columns: [
          { name: 'a', type: 'number' },
          { name: 'b', type: 'number' },
        ],
      },
    });
    const err = await parseTable(bad, r, inThread).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(
      'collect stage "data": d row 2 (line 3), column "b": "oops" is not a number. Fix the row, or set onBadRows: drop to skip such rows',
    );
  });

  it('stops the thread when the stage is cancelled', async () => {
    const ac = new AbortController();
    const p = parseTable(IRIS, req({ schema: iris }), { ...inThread, signal: ac.signal });
    ac.abort(new Error('stage cancelled'));
    await expect(p).rejects.toThrow('stage cancelled');
  });
});

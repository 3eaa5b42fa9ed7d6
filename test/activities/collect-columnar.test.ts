// Parquet and Arrow IPC sources, with files written by pyarrow (what pandas' to_parquet and
// to_feather use): the same rows must give the same dataset as the csv they came from, column
// types follow the file, nulls are missing values, and bad data is named by row and column.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { column, decodeDataset, isNumeric, type Dataset } from '../../src/ml/data/dataset.ts';
import { collectInput, tempDir, testEnv } from '../support/data.ts';
import { irisSchema } from '../support/pipelines.ts';

async function run(config: Record<string, unknown>, baseDir?: string) {
  const env = testEnv();
  const out = await collectCore(collectInput(config, baseDir), env);
  return { out, ds: decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef)) };
}

/** Runs Python (pyarrow) in `dir`. */
function py(dir: string, code: string): void {
  execFileSync('python3', ['-c', code], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
}

const WRITE_BOTH = `
import pyarrow.parquet as pq, pyarrow.feather as fe, pyarrow.ipc as ipc
def write(t, name):
    pq.write_table(t, name + '.parquet')
    fe.write_feather(t, name + '.lz4.arrow')  # Arrow IPC file (Feather v2), lz4 by default
    fe.write_feather(t, name + '.zstd.arrow', compression='zstd')
    pq.write_table(t, name + '.zstd.parquet', compression='zstd')
    pq.write_table(t, name + '.lz4.parquet', compression='lz4')
    pq.write_table(t, name + '.gzip.parquet', compression='gzip')
    fe.write_feather(t, name + '.arrow', compression='uncompressed')
    with ipc.new_stream(name + '.arrows', t.schema) as w: w.write_table(t)
`;

/** Values of a column as plain numbers or strings, for comparing datasets. */
function values(ds: Dataset, name: string): unknown[] {
  const c = column(ds, name);
  return isNumeric(c) ? Array.from(c.data) : c.values;
}

/** A dataset without its row origins (which name each source's own file and lines). */
const content = (ds: Dataset) => ({ ...ds, origin: undefined });

describe('collect: parquet and arrow', () => {
  it('reads Iris from Parquet and Arrow (file and stream) into the same dataset and statistics as from csv', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir();
    copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
    py(
      dir,
      `${WRITE_BOTH}
import pyarrow.csv as csv
t = csv.read_csv('iris.csv')
t = t.set_column(4, 'species', t.column('species').dictionary_encode())  # pandas' category dtype
write(t, 'iris')`,
    );
    const fromCsv = await run({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir);
    for (const [type, path] of [
      ['parquet', 'iris.parquet'],
      ['arrow', 'iris.arrow'],
      ['arrow', 'iris.arrows'],
      // compressed as pandas and Spark write them: Feather's default LZ4 frames, zstd, Parquet codecs
      ['arrow', 'iris.lz4.arrow'],
      ['arrow', 'iris.zstd.arrow'],
      ['parquet', 'iris.zstd.parquet'],
      ['parquet', 'iris.lz4.parquet'],
      ['parquet', 'iris.gzip.parquet'],
    ] as const) {
      const r = await run({ source: { type, path }, schema: irisSchema }, dir);
      expect(content(r.ds), `${path} as declared`).toEqual(content(fromCsv.ds));
      // rows keep their own source places: the Parquet/Arrow row, not the csv line
      expect(r.ds.origin).toMatchObject({ file: path, unit: 'row' });
      expect(Array.from(r.ds.origin!.at.subarray(0, 2))).toEqual([1, 2]);
      expect(r.out.outputs.rows).toBe(150);
    }
    // Without a declared schema the types come from the file and match csv's inference.
    const inferredCsv = await run({ source: { type: 'csv', path: 'iris.csv' }, schema: { label: 'species' } }, dir);
    const inferredPq = await run({ source: { type: 'parquet', path: 'iris.parquet' }, schema: { label: 'species' } }, dir);
    expect(content(inferredPq.ds)).toEqual(content(inferredCsv.ds));
    expect(Array.from(inferredCsv.ds.origin!.at.subarray(0, 2)), 'csv rows are named by line (the header is line 1)').toEqual([2, 3]);
    expect(column(inferredPq.ds, 'species').type).toBe('category');
  });

  it('maps the file types: int64, float with nulls, booleans, strings, dictionaries, lists with a shape', async () => {
    const dir = tempDir();
    py(
      dir,
      `${WRITE_BOTH}
import pyarrow as pa
t = pa.table({
  'n': pa.array([1, 2, 3], pa.int64()),
  'x': pa.array([0.5, None, float('nan')], pa.float64()),
  'ok': [True, False, None],
  'code': ['007', '8', None],
  'kind': pa.array(['u', 'v', 'u']).dictionary_encode(),
  'px': [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]],
  'flat': pa.array([[1, 2, 3, 4]] * 3, pa.list_(pa.float32())),
})
write(t, 't')`,
    );
    const schema = {
      columns: [
        { name: 'n', type: 'integer' },
        { name: 'x', type: 'number', nullable: true },
        { name: 'ok', type: 'boolean', nullable: true },
        { name: 'code', type: 'string', nullable: true },
        { name: 'kind', type: 'category', values: ['u', 'v'] },
        { name: 'px', type: 'number', shape: [2, 2] },
        { name: 'flat', type: 'number', shape: [2, 2] },
      ],
    };
    for (const path of ['t.parquet', 't.arrow', 't.arrows']) {
      const { ds } = await run({ source: { type: path.endsWith('.parquet') ? 'parquet' : 'arrow', path }, schema }, dir);
      expect(values(ds, 'n'), path).toEqual([1, 2, 3]);
      expect(values(ds, 'x'), 'null and NaN are both missing').toEqual([0.5, NaN, NaN]);
      expect(values(ds, 'ok')).toEqual([1, 0, NaN]);
      expect(values(ds, 'code'), 'text stays text, leading zeros kept').toEqual(['007', '8', null]);
      expect(values(ds, 'kind')).toEqual(['u', 'v', 'u']);
      expect(values(ds, 'px')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(values(ds, 'flat'), 'a flat list fills the shape row-major').toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
      expect(ds.stats!.columns.x).toMatchObject({ count: 1, missing: 2 });
    }
    // Inferred: the file's own types (a string column of digits stays text), lists as tensors.
    const { ds } = await run({ source: { type: 'parquet', path: 't.parquet' } }, dir);
    expect(ds.columns.map((c) => [c.name, c.type, isNumeric(c) ? c.shape : undefined])).toEqual([
      ['n', 'number', []],
      ['x', 'number', []],
      ['ok', 'boolean', []],
      ['code', 'string', undefined],
      ['kind', 'string', undefined],
      ['px', 'number', [2, 2]],
      ['flat', 'number', [4]],
    ]);
  });

  it('names the row and column of bad data, and drops such rows on request', async () => {
    const dir = tempDir();
    py(
      dir,
      `${WRITE_BOTH}
import pyarrow as pa
t = pa.table({'a': [1.0, 2.0, None, 4.0], 'b': ['1', '2', '3', 'four'], 'v': [[1, 2], [3, 4], [5, 6], [7]]})
write(t, 'bad')`,
    );
    const schema = (over: Record<string, unknown>) => ({
      columns: [
        { name: 'a', type: 'number' },
        { name: 'b', type: 'number' },
        { name: 'v', type: 'integer', shape: [2] },
      ].map((c) => ({ ...c, ...(over[c.name] as object) })),
    });
    for (const [type, path] of [
      ['parquet', 'bad.parquet'],
      ['arrow', 'bad.arrow'],
    ] as const) {
      await expect(run({ source: { type, path }, schema: schema({}) }, dir)).rejects.toMatchObject({
        type: 'InvalidInput',
        message:
          `collect stage "collect": ${path} row 3, column "a": is missing and the column is not nullable. Fix ` +
          'the row, or set onBadRows: drop to skip such rows',
      });
      await expect(run({ source: { type, path }, schema: schema({ a: { nullable: true } }) }, dir)).rejects.toThrow(
        `${path} row 4, column "b": "four" is not a number.`,
      );
      await expect(run({ source: { type, path }, schema: schema({ a: { nullable: true }, b: { type: 'string' } }) }, dir)).rejects.toThrow(
        `${path} row 4, column "v": has 1 items; the shape [2] needs 2 there`,
      );
      const dropped = await run({ source: { type, path }, schema: schema({}), onBadRows: 'drop' }, dir);
      expect(dropped.out.outputs).toMatchObject({ rows: 2, droppedRows: 2 });
    }
  });

  it('refuses a file that is not Parquet or Arrow, naming it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.parquet'), 'a,b\n1,2\n');
    writeFileSync(join(dir, 'x.arrow'), 'a,b\n1,2\n');
    await expect(run({ source: { type: 'parquet', path: 'x.parquet' } }, dir)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/^collect stage "collect": x\.parquet is not a Parquet file mlpipe can read: /),
    });
    await expect(run({ source: { type: 'arrow', path: 'x.arrow' } }, dir)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/^collect stage "collect": x\.arrow is not an Arrow IPC file or stream/),
    });
  });

  it('reads Parquet from an http URL, as other file sources', async () => {
    const dir = tempDir();
    copyFileSync(resolve('pipelines/data/iris.csv'), join(dir, 'iris.csv'));
    py(
      dir,
      `${WRITE_BOTH}
import pyarrow.csv as csv
write(csv.read_csv('iris.csv'), 'iris')`,
    );
    const body = readFileSync(join(dir, 'iris.parquet'));
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iris.parquet`;
      const { ds } = await run({ source: { type: 'parquet', url }, schema: irisSchema });
      const local = await run({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir);
      expect(content(ds)).toEqual(content(local.ds));
      expect(ds.origin?.file).toBe(url);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

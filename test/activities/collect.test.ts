import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import type { ArtifactRef, JsonObject } from '../../src/core/plan.ts';
import { decodeDataset, column, isNumeric } from '../../src/ml/data/dataset.ts';
import { collectInput, tempDir, testEnv } from '../support/data.ts';
import { irisSchema } from '../support/pipelines.ts';

const IRIS = resolve('pipelines/data/iris.csv');

async function run(config: Record<string, unknown>, baseDir?: string, env = testEnv()) {
  const out = await collectCore(collectInput(config, baseDir), env);
  const ds = decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef));
  return { out, ds, env };
}

describe('collect: csv', () => {
  it('loads the Iris csv with its declared schema and statistics', async () => {
    const dir = tempDir();
    copyFileSync(IRIS, join(dir, 'iris.csv'));
    const { out, ds } = await run({ source: { type: 'csv', path: 'iris.csv' }, schema: irisSchema }, dir);
    expect(out.outputs.rows).toBe(150);
    expect((out.outputs.dataset as JsonObject).kind).toBe('dataset');
    expect(ds.label).toBe('species');
    const st = ds.stats!.columns.sepal_length!;
    expect(st).toMatchObject({ kind: 'numeric', count: 150, missing: 0, min: 4.3, max: 7.9 });
    if (st.kind === 'numeric') {
      expect(st.mean).toBeCloseTo(5.8433, 3);
      expect(st.quantiles!.p50).toBeCloseTo(5.8, 5);
    }
    expect(ds.stats!.classHistogram).toEqual({ setosa: 50, versicolor: 50, virginica: 50 });
  });

  it('names the row and column of a bad value, or drops and counts bad rows', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'd.csv'), 'a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,,y\n');
    const schema = {
      label: 'label',
      columns: [
        { name: 'a', type: 'number' },
        { name: 'b', type: 'number' },
        { name: 'label', type: 'category' },
      ],
    };
    const bad = run({ source: { type: 'csv', path: 'd.csv' }, schema }, dir);
    await expect(bad).rejects.toThrow(/d\.csv row 2 \(line 3\), column "b": "oops" is not a number.*onBadRows: drop/);
    await expect(bad).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    const { out, ds } = await run({ source: { type: 'csv', path: 'd.csv' }, schema, onBadRows: 'drop' }, dir);
    expect(out.outputs.rows).toBe(2);
    expect(ds.stats!.droppedRows).toBe(2);
    expect(out.outputs.droppedRows, 'the stage outputs count the dropped rows').toBe(2);
    const b = column(ds, 'b');
    expect(isNumeric(b) && Array.from(b.data)).toEqual([2, 6]);
    // A nullable column keeps the row and counts the missing value.
    const nullable = { ...schema, columns: schema.columns.map((c) => (c.name === 'b' ? { ...c, nullable: true } : c)) };
    const r = await run({ source: { type: 'csv', path: 'd.csv' }, schema: nullable, onBadRows: 'drop' }, dir);
    expect(r.out.outputs.rows).toBe(3);
    expect(r.out.outputs.droppedRows, '"oops" is still dropped').toBe(1);
    expect(r.ds.stats!.columns.b!.missing).toBe(1);
  });

  it('refuses a source path outside the pipeline directory', async () => {
    const dir = tempDir();
    await expect(run({ source: { type: 'csv', path: '../../etc/passwd' } }, dir)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/leaves its root/),
    });
  });

  it('reads ndjson and json with a missing declared column as an error naming the line', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'd.ndjson'), '{"x":1,"y":0}\n{"x":2}\n');
    const schema = {
      label: 'y',
      columns: [
        { name: 'x', type: 'number' },
        { name: 'y', type: 'integer' },
      ],
    };
    await expect(run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema }, dir)).rejects.toThrow(/line 2, column "y": is missing/);
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify([
        { x: 1, y: 0 },
        { x: 2.5, y: 1 },
      ]),
    );
    const { ds } = await run({ source: { type: 'json', path: 'd.json' }, schema }, dir);
    expect(ds.rows).toBe(2);
  });
});

describe('collect: http source', () => {
  let server: Server;
  let base: string;
  const body = 'x,y\n1,0\n2,1\n3,0\n';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/d.csv') return res.end(body);
      if (req.url === '/big.csv') {
        // No content-length: the limit must hold while streaming.
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        let n = 0;
        const t = setInterval(() => {
          res.write('1,0\n'.repeat(1000));
          if (++n === 20) {
            clearInterval(t);
            res.end();
          }
        }, 1);
        return;
      }
      res.statusCode = 404;
      res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('streams a URL, checks its sha256 and size limit', async () => {
    const sha = createHash('sha256').update(body).digest('hex');
    const { ds } = await run({ source: { type: 'csv', url: `${base}/d.csv`, sha256: sha }, schema: { label: 'y' } });
    expect(ds.rows).toBe(3);
    await expect(run({ source: { type: 'csv', url: `${base}/d.csv`, sha256: 'f'.repeat(64) } })).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/has sha256 [0-9a-f]{64}, not the expected f{64}/),
    });
    await expect(run({ source: { type: 'csv', url: `${base}/big.csv`, maxBytes: 10_000 } })).rejects.toThrow(
      /over the limit of 10000 bytes/,
    );
    await expect(run({ source: { type: 'csv', url: `${base}/nope.csv` } })).rejects.toThrow(/HTTP 404/);
  });
});

describe('collect: built-in and synthetic sources', () => {
  it('loads the 10,000 real MNIST digits', async () => {
    const { out, ds } = await run({ source: { type: 'mnist' } });
    expect(out.outputs.rows).toBe(10_000);
    const img = column(ds, 'image');
    expect(isNumeric(img) && img.shape).toEqual([28, 28, 1]);
    expect(ds.stats!.classHistogram).toMatchObject({ '0': 1001, '1': 1127, '9': 978 });
    const st = ds.stats!.columns.image!;
    expect(st.kind === 'numeric' && [st.min, st.max]).toEqual([0, 1]);
  });

  it('generates the same synthetic data from the same seed', async () => {
    const cfg = { source: { type: 'synthetic', generator: 'blobs', samples: 300, features: 4, classes: 3, seed: 7 } };
    const a = await run(cfg);
    const b = await run(cfg);
    expect((a.out.outputs.dataset as JsonObject).digest).toBe((b.out.outputs.dataset as JsonObject).digest);
    const c = await run({ source: { ...cfg.source, seed: 8 } });
    expect((c.out.outputs.dataset as JsonObject).digest).not.toBe((a.out.outputs.dataset as JsonObject).digest);
    expect(a.ds.stats!.classHistogram).toEqual({ '0': 100, '1': 100, '2': 100 });
  });

  it('generates synthetic images: side×side×1 in [0, 1], classes in turn', async () => {
    const { out, ds } = await run({
      source: { type: 'synthetic', generator: 'images', samples: 60, classes: 3, imageSize: 12, noise: 0.1, seed: 2 },
    });
    expect(out.outputs.rows).toBe(60);
    const img = column(ds, 'image');
    expect(isNumeric(img) && img.shape).toEqual([12, 12, 1]);
    const st = ds.stats!.columns.image!;
    expect(st.kind === 'numeric' && st.min! >= 0 && st.max! <= 1 && st.max! > st.min!).toBe(true);
    expect(ds.stats!.classHistogram).toEqual({ '0': 20, '1': 20, '2': 20 });
  });
});

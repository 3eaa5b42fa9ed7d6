// The collect activity on a source larger than its chunkRows: a chunked dataset artifact (a
// manifest and its chunks) with merged statistics, expectations and dropped-row counts; a late bad
// value or a failed expectation leaves no chunk behind; a small source stores what it always did.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import { openDataset, readDataset } from '../../activities/lib/stage.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { decodeManifest } from '../../src/ml/data/chunked.ts';
import { encodeDataset } from '../../src/ml/data/dataset.ts';
import { computeStats, type NumericStats } from '../../src/ml/data/dataset-stats.ts';
import type { TableSchema } from '../../src/ml/data/sources.ts';
import { parseTableHere } from '../../src/ml/data/table-parse.ts';
import { collectInput, tempDir, testEnv } from '../support/data.ts';

const SCHEMA: TableSchema = {
  label: 'label',
  columns: [
    { name: 'x', type: 'number' },
    { name: 'n', type: 'integer' },
    { name: 'label', type: 'category', values: ['a', 'b'] },
  ],
};

function csv(rows: number, edit?: (i: number, f: string[]) => void): string {
  const lines = ['x,n,label'];
  for (let i = 0; i < rows; i++) {
    const f = [String((i * 37) % 1000), String(i), i % 4 ? 'a' : 'b'];
    edit?.(i, f);
    lines.push(f.join(','));
  }
  return `${lines.join('\n')}\n`;
}

describe('collect: a source larger than chunkRows', () => {
  it('stores a manifest of chunks whose rows, statistics and dropped counts are those of the whole', async () => {
    const dir = tempDir();
    const text = csv(12_345, (i, f) => {
      if (i === 11_000 || i === 3) f[1] = 'bad';
    });
    writeFileSync(join(dir, 'big.csv'), text);
    const env = testEnv();
    const config = { source: { type: 'csv', path: 'big.csv' }, schema: SCHEMA, onBadRows: 'drop', chunkRows: 1000 };
    const out = await collectCore(collectInput(config, dir), env);
    expect(out.outputs.rows).toBe(12_343);
    expect(out.outputs.droppedRows, 'summed over the chunks').toBe(2);
    const section = await env.store.getRunFile('test/run-1', 'report/data/collect.json');
    expect(JSON.parse(section!.toString()).data, "the report's Data section counts them too").toMatchObject({
      rows: 12_343,
      droppedRows: 2,
    });
    const ref = out.outputs.dataset as unknown as ArtifactRef;
    const manifest = decodeManifest(await env.store.get(ref));
    expect(manifest?.chunks).toHaveLength(13);
    const opened = await openDataset(env.store, ref);
    expect(opened.chunkRows.reduce((a, b) => a + b, 0)).toBe(12_343);
    const gathered = await readDataset(env.store, ref);
    const whole = await parseTableHere(Buffer.from(text), {
      format: 'csv',
      schema: SCHEMA,
      onBadRows: 'drop',
      where: 'collect stage "collect"',
      file: 'big.csv',
    });
    expect(encodeDataset({ ...gathered, stats: undefined })).toEqual(encodeDataset({ ...whole, stats: undefined }));
    const want = computeStats(whole, 2);
    expect(opened.stats!.droppedRows).toBe(2);
    expect(opened.stats!.classHistogram).toEqual(want.classHistogram);
    const x = opened.stats!.columns.x as NumericStats;
    expect(x.count).toBe((want.columns.x as NumericStats).count);
    expect(x.mean).toBeCloseTo((want.columns.x as NumericStats).mean!, 6);
  });

  it('a bad value in a late chunk fails naming its line and column, leaving no chunks stored', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'bad.csv'),
      csv(5000, (i, f) => {
        if (i === 4321) f[0] = 'x?';
      }),
    );
    const env = testEnv();
    const run = collectCore(collectInput({ source: { type: 'csv', path: 'bad.csv' }, schema: SCHEMA, chunkRows: 500 }, dir, 'wf/bad'), env);
    await expect(run).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/bad\.csv row 4322 \(line 4323\), column "x": "x\?" is not a number/),
    });
    expect(await env.store.list('wf/bad'), 'the chunks stored before the bad row are removed').toEqual([]);
  });

  it('checks expectations over every chunk, failing with the source places and storing nothing', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'e.csv'),
      csv(3000, (i, f) => {
        if (i === 2900) f[1] = '7';
      }),
    );
    const env = testEnv();
    const config = { source: { type: 'csv', path: 'e.csv' }, schema: SCHEMA, chunkRows: 1000, expect: [{ column: 'n', unique: true }] };
    await expect(collectCore(collectInput(config, dir, 'wf/exp'), env)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(
        /column "n" unique: expected no repeated value, observed 1 repeated value; 1 row, e\.g\. e\.csv line 2902, column "n"/,
      ),
    });
    expect(await env.store.list('wf/exp')).toEqual([]);
    const warn = { ...config, expect: [{ column: 'n', unique: true, severity: 'warn' }] };
    const out = await collectCore(collectInput(warn, dir, 'wf/warn'), env);
    expect(out.outputs.expectations).toMatchObject({ passed: 0, failed: 1 });
    const names = (await env.store.list('wf/warn')).map((r) => r.lineage.name ?? 'manifest');
    expect(names, 'a run that passes keeps its chunks and manifest').toEqual(['chunk 0', 'chunk 1', 'chunk 2', 'manifest']);
  });

  it('holds a streamed file to maxBytes only when set, and to its sha256 after the last chunk', async () => {
    const dir = tempDir();
    const text = csv(3000);
    writeFileSync(join(dir, 'd.csv'), text);
    const env = testEnv();
    const base = { schema: SCHEMA, chunkRows: 1000 };
    await expect(
      collectCore(collectInput({ ...base, source: { type: 'csv', path: 'd.csv', maxBytes: 1000 } }, dir, 'wf/max'), env),
    ).rejects.toMatchObject({ message: expect.stringMatching(/d\.csv is \d+ bytes, over the limit of 1000; raise source\.maxBytes/) });
    const sha = '0'.repeat(64);
    await expect(
      collectCore(collectInput({ ...base, source: { type: 'csv', path: 'd.csv', sha256: sha } }, dir, 'wf/sha'), env),
    ).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/d\.csv has sha256 [0-9a-f]{64}, not the expected 0{64}/),
    });
    expect(await env.store.list('wf/sha'), 'a mismatch found after the last chunk removes the chunks').toEqual([]);
    const { createHash } = await import('node:crypto');
    const good = createHash('sha256').update(text).digest('hex');
    const out = await collectCore(collectInput({ ...base, source: { type: 'csv', path: 'd.csv', sha256: good } }, dir, 'wf/ok'), env);
    expect(out.outputs.rows).toBe(3000);
  });

  it('stores a source of at most chunkRows rows as the in-memory path always did, byte for byte', async () => {
    const dir = tempDir();
    const text = csv(800);
    writeFileSync(join(dir, 's.csv'), text);
    const env = testEnv();
    const out = await collectCore(collectInput({ source: { type: 'csv', path: 's.csv' }, schema: SCHEMA, chunkRows: 800 }, dir), env);
    const whole = await parseTableHere(Buffer.from(text), {
      format: 'csv',
      schema: SCHEMA,
      onBadRows: 'fail',
      where: 'collect stage "collect"',
      file: 's.csv',
    });
    expect(await env.store.get(out.outputs.dataset as unknown as ArtifactRef)).toEqual(encodeDataset(whole));
  });
});

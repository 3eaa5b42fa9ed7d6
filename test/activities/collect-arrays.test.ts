// Array-valued columns in json/ndjson (an 8x8 image per row, nested or flat): a declared `shape`
// is checked per row, and a bad row is named by line/row and column without the value's dump.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCore } from '../../activities/collect.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { column, decodeDataset, featureTensor, isNumeric } from '../../src/ml/data/dataset.ts';
import { runPreprocess } from '../../src/ml/data/preprocess.ts';
import { collectInput, tempDir, testEnv } from '../support/data.ts';

async function run(config: Record<string, unknown>, baseDir: string) {
  const env = testEnv();
  const out = await collectCore(collectInput(config, baseDir), env);
  return { out, ds: decodeDataset(await env.store.get(out.outputs.dataset as unknown as ArtifactRef)) };
}

/** An 8x8 "image" whose pixel (r, c) is base + 8r + c. */
const image = (base: number) => Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => base + 8 * r + c));
const schema = {
  label: 'digit',
  columns: [
    { name: 'image', type: 'number', shape: [8, 8] },
    { name: 'digit', type: 'integer' },
  ],
};

function ndjson(dir: string, rows: unknown[]): void {
  writeFileSync(join(dir, 'd.ndjson'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

describe('collect: array-valued columns', () => {
  it('reads nested 8x8 and flat 64 arrays into one [8, 8] tensor per row, row-major', async () => {
    const dir = tempDir();
    ndjson(dir, [
      { image: image(0), digit: 1 },
      { image: image(100).flat(), digit: 2 },
    ]);
    const { ds } = await run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema }, dir);
    const img = column(ds, 'image');
    expect(isNumeric(img) && img.shape).toEqual([8, 8]);
    expect(isNumeric(img) && Array.from(img.data)).toEqual([...image(0).flat(), ...image(100).flat()]);
    // The only feature: the feature tensor keeps its shape.
    expect(featureTensor(ds).shape).toEqual([2, 8, 8]);
    // json arrays too, and without a declared schema the shape comes from the first row.
    writeFileSync(join(dir, 'd.json'), JSON.stringify([{ image: image(0), digit: 1 }]));
    const inferred = await run({ source: { type: 'json', path: 'd.json' }, schema: { label: 'digit' } }, dir);
    expect(column(inferred.ds, 'image')).toMatchObject({ type: 'number', shape: [8, 8] });
  });

  it('puts array and scalar features side by side in column order; reshape gathers the same values', async () => {
    const dir = tempDir();
    ndjson(dir, [
      { bias: -1, image: image(0), digit: 1 },
      { bias: -2, image: image(100), digit: 2 },
    ]);
    const s = { label: 'digit', columns: [{ name: 'bias', type: 'number' }, ...schema.columns] };
    const { ds } = await run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema: s }, dir);
    const t = featureTensor(ds);
    expect(t.shape).toEqual([2, 65]);
    expect(Array.from(t.data.subarray(0, 65))).toEqual([-1, ...image(0).flat()]);
    const { dataset: r, transform } = runPreprocess(ds, [{ type: 'reshape', shape: [5, 13] }], 'digit', 'prep');
    expect(transform.featureShape).toEqual([5, 13]);
    const f = column(r, 'features');
    expect(isNumeric(f) && f.shape).toEqual([5, 13]);
    expect(isNumeric(f) && Array.from(f.data.subarray(65))).toEqual([-2, ...image(100).flat()]);
  });

  it('names the line and column of a row of the wrong shape or with a bad item, never dumping the value', async () => {
    const dir = tempDir();
    const where = 'collect stage "collect": d.ndjson';
    const cases: [unknown, string][] = [
      [image(0).flat().slice(1), 'has 63 items; the shape [8, 8] needs 8 there (or 64 in one flat array)'],
      [
        image(0).map((row, r) => (r === 2 ? row.slice(1) : row)),
        'item [2] has 7 items; the shape [8, 8] needs 8 there (or 64 in one flat array)',
      ],
      [image(0).map((row, r) => (r === 1 ? row.map((v, c) => (c === 3 ? 'x' : v)) : row)), 'item [1][3]: "x" is not a number'],
      [
        image(0).map((row, r) => (r === 7 ? row.map((v, c) => (c === 0 ? null : v)) : row)),
        'item [7][0] is missing and the column is not nullable',
      ],
      [7, "7 is not an array (the column's shape is [8, 8])"],
    ];
    for (const [bad, why] of cases) {
      ndjson(dir, [
        { image: image(0), digit: 1 },
        { image: image(0), digit: 1 },
        { image: bad, digit: 2 },
      ]);
      const err = await run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema }, dir).catch((e: Error) => e);
      expect((err as Error).message).toBe(`${where} line 3, column "image": ${why}. Fix the row, or set onBadRows: drop to skip such rows`);
    }
    // An array where the schema wants one value: short, with the fix.
    ndjson(dir, [{ image: image(0), digit: 1 }]);
    const asText = { label: 'digit', columns: [{ name: 'image', type: 'string' }, schema.columns[1]] };
    await expect(run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema: asText }, dir)).rejects.toThrow(
      'line 1, column "image": an array of 8 items where one value was expected; declare the column\'s ' +
        'shape in schema.columns to read arrays',
    );
    // onBadRows: drop counts them; a nullable column takes a missing item as NaN.
    ndjson(dir, [
      { image: image(0), digit: 1 },
      { image: image(0).flat().slice(1), digit: 2 },
      { image: null, digit: 3 },
    ]);
    const dropped = await run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema, onBadRows: 'drop' }, dir);
    expect(dropped.out.outputs).toMatchObject({ rows: 1, droppedRows: 2 });
    const nullable = { ...schema, columns: [{ ...schema.columns[0], nullable: true }, schema.columns[1]] };
    const kept = await run({ source: { type: 'ndjson', path: 'd.ndjson' }, schema: nullable, onBadRows: 'drop' }, dir);
    expect(kept.out.outputs).toMatchObject({ rows: 2, droppedRows: 1 });
    const img = column(kept.ds, 'image');
    expect(isNumeric(img) && Number.isNaN(img.data[64 + 5])).toBe(true);
  });
});

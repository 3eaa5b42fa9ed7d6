// The preprocess stage over a chunked dataset artifact (a manifest naming chunk artifacts, as
// collect writes for data past its chunkRows): the output is chunked too, the transform serves.
import { describe, expect, it } from 'vitest';
import { openDataset, readDataset, writeChunks } from '../../activities/lib/stage.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { decodeManifest, inMemoryChunks } from '../../src/ml/data/chunked.ts';
import type { Dataset } from '../../src/ml/data/dataset.ts';
import { applyTransform, decodeTransform } from '../../src/ml/data/preprocess.ts';
import { chunkSplits, rowPlan } from '../../src/ml/data/preprocess-rows-stream.ts';
import { generatedTable } from '../support/generated-table.ts';
import { stageInput, testEnv } from '../support/data.ts';

const steps = [
  { type: 'split', train: 0.8, test: 0.2, seed: 11 },
  { type: 'impute', columns: ['a', 'm'], strategy: 'mean' },
  { type: 'impute', columns: ['cat'], strategy: 'mostFrequent' },
  { type: 'standardize', columns: ['a', 'b', 'm'] },
  { type: 'oneHot', columns: ['cat'] },
  { type: 'labelEncode', columns: ['y'] },
];

/** `ds` stored as chunks of `chunkRows` rows, as collect stores a large source. */
async function chunkedInput(env: ReturnType<typeof testEnv>, ds: Dataset, chunkRows: number): Promise<ArtifactRef> {
  const c = inMemoryChunks(ds, chunkRows);
  async function* all() {
    for (let i = 0; i < c.chunkRows.length; i++) yield await c.chunk(i);
  }
  return writeChunks(env.store, all(), () => ({ label: ds.label }), stageInput('collect', {}), env);
}

describe('preprocess stage over a chunked dataset', () => {
  it('writes chunked output with its splits, a transform that serves, and pass/chunk progress', async () => {
    const env = testEnv();
    const table = generatedTable(5_000);
    const ref = await chunkedInput(env, table, 1_000);
    const p = await preprocessCore(stageInput('preprocess', { steps }, { dataset: ref }), env);
    expect(p.outputs.rows).toBe(5_000);
    const outRef = p.outputs.dataset as unknown as ArtifactRef;
    expect(decodeManifest(await env.store.get(outRef))?.chunks).toHaveLength(5);
    const out = await openDataset(env.store, outRef);
    expect(out.chunkRows).toEqual([1_000, 1_000, 1_000, 1_000, 1_000]);
    expect(out.splitRows!.train! + out.splitRows!.test!).toBe(5_000);
    expect(out.columns.map((c) => c.name)).toEqual(['a', 'b', 'm', 'cat_blue', 'cat_green', 'cat_red', 'y']);
    expect(out.classes).toEqual(['no', 'yes']);
    expect(out.stats!.rows).toBe(5_000);
    expect(out.stats!.classHistogram!.yes! + out.stats!.classHistogram!.no!).toBe(5_000);
    const messages = env.beats.map((b) => (b as { progress?: { message?: string } }).progress?.message).filter(Boolean);
    expect(messages).toContain('pass 1/3 · chunk 1/5 · fit impute, impute');
    expect(messages).toContain('pass 2/3 · chunk 5/5 · fit standardize, oneHot, labelEncode');
    expect(messages).toContain('pass 3/3 · chunk 5/5 · apply');

    const transform = decodeTransform(await env.store.get(p.outputs.transform as unknown as ArtifactRef));
    const whole = await readDataset(env.store, outRef);
    const r = whole.splits!.test![3]!;
    const raw = Object.fromEntries(
      table.columns.map((c) => [c.name, 'data' in c ? (Number.isNaN(c.data[r]!) ? null : c.data[r]) : c.values[r]]),
    );
    const served = applyTransform(transform, [raw]).data;
    const stored = whole.columns.filter((c) => c.name !== 'y').map((c) => (c as { data: Float32Array }).data[r]!);
    stored.forEach((v, i) => expect(served[i]!).toBeCloseTo(v, 5));

    // The same input again: the same artifacts (the step cache may answer for the stage).
    const again = await preprocessCore(stageInput('preprocess', { steps }, { dataset: ref }), env);
    expect((again.outputs.dataset as unknown as ArtifactRef).digest).toBe(outRef.digest);
  });

  it('fails on a bad row of a late chunk with its source line, leaving no chunks behind', async () => {
    const env = testEnv();
    const table = generatedTable(5_000);
    const local = chunkSplits(rowPlan(steps as never, true, 'x'), 4, 4_000, 1_000).test![0]!;
    (table.columns[4] as { values: (string | null)[] }).values[4_000 + local] = 'maybe';
    const ref = await chunkedInput(env, table, 1_000);
    const input = stageInput('preprocess', { steps }, { dataset: ref });
    await expect(preprocessCore(input, env)).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringContaining(
        `preprocess stage "preprocess": labelEncode: gen.csv line ${4_000 + local + 2}, column "y": "maybe" is not one`,
      ),
    });
    const left = (await env.store.list(input.run.workflowId)).filter((r) => r.lineage.stage === 'preprocess');
    expect(left).toEqual([]);
    // The input's chunks (collect's) are still there and readable.
    expect((await readDataset(env.store, ref)).rows).toBe(5_000);
  });

  it('a cancelled run stops at the next chunk and leaves no chunks', async () => {
    const ctrl = new AbortController();
    const env = testEnv(undefined, {
      signal: ctrl.signal,
      heartbeat: (d) => {
        // Cancelled once three chunks of the output are out (two of them stored).
        if ((d.progress?.message as string | undefined)?.endsWith('chunk 3/5 · apply')) ctrl.abort();
      },
    });
    const ref = await chunkedInput(env, generatedTable(5_000), 1_000);
    const input = stageInput('preprocess', { steps }, { dataset: ref });
    await expect(preprocessCore(input, env)).rejects.toThrow(/preprocess stage "preprocess": cancelled at pass 3\/3 · chunk 4\/5 · apply/);
    expect((await env.store.list(input.run.workflowId)).filter((r) => r.lineage.stage === 'preprocess')).toEqual([]);
  });

  it('refuses augment on a chunked dataset, naming train.augment', async () => {
    const env = testEnv();
    const ref = await chunkedInput(env, generatedTable(3_000), 1_000);
    await expect(
      preprocessCore(stageInput('preprocess', { steps: [{ type: 'augment', flipHorizontal: true }] }, { dataset: ref }), env),
    ).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/augment: .*move the step to the train stage as `train\.augment`/),
    });
  });
});

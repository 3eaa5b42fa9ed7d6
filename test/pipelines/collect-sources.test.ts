/**
 * The new collect sources through a real worker and Temporal dev server: a Parquet file and a
 * class-per-folder PNG tree become datasets; an image folder is read again on every run (no
 * pin), so an added image shows; a corrupt image fails the run at once (InvalidInput, no
 * retries) with its path in the stage's error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { loadMnist } from '../../src/ml/data/mnist.ts';
import { writeImageFolder } from '../../src/ml/data/images.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('sources');
});
afterAll(async () => {
  await env?.close();
});

function pipeline(dir: string, name: string, source: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: mlpipe/v1
metadata: { name: ${name} }
stages:
  data:
    type: collect
    source: ${source}
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: split, train: 0.5, test: 0.5, seed: 1 }]
`,
  );
  return file;
}

describe('collect: Parquet and image folders through Temporal', () => {
  it('reads a Parquet file and an image folder; the folder again on each run', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-sources-'));
    const x = Array.from({ length: 40 }, (_, i) => i / 4);
    const y = Array.from({ length: 40 }, (_, i) => i % 2);
    writeFileSync(
      join(dir, 'd.parquet'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'x', data: x, type: 'DOUBLE' },
            { name: 'y', data: y, type: 'INT32' },
          ],
        }),
      ),
    );
    const pq = await (await env.start((await compileFile(pipeline(dir, 'pq', '{ type: parquet, path: d.parquet }'))).plan)).result();
    expect(pq.stages.data!.outputs.rows).toBe(40);

    await writeImageFolder(await loadMnist(30), join(dir, 'digits'));
    const file = pipeline(dir, 'img', '{ type: imageFolder, path: digits, size: [28, 28] }');
    const first = await (await env.start((await compileFile(file)).plan)).result();
    expect(first.stages.data!.outputs.rows).toBe(30);
    await writeImageFolder(await loadMnist(31), join(dir, 'digits')); // one more image, same config
    const second = await (await env.start((await compileFile(file)).plan)).result();
    expect(second.stages.data!.cached).toBeFalsy();
    expect(second.stages.data!.outputs.rows).toBe(31);
  });

  it('fails the run on a corrupt image at once, naming the file', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-sources-'));
    await writeImageFolder(await loadMnist(12), join(dir, 'digits'));
    writeFileSync(join(dir, 'digits', '1', 'zz-corrupt.png'), 'not a png');
    const h = await env.start((await compileFile(pipeline(dir, 'bad', '{ type: imageFolder, path: digits, size: [28, 28] }'))).plan);
    await expect(h.result()).rejects.toThrow();
    const view = await describeRun(env.client, h.workflowId);
    const data = view.run!.stages.data!;
    expect(data.status).toBe('failed');
    expect(data.error).toMatch(/digits\/1\/zz-corrupt\.png is not a readable PNG or JPEG/);
    // one attempt, failed as InvalidInput (not retried)
    const history = await env.client.workflow.getHandle(h.workflowId).fetchHistory();
    const failures = (history.events ?? []).flatMap((e) =>
      e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : [],
    );
    expect(failures.map((f) => f.failure?.applicationFailureInfo?.type)).toEqual(['InvalidInput']);
  });
});

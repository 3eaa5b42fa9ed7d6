/**
 * Issue 10 item 8: a corrupt cached artifact must never be handed on. On the real dev server, a
 * pipeline runs twice; between the runs the preprocess stage's dataset blob is damaged in place
 * (same size, different bytes). The second run does not take the cache hit: it runs the stage
 * again, which writes the blob afresh, and downstream stages read good data.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('cache-integrity');
  process.env.MLPIPE_HOME = env.home; // the in-process worker's artifact store
});
afterAll(async () => {
  await env?.close();
});

const SPEC = `apiVersion: mlpipe/v1
metadata: { name: cache-integrity }
stages:
  data:
    type: collect
    source: { type: synthetic, generator: blobs, samples: 200, features: 3, classes: 2, seed: 4 }
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: standardize }, { type: split, train: 0.8, test: 0.2, seed: 1 }]
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2, activation: softmax }] }
    optimizer: { type: adam, learningRate: 0.05 }
    loss: sparseCategoricalCrossentropy
    epochs: 2
    seed: 1
`;

const sha = (path: string) => `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;

describe('step cache and corrupt artifacts', () => {
  it('a cached artifact damaged between runs is detected at the hit: the stage runs again and its blob is good', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-cache-integrity-'));
    writeFileSync(join(dir, 'p.yaml'), SPEC);
    const { plan } = await compileFile(join(dir, 'p.yaml'));
    const first = await (await env.start(plan)).result();
    const ref = first.stages.prep!.outputs.dataset as unknown as ArtifactRef;
    const blob = fileURLToPath(ref.uri);

    const same = await (await env.start(plan)).result();
    expect(same.stages.prep!.cached).toBe(true); // the hit, while the blob is intact

    const bytes = readFileSync(blob);
    const at = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at); // one flipped byte, same size
    writeFileSync(blob, bytes);
    expect(sha(blob)).not.toBe(ref.digest);

    const again = await (await env.start(plan)).result();
    expect(again.stages.data!.cached).toBe(true); // its blob is intact: still a hit
    expect(again.stages.prep!.cached).toBeFalsy(); // ran again instead of handing the damage on
    expect((again.stages.prep!.outputs.dataset as unknown as ArtifactRef).digest).toBe(ref.digest);
    expect(sha(blob)).toBe(ref.digest); // rewritten whole
    expect(again.stages.train!.cached).toBe(true); // same input digest downstream: a hit again
  });
});

/**
 * The step cache must never serve stale data: a collect stage reads a file or a URL whose
 * content can change under the same config, so it runs every time unless its content is pinned
 * (`sha256`) or the stage opts in explicitly. Unchanged data still gives the same
 * content-addressed artifact, so everything downstream is served from the cache.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef } from '../../src/core/plan.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('fresh');
});
afterAll(async () => {
  await env?.close();
});

const csv = (rows: number) => ['x,y', ...Array.from({ length: rows }, (_, i) => `${i},${i % 2}`)].join('\n') + '\n';

function pipeline(dir: string, source: string, collectCache = ''): string {
  const file = join(dir, 'p.yaml');
  writeFileSync(
    file,
    `apiVersion: mlpipe/v1
metadata: { name: fresh }
stages:
  data:
    type: collect
    source: ${source}
${collectCache}
  prep:
    type: preprocess
    needs: [data]
    steps: [{ type: standardize, columns: [x] }]
`,
  );
  return file;
}

async function run(file: string) {
  const { plan } = await compileFile(file);
  const r = await (await env.start(plan)).result();
  return { data: r.stages.data!, prep: r.stages.prep!, digest: (r.stages.data!.outputs.dataset as unknown as ArtifactRef).digest };
}

describe('collect stages and the step cache', () => {
  it('a changed file is read again; unchanged data reuses everything downstream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-fresh-'));
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'a.csv'), csv(20));
    const file = pipeline(dir, '{ type: csv, path: data/a.csv }');
    const plan = (await compileFile(file)).plan;
    expect(plan.nodes.find((n) => n.id === 'data')!.cache.enabled).toBe(false);
    expect(plan.nodes.find((n) => n.id === 'prep')!.cache.enabled).toBe(true);

    const first = await run(file);
    const same = await run(file);
    expect(same.data.cached).toBeFalsy(); // read again...
    expect(same.digest).toBe(first.digest); // ...to the same content
    expect(same.prep.cached).toBe(true); // so downstream is a cache hit

    writeFileSync(join(dir, 'data', 'a.csv'), csv(30)); // new data under the same path
    const changed = await run(file);
    expect(changed.data.cached).toBeFalsy();
    expect(changed.digest).not.toBe(first.digest);
    expect(changed.data.outputs.rows).toBe(30);
    expect(changed.prep.cached).toBeFalsy();
  });

  it('a source pinned by sha256, or a stage that opts in, is cached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-fresh-'));
    mkdirSync(join(dir, 'data'));
    const body = csv(12);
    writeFileSync(join(dir, 'data', 'a.csv'), body);
    const sha = createHash('sha256').update(body).digest('hex');
    const pinned = pipeline(dir, `{ type: csv, path: data/a.csv, sha256: ${sha} }`);
    expect((await compileFile(pinned)).plan.nodes.find((n) => n.id === 'data')!.cache.enabled).toBe(true);
    await run(pinned);
    expect((await run(pinned)).data.cached).toBe(true);

    const optIn = pipeline(dir, '{ type: csv, path: data/a.csv }', '    cache: { enabled: true, ttl: 1h }');
    expect((await compileFile(optIn)).plan.nodes.find((n) => n.id === 'data')!.cache).toEqual({ enabled: true, ttlMs: 3_600_000 });
  });
});

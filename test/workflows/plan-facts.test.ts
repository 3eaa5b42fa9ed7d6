/**
 * The compiler's facts beside a stage's config (`location` of a collect stage, `tunedConfig` of
 * an optimize stage) reach the activity through the workflow: the tuned config resolved like the
 * config (stage outputs by the workflow, secrets by the worker), and both part of the step cache
 * key, as they were when they travelled inside the config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, Plan, PlanNode, StageActivityInput } from '../../src/core/plan.ts';
import { makePlan, node } from '../support/plans.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

/** What the stand-in activities saw, returned as their outputs (the run's result shows it). */
const echo = async (i: StageActivityInput) => ({
  outputs: { config: i.config, location: (i.location ?? null) as unknown as JsonObject, tuned: i.tunedConfig ?? null },
});

let env: TestEnv;
beforeAll(async () => {
  process.env.MLPIPE_SECRET_PLAN_FACTS = 's3cr3t-value';
  env = await testEnv('facts', { kinds: { collect: echo, optimize: echo } });
});
afterAll(async () => {
  delete process.env.MLPIPE_SECRET_PLAN_FACTS;
  await env?.close();
});

function plan(baseDir: string, epochs: number): Plan {
  const p = makePlan('facts', { size: { fn: 'produce', input: { value: 'x', size: epochs } } });
  const cached = (n: PlanNode): PlanNode => ({ ...n, cache: { enabled: true } });
  const data: PlanNode = {
    ...cached(node('data', { fn: 'unused' })),
    kind: 'collect',
    config: { source: { type: 'csv', path: 'a.csv' } },
    location: { baseDir, repoDir: 'p' },
  };
  const tune: PlanNode = {
    ...cached(node('tune', { fn: 'unused', needs: ['size'] })),
    kind: 'optimize',
    config: { tunes: 'train' },
    tunedConfig: { epochs: '${stages.size.outputs.size}', token: '${secrets.PLAN_FACTS}' },
  };
  return { ...p, nodes: [data, ...p.nodes, tune], levels: [['data', 'size'], ['tune']] };
}

describe('location and tunedConfig through the workflow', () => {
  it('reach the activity resolved, and key the step cache', async () => {
    const r1 = await (await env.start(plan('/a/p', 3))).result();
    expect(r1.stages.data!.outputs).toEqual({
      config: { source: { type: 'csv', path: 'a.csv' } },
      location: { baseDir: '/a/p', repoDir: 'p' },
      tuned: null,
    });
    // the secret was resolved on the worker (and is redacted from the outputs it came back in)
    expect(r1.stages.tune!.outputs).toEqual({ config: { tunes: 'train' }, location: null, tuned: { epochs: 3, token: '[redacted]' } });
    const r2 = await (await env.start(plan('/a/p', 3))).result();
    expect([r2.stages.data!.cached, r2.stages.tune!.cached]).toEqual([true, true]);
    // another spec directory, another tuned config: both miss
    const r3 = await (await env.start(plan('/b/p', 4))).result();
    expect(r3.stages.data!.cached).toBeFalsy();
    expect(r3.stages.tune!.cached).toBeFalsy();
  });
});

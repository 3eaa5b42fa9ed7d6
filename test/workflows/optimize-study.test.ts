/**
 * Issue 14, trials as durable units, on the real dev server with the real train activity: an
 * optimize stage runs as the optimizeStudy child workflow, each trial its own `stage.train`
 * activity (`tune.trial-<n>`); the same seed gives the same trials and the same best; ASHA trains
 * trials rung by rung, prunes with a reason and continues promoted ones from their checkpoints.
 * Trial legs go through the step cache: a rerun --from tune, a longer search or a second run
 * after a cancelled one runs only the trials not stored before, to an unbroken search's result.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/temporal/bundle.ts';
import { defaultStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { fetchRunReport } from '../../src/ml/report/report.ts';
import type { ArtifactRef, Plan, StudyTrial } from '../../src/core/plan.ts';
import { waitFor } from '../support/processes.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

let env: TestEnv;
beforeAll(async () => {
  env = await testEnv('optimize-study', { gpus: 1 }); // also serves <queue>-gpu, one trial at a time
});
afterAll(async () => {
  await env?.close();
});

function spec(search: string, trainExtra = ''): string {
  return `apiVersion: mlpipe/v1
metadata: { name: optimize-study }
stages:
  data: { type: collect, source: { type: synthetic, generator: blobs, samples: 300, features: 4, classes: 3, noise: 4, seed: 1 } }
  prep: { type: preprocess, needs: [data], steps: [{ type: split, train: 0.7, validation: 0.3, seed: 1 }, { type: standardize }] }
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 8, activation: relu }, { type: dense, units: 3, activation: softmax }] }
    optimizer: { type: adam, learningRate: 0.01 }
    loss: sparseCategoricalCrossentropy
    metrics: [accuracy]
    epochs: 4
    batchSize: 32
    seed: 2
${trainExtra}  tune:
    type: optimize
    needs: [prep]
    tunes: train
    space:
      optimizer.learningRate: { type: logUniform, min: 0.001, max: 0.1 }
      model.layers[0].units: { type: int, min: 4, max: 16, step: 4 }
      optimizer.type: { type: choice, values: [adam, { value: sgd, space: { optimizer.momentum: { type: uniform, min: 0, max: 0.9 } } }] }
    objective: { metric: val_loss, direction: minimize }
${search}`;
}

async function compiled(search: string, trainExtra = ''): Promise<Plan> {
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-optimize-study-'));
  writeFileSync(join(dir, 'p.yaml'), spec(search, trainExtra));
  return (await compileFile(join(dir, 'p.yaml'))).plan;
}

/** The trial activities the child workflow scheduled: [activity id, summary]. */
async function trialActivities(workflowId: string): Promise<{ id: string; type: string; summary: string; queue: string }[]> {
  const history = await env.client.workflow.getHandle(`${workflowId}.tune`).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => {
      const a = e.activityTaskScheduledEventAttributes!;
      const data = e.userMetadata?.summary?.data;
      return {
        id: a.activityId!,
        type: a.activityType!.name!,
        summary: data ? JSON.parse(Buffer.from(data).toString()) : '',
        queue: a.taskQueue!.name!,
      };
    });
}

/** Replays the run's and its search's histories against the current workflow code: the errors. */
async function replayErrors(workflowIds: string[]): Promise<string[]> {
  const histories = await Promise.all(
    workflowIds.map(async (workflowId) => ({ workflowId, history: await env.client.workflow.getHandle(workflowId).fetchHistory() })),
  );
  const errors: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    if (r.error) errors.push(`${r.workflowId}: ${r.error.message}`);
  }
  return errors;
}

async function table(ref: unknown): Promise<StudyTrial[]> {
  // in-process workers write where this process's MLPIPE_HOME says
  return (JSON.parse((await defaultStore().get(ref as ArtifactRef)).toString()) as { trials: StudyTrial[] }).trials;
}

describe('optimize: every trial its own activity', () => {
  it('random: trials as train activities, parallelism 2; the same seed gives the same trials and best', async () => {
    const plan = await compiled('    method: random\n    trials: 4\n    parallelism: 2\n    seed: 3\n');
    const h1 = await env.start(plan, { noCache: true });
    const r1 = await h1.result();
    expect(r1.stages.tune!.status).toBe('succeeded');
    const acts = await trialActivities(h1.workflowId);
    expect(acts.map((a) => a.id).sort()).toEqual(['tune', 'tune.trial-0', 'tune.trial-1', 'tune.trial-2', 'tune.trial-3']);
    expect(acts.filter((a) => a.type === 'stage.train')).toHaveLength(4);
    expect(acts.find((a) => a.id === 'tune')!.type).toBe('stage.optimize');
    expect(acts.find((a) => a.id === 'tune.trial-2')!.summary).toMatch(
      /^trial 2 \(train\): model\.layers\[0\]\.units=\d+, optimizer\.learningRate=0\.\d+/,
    );

    const out = r1.stages.tune!.outputs;
    const rows = await table(out.trials);
    expect(rows.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'complete']);
    // a conditional dimension: momentum exactly in the trials that chose sgd
    for (const t of rows) expect('optimizer.momentum' in t.params).toBe(t.params['optimizer.type'] === 'sgd');
    const values = rows.map((t) => t.value!);
    expect(out.bestValue).toBe(Math.min(...values));
    expect(out.best).toEqual(rows[values.indexOf(Math.min(...values))]!.params);
    expect((rows as (StudyTrial & { bestSoFar: number })[]).at(-1)!.bestSoFar).toBe(out.bestValue);

    // the run's stage table heard of each finished trial (a stageProgress signal per trial end)
    const conv = env.client.options.loadedDataConverter.payloadConverter;
    const signals = ((await h1.fetchHistory()).events ?? [])
      .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'stageProgress')
      .map((e) => conv.fromPayload<{ stage: string; text: string }>(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!))
      .filter((p) => p.stage === 'tune');
    // trials that end in the same workflow task share one line: the counts only rise, to 4/4
    const counts = signals.map((p) => Number(p.text.split('/')[0]));
    expect(counts).toEqual([...counts].sort());
    expect(new Set(counts).size).toBe(counts.length);
    expect(counts.at(-1)).toBe(4);
    expect(signals.at(-1)!.text).toBe(
      `4/4 trials, best val_loss ${Number((out.bestValue as number).toPrecision(4))} (trial ` +
        `${rows.find((t) => t.value === out.bestValue)!.id})`,
    );

    // the run report: the search's chart and its table, a row per trial with the best so far
    const html = readFileSync((await fetchRunReport(h1.workflowId, defaultStore()))!, 'utf8');
    expect(html).toContain('<h2>Search: tune (tunes train, random)</h2>');
    expect(html).toContain('aria-label="val_loss per trial"');
    expect(html.match(/<tr( class="pass")?><td>\d+<\/td><td>complete<\/td>/g)).toHaveLength(4);

    const r2 = await (await env.start(plan, { noCache: true })).result();
    expect((await table(r2.stages.tune!.outputs.trials)).map((t) => [t.params, t.value])).toEqual(rows.map((t) => [t.params, t.value]));
    expect(r2.stages.tune!.outputs.best).toEqual(out.best);
    expect(r2.stages.tune!.outputs.bestValue).toBe(out.bestValue);
  }, 180_000);

  it('asha: rung by rung, the weak pruned with a reason, the promoted continued from their checkpoints', async () => {
    const plan = await compiled(
      '    method: asha\n    asha: { minResource: 1, reductionFactor: 2 }\n    trials: 6\n    parallelism: 1\n    seed: 5\n',
    );
    const h = await env.start(plan, { noCache: true });
    const r = await h.result();
    expect(r.stages.tune!.status).toBe('succeeded');
    const rows = await table(r.stages.tune!.outputs.trials);
    const pruned = rows.filter((t) => t.state === 'pruned');
    const complete = rows.filter((t) => t.state === 'complete');
    expect(pruned.length).toBeGreaterThan(0);
    expect(complete.length).toBeGreaterThan(0);
    for (const t of pruned) expect(t.reason).toMatch(/^pruned at epoch [12]: val_loss .* top 1\/2/);
    // legs at 1, 2 and 4 epochs: a promoted leg starts where the one before ended
    for (const t of complete) {
      expect(t.resumedFromEpoch).toEqual([0, 1, 2]);
      expect(t.epochs).toBe(4);
    }
    const ids = (await trialActivities(h.workflowId)).map((a) => a.id);
    expect(ids).toContain(`tune.trial-${complete[0]!.id}.rung-2`);
    for (const t of pruned) expect(ids).not.toContain(`tune.trial-${t.id}.rung-2`);
    // deterministic: the run and its search replay against the workflow code that ran them
    expect(await replayErrors([h.workflowId, `${h.workflowId}.tune`])).toEqual([]);
  }, 180_000);

  it("trials go to the tuned stage's queue: a GPU train stage's to the GPU queue", async () => {
    const plan = await compiled('    method: random\n    trials: 2\n    parallelism: 2\n', '    resources: { gpu: 1 }\n');
    const h = await env.start(plan, { noCache: true });
    expect((await h.result()).stages.tune!.status).toBe('succeeded');
    const acts = await trialActivities(h.workflowId);
    expect(acts.filter((a) => a.type === 'stage.train').map((a) => a.queue)).toEqual([`${env.queue}-gpu`, `${env.queue}-gpu`]);
    expect(acts.find((a) => a.id === 'tune')!.queue).toBe(env.queue); // the write-up is the optimize stage's own
  }, 120_000);

  it('cancelling the run cancels the search and its running trials', async () => {
    const plan = await compiled('    method: random\n    trials: 4\n    parallelism: 2\n');
    const slow = {
      ...plan,
      nodes: plan.nodes.map((n) => (n.id === 'tune' ? { ...n, tunedConfig: { ...n.tunedConfig!, epochs: 200 } } : n)),
    };
    const h = await env.start(slow, { noCache: true });
    const child = env.client.workflow.getHandle(`${h.workflowId}.tune`);
    await waitFor(
      async () => ((await child.describe().catch(() => undefined))?.raw.pendingActivities?.length ?? 0) > 0,
      60_000,
      'a running trial',
    );
    await h.cancel();
    await expect(h.result()).rejects.toThrow();
    await waitFor(async () => (await child.describe()).status.name !== 'RUNNING', 60_000, 'the search to end');
    expect((await child.describe()).status.name).toBe('CANCELLED');
    // the trials that were running were asked to stop (PENDING_ACTIVITY_STATE_CANCEL_REQUESTED = 3)
    const left = (await child.describe()).raw.pendingActivities ?? [];
    expect(left.length).toBeGreaterThan(0);
    for (const p of left) expect([p.activityId, p.state]).toEqual([expect.stringMatching(/^tune\.trial-\d+$/), 3]);
  }, 120_000);

  it('a long search continues as new between trials and ends as an unbroken one does', async () => {
    const plan = await compiled('    method: random\n    trials: 6\n    parallelism: 2\n    seed: 7\n');
    const steady = await (await env.start(plan, { noCache: true })).result();
    const h = await env.start(plan, { noCache: true, continueAsNewAfterEvents: 12 }); // a search execution holds a trial or two
    const r = await h.result();
    expect(r.stages.tune!.status).toBe('succeeded');
    // the search's last execution continued an earlier one, and carried its finished trials
    const events = (await env.client.workflow.getHandle(`${h.workflowId}.tune`).fetchHistory()).events ?? [];
    const first = events[0]!;
    expect(first.workflowExecutionStartedEventAttributes!.continuedExecutionRunId).toBeTruthy();
    const rows = await table(r.stages.tune!.outputs.trials);
    expect(rows.map((t) => [t.id, t.state])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i, 'complete']));
    expect(rows.map((t) => [t.params, t.value])).toEqual((await table(steady.stages.tune!.outputs.trials)).map((t) => [t.params, t.value]));
    expect(r.stages.tune!.outputs.best).toEqual(steady.stages.tune!.outputs.best);
  }, 180_000);
});

describe('optimize: trials through the step cache', () => {
  it('rerun --from tune of a stopped search runs only its unfinished trials, to the best of an unbroken one; --no-cache runs all', async () => {
    const search = (trials: number) => `    method: random\n    trials: ${trials}\n    parallelism: 2\n    seed: 11\n`;
    // the earlier search stopped after two of its trials (deterministically: its spec asked for two)
    const first = await env.start(await compiled(search(2)));
    const r1 = await first.result();
    expect(r1.stages.tune!.status).toBe('succeeded');
    const earlier = await table(r1.stages.tune!.outputs.trials);
    expect(earlier.map((t) => [t.id, t.cached ?? false])).toEqual([
      [0, false],
      [1, false],
    ]);

    // `rerun --from tune` of the search with all four: the upstream stages reused, so the same dataset
    const plan = await compiled(search(4));
    const h = await env.start(plan, {
      rerunOf: first.workflowId,
      reuse: { data: r1.stages.data!.outputs, prep: r1.stages.prep!.outputs, train: r1.stages.train!.outputs },
    });
    const r = await h.result();
    expect(r.stages.tune!.status).toBe('succeeded');
    const trains = (await trialActivities(h.workflowId)).filter((a) => a.type === 'stage.train').map((a) => a.id);
    expect(trains.sort()).toEqual(['tune.trial-2', 'tune.trial-3']);
    const rows = await table(r.stages.tune!.outputs.trials);
    expect(rows.map((t) => [t.id, t.state, t.cached ?? false])).toEqual([
      [0, 'complete', true],
      [1, 'complete', true],
      [2, 'complete', false],
      [3, 'complete', false],
    ]);
    expect(rows.slice(0, 2).map((t) => [t.params, t.value, t.model])).toEqual(earlier.map((t) => [t.params, t.value, t.model]));

    // --no-cache: every trial an activity again; the resumed search ended as this unbroken one
    const hn = await env.start(plan, { noCache: true });
    const rn = await hn.result();
    const all = (await trialActivities(hn.workflowId)).filter((a) => a.type === 'stage.train').map((a) => a.id);
    expect(all.sort()).toEqual([0, 1, 2, 3].map((i) => `tune.trial-${i}`));
    const unbroken = await table(rn.stages.tune!.outputs.trials);
    expect(unbroken.some((t) => t.cached)).toBe(false);
    expect(rows.map((t) => [t.params, t.value])).toEqual(unbroken.map((t) => [t.params, t.value]));
    expect(r.stages.tune!.outputs.best).toEqual(rn.stages.tune!.outputs.best);
    expect(r.stages.tune!.outputs.bestValue).toBe(rn.stages.tune!.outputs.bestValue);
    expect(await replayErrors([h.workflowId, `${h.workflowId}.tune`])).toEqual([]);
  }, 240_000);
});

describe('optimize: ASHA legs through the step cache', () => {
  it('a longer ASHA search after a shorter one takes every earlier leg, continuations included, from the cache', async () => {
    const asha = (trials: number) =>
      `    method: asha\n    asha: { minResource: 1, reductionFactor: 2 }\n    trials: ${trials}\n    parallelism: 1\n    seed: 13\n`;
    const r1 = await (await env.start(await compiled(asha(4)))).result();
    const rows1 = await table(r1.stages.tune!.outputs.trials);
    const complete = rows1.find((t) => t.state === 'complete' && t.resumedFromEpoch!.length === 3)!;
    expect(complete).toBeTruthy();
    // the optimize stage's own cache entry differs (trials: 5), so the search runs, leg by leg
    const h2 = await env.start(await compiled(asha(5)));
    const r2 = await h2.result();
    const acts = await trialActivities(h2.workflowId);
    const trains = acts.filter((a) => a.type === 'stage.train').map((a) => a.id);
    expect(trains.length).toBeGreaterThan(0);
    for (const id of trains) expect(id).toMatch(/^tune\.trial-4(\.rung-\d)?$/);
    // a promoted trial's later rungs were looked up too (their key names the model they continue)
    expect(acts.map((a) => a.id)).toContain(`tune.trial-${complete.id}.rung-2.cache`);
    const rows2 = await table(r2.stages.tune!.outputs.trials);
    expect(rows2.slice(0, 4).map((t) => [t.id, t.state, t.value, t.cached])).toEqual(rows1.map((t) => [t.id, t.state, t.value, true]));
    expect(rows2[4]!.cached).toBeUndefined();
  }, 180_000);
});

/** The activity ids of the search's activities that completed. */
async function completedActivities(workflowId: string): Promise<string[]> {
  const events = (await env.client.workflow.getHandle(`${workflowId}.tune`).fetchHistory()).events ?? [];
  const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e]));
  return events
    .filter((e) => e.activityTaskCompletedEventAttributes)
    .map(
      (e) =>
        scheduled.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId))!.activityTaskScheduledEventAttributes!.activityId!,
    );
}

describe('optimize: a cancelled search run again', () => {
  it('the second run takes the trials the cancelled one stored from the cache and runs the rest', async () => {
    const plan = await compiled('    method: random\n    trials: 4\n    parallelism: 1\n    seed: 17\n');
    const h1 = await env.start(plan);
    await waitFor(
      async () => (await completedActivities(h1.workflowId).catch((): string[] => [])).includes('tune.trial-1.cache-store'),
      120_000,
      'two trials stored',
    );
    await h1.cancel();
    await expect(h1.result()).rejects.toThrow();
    const child = env.client.workflow.getHandle(`${h1.workflowId}.tune`);
    await waitFor(async () => (await child.describe()).status.name !== 'RUNNING', 60_000, 'the search to end');
    const done = await completedActivities(h1.workflowId);
    const trial = (id: string) => Number(/^tune\.trial-(\d+)/.exec(id)![1]);
    // stored for sure: those whose store completed; at most: those whose training completed
    const stored = done.filter((id) => id.endsWith('.cache-store')).map(trial);
    const trained = done.filter((id) => /^tune\.trial-\d+$/.test(id)).map(trial);
    expect(stored).toEqual(expect.arrayContaining([0, 1]));

    const h2 = await env.start(plan); // the upstream stages hit the cache: the same dataset
    const r2 = await h2.result();
    const rows = await table(r2.stages.tune!.outputs.trials);
    const cached = rows.filter((t) => t.cached).map((t) => t.id);
    for (const id of stored) expect(cached).toContain(id);
    for (const id of cached) expect(trained).toContain(id);
    const trains = (await trialActivities(h2.workflowId)).filter((a) => a.type === 'stage.train').map((a) => trial(a.id));
    expect(trains.sort()).toEqual([0, 1, 2, 3].filter((i) => !cached.includes(i)));
    expect(trains.length).toBeGreaterThan(0);

    const unbroken = await (await env.start(plan, { noCache: true })).result();
    expect(rows.map((t) => [t.params, t.value])).toEqual(
      (await table(unbroken.stages.tune!.outputs.trials)).map((t) => [t.params, t.value]),
    );
    expect(r2.stages.tune!.outputs.best).toEqual(unbroken.stages.tune!.outputs.best);
  }, 300_000);
});

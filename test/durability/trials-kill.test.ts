/**
 * Issue 14's proof for trials as durable units, on the real dev server: a search of 16 trials
 * (each its own train activity) runs on two `mlpipe worker` processes with homes of their own that
 * share only the artifact store (MLPIPE_ARTIFACTS, one directory standing in for shared storage).
 * The worker running a trial that has checkpointed (seen in the shared store) is SIGKILLed
 * mid-trial. Then:
 * - every trial completes, and each trial's activity was scheduled and completed exactly once
 *   (finished trials never run again);
 * - the killed trial's retry resumed from its checkpoint: its completed attempt is > 1 and
 *   started at an epoch > 0 (from the child workflow's history);
 * - the best trial and value equal those of an uninterrupted run with the same seed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStore } from '../../src/artifacts/index.ts';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef, StudyTrial } from '../../src/core/plan.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { killableTrainSpec } from '../support/specs.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

const TRIALS = 16;
const EPOCHS = 8;
const spec = (queue: string) =>
  killableTrainSpec({
    name: 'trials-kill',
    queue,
    samples: 4000,
    epochs: EPOCHS,
    extra: `  tune:
    type: optimize
    needs: [prep]
    tunes: train
    method: random
    trials: ${TRIALS}
    parallelism: 2
    seed: 11
    space:
      optimizer.learningRate: { type: logUniform, min: 0.001, max: 0.05 }
      model.layers[0].units: { type: int, min: 16, max: 128, step: 16 }
    objective: { metric: val_loss, direction: minimize }
`,
  });

const workers: WorkerProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  const exited = new Promise((r) => w.once('exit', r));
  w.kill('SIGTERM');
  await exited;
}

function worker(env: TestEnv, name: string): WorkerProcess {
  const w = spawnWorker(testAddress(), env.queue, mkdtempSync(join(tmpdir(), `mlpipe-trials-kill-${name}-`)));
  workers.push(w);
  return w;
}

interface TrialActivity {
  scheduled: number;
  completed: number;
  /** The attempt of the ActivityTaskStarted event the completion followed. */
  attempt?: number;
  resumedFromEpoch?: number;
  /** Why the attempt before the completing one failed. */
  lastFailure?: string;
}

/** Per trial activity id of the search's child workflow: schedules, completions, the finishing attempt. */
async function trialActivities(env: TestEnv, workflowId: string): Promise<Map<string, TrialActivity>> {
  const history = await env.client.workflow.getHandle(`${workflowId}.tune`).fetchHistory();
  const conv = env.client.options.loadedDataConverter.payloadConverter;
  const byEvent = new Map<string, string>();
  const out = new Map<string, TrialActivity>();
  const startedAttempt = new Map<string, number>();
  const lastFailure = new Map<string, string>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes.activityId!;
      byEvent.set(id, a);
      const t = out.get(a) ?? { scheduled: 0, completed: 0 };
      t.scheduled++;
      out.set(a, t);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = byEvent.get(String(e.activityTaskStartedEventAttributes.scheduledEventId))!;
      startedAttempt.set(a, e.activityTaskStartedEventAttributes.attempt ?? 1);
      const f = e.activityTaskStartedEventAttributes.lastFailure;
      if (f) lastFailure.set(a, `${f.message}${f.cause?.message ? `: ${f.cause.message}` : ''}`);
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = byEvent.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId))!;
      const t = out.get(a)!;
      t.completed++;
      t.attempt = startedAttempt.get(a);
      t.lastFailure = lastFailure.get(a);
      const result = conv.fromPayload<{ outputs: Record<string, unknown> }>(e.activityTaskCompletedEventAttributes.result!.payloads![0]!);
      if (typeof result.outputs.resumedFromEpoch === 'number') t.resumedFromEpoch = result.outputs.resumedFromEpoch;
    }
  }
  return out;
}

const tableOf = async (ref: unknown) =>
  (JSON.parse((await defaultStore().get(ref as ArtifactRef)).toString()) as { trials: StudyTrial[] }).trials;

describe('a search whose worker is killed mid-trial', () => {
  it('completes every trial once, resumes the killed trial from its checkpoint, and finds the uninterrupted best', async () => {
    // The workers' only shared storage, and where this process reads the trials table.
    process.env.MLPIPE_ARTIFACTS = mkdtempSync(join(tmpdir(), 'mlpipe-trials-kill-store-'));
    const env = await testEnv('trials-kill', { worker: false });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-trials-kill-'));
    writeFileSync(join(dir, 'p.yaml'), spec(env.queue));
    const { plan } = await compileFile(join(dir, 'p.yaml'));

    const a = worker(env, 'a');
    const b = worker(env, 'b');
    for (const w of [a, b]) await waitFor(() => /state: 'RUNNING'/.test(w.output()), 60_000, 'a worker polling');

    // 1. Uninterrupted, for comparison.
    const clean = await (await env.start(plan, { noCache: true })).result();
    expect(clean.stages.tune!.status).toBe('succeeded');
    const cleanRows = await tableOf(clean.stages.tune!.outputs.trials);
    expect(cleanRows.filter((t) => t.state !== 'complete').map((t) => [t.id, t.state, t.error])).toEqual([]);

    // 2. Again; the worker of a trial that has checkpointed (epoch >= 2, not yet near its end) is
    // killed. Checkpoints are read from the shared store: heartbeats reach the server at most every
    // 80% of the heartbeat timeout, too seldom to see a short trial's epochs.
    const handle = await env.start(plan, { noCache: true });
    const child = env.client.workflow.getHandle(`${handle.workflowId}.tune`);
    const store = defaultStore();
    let victim: { trial: string; epoch: number; identity: string } | undefined;
    await waitFor(
      async () => {
        const recs = await store.list(handle.workflowId).catch(() => []);
        const saved = new Map<string, number>();
        const done = new Set<string>();
        for (const r of recs) {
          if (!r.lineage.stage.startsWith('tune.trial-')) continue;
          const m = /^checkpoint-epoch-(\d+)$/.exec(r.lineage.name ?? '');
          if (m) saved.set(r.lineage.stage, Math.max(saved.get(r.lineage.stage) ?? 0, Number(m[1])));
          else if (r.ref.kind === 'metrics') done.add(r.lineage.stage); // its training summary: the trial is over
        }
        const desc = await child.describe().catch(() => undefined);
        for (const pa of desc?.raw.pendingActivities ?? []) {
          const epoch = saved.get(pa.activityId!) ?? 0;
          if (epoch >= 2 && epoch <= EPOCHS - 2 && !done.has(pa.activityId!) && pa.lastWorkerIdentity) {
            victim = { trial: pa.activityId!, epoch, identity: pa.lastWorkerIdentity };
            return true;
          }
        }
        return false;
      },
      180_000,
      'a trial past its second checkpoint',
      25,
    );
    const killed = [a, b].find((w) => victim!.identity === `${w.pid}@${hostname()}`);
    expect(killed, `trial ${victim!.trial} runs on ${victim!.identity}, not one of this test's workers`).toBeDefined();
    killed!.kill('SIGKILL');
    await new Promise((r) => killed!.once('exit', r));

    const res = await handle.result();
    expect(res.stages.tune!.status).toBe('succeeded');
    const rows = await tableOf(res.stages.tune!.outputs.trials);
    expect(rows.filter((t) => t.state !== 'complete').map((t) => [t.id, t.state, t.error])).toEqual([]);
    expect(rows).toHaveLength(TRIALS);

    // From the child's history: every trial activity scheduled and completed once.
    const acts = await trialActivities(env, handle.workflowId);
    const trialIds = [...acts.keys()].filter((k) => k.startsWith('tune.trial-')).sort();
    expect(trialIds).toEqual(Array.from({ length: TRIALS }, (_, i) => `tune.trial-${i}`).sort());
    for (const id of trialIds) expect([id, acts.get(id)!.scheduled, acts.get(id)!.completed]).toEqual([id, 1, 1]);
    // The killed trial: retried, and the retry started from a checkpoint, not epoch 0.
    const v = acts.get(victim!.trial)!;
    console.log(
      `trials-kill: killed ${victim!.trial} at epoch ${victim!.epoch}; attempt ${v.attempt} resumed from ` +
        `epoch ${v.resumedFromEpoch} (the attempt before: ${v.lastFailure})`,
    );
    expect(v.attempt).toBeGreaterThanOrEqual(2);
    expect(v.resumedFromEpoch).toBeGreaterThan(0);
    expect(v.resumedFromEpoch).toBeGreaterThanOrEqual(victim!.epoch - 1); // at most one checkpoint interval lost

    // The same seed: the same trials and the same best as the uninterrupted run.
    expect(rows.map((t) => t.params)).toEqual(cleanRows.map((t) => t.params));
    expect(res.stages.tune!.outputs.best).toEqual(clean.stages.tune!.outputs.best);
    expect(res.stages.tune!.outputs.bestValue as number).toBeCloseTo(clean.stages.tune!.outputs.bestValue as number, 4);
    await stop(a);
    await stop(b);
  }, 420_000);
});

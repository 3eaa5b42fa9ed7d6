/**
 * What the history recorder runs: each case starts real runs on the recorder's dev server and
 * workers, drives them (operator updates and signals, a killed worker, a schedule) and returns
 * the runs whose histories go into the corpus, each with what it exercises.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { compileFile } from '../../src/compiler/index.ts';
import type { Plan } from '../../src/core/plan.ts';
import type { SourceInfo } from '../../src/compiler/source.ts';
import { pipelineFiles } from '../../src/cli/pipeline-files.ts';
import { executeChanges, loadDesired, planChanges } from '../../src/schedules/apply.ts';
import { scheduleIdFor } from '../../src/schedules/options.ts';
import type { Registry } from '../../src/serving/registry.ts';
import { describeRun, rerunFrom, startRun, type StartRunOptions } from '../../src/temporal/runs.ts';
import { retryUpdate, skipUpdate, statusQuery, type PipelineResult, type RunStatus, type StageStatus } from '../../workflows/api.ts';
import { spawnWorker } from '../../test/support/processes.ts';
import * as specs from './specs.ts';

export interface Recorded {
  /** File name (without .json) in test/fixtures/histories/. */
  name: string;
  exercises: string;
  workflowId: string;
  /** A particular execution (continue-as-new); default the latest. */
  runId?: string;
}

export interface RecordContext {
  client: Client;
  address: string;
  home: string;
  /** Scratch directory for generated pipeline files. */
  scratch: string;
  registry: Registry;
  /** The in-process model server deploys point at. */
  serverUrl: string;
}

export interface Case {
  name: string;
  run(ctx: RecordContext): Promise<Recorded[]>;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 300_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stageIs = (h: WorkflowHandle, stage: string, status: StageStatus) =>
  until(`${h.workflowId}: ${stage} ${status}`, async () => (await h.query(statusQuery)).stages[stage]?.status === status);

async function compileSpec(ctx: RecordContext, name: string, yaml: string, params: Record<string, string> = {}) {
  const dir = join(ctx.scratch, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return compileFile(file, { params });
}

async function start(ctx: RecordContext, c: { plan: Plan; source: SourceInfo }, o: Partial<StartRunOptions> = {}) {
  return startRun(ctx.client, { plan: c.plan, source: c.source, ...o });
}

/** Runs to the end; a failed or cancelled run is expected only when `fails`. */
async function finish(h: WorkflowHandle, fails = false): Promise<PipelineResult | undefined> {
  const [res, err] = await h.result().then(
    (r: PipelineResult) => [r, undefined] as const,
    (e: unknown) => [undefined, e] as const,
  );
  if (!!err !== fails) throw new Error(`${h.workflowId}: ${fails ? 'succeeded, expected a failure' : `failed: ${String(err)}`}`);
  return res;
}

const example = (file: string, params: Record<string, string>, exercises: string): Case => ({
  name: `example-${file.replace(/\.yaml$/, '')}`,
  async run(ctx) {
    const h = await start(ctx, await compileFile(resolve('pipelines', file), { params }));
    await finish(h);
    return [{ name: this.name, workflowId: h.workflowId, exercises }];
  },
});

/** Rows far from training in x0 once `churn` is deployed: the monitor sees drift and retrains. */
async function driftedTraffic(ctx: RecordContext): Promise<void> {
  await until('churn deployed', async () => ctx.registry.get('churn'));
  for (let b = 0; b < 10; b++) {
    const instances = Array.from({ length: 20 }, (_, i) => {
      const r: Record<string, number> = {};
      for (let j = 0; j < 6; j++) r[`x${j}`] = Math.sin(b * 20 + i + j) * 5 + (j === 0 ? 25 : 0);
      return r;
    });
    await until('a prediction', async () => {
      const res = await fetch(`${ctx.serverUrl}/v1/models/churn:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
      return res.status === 200;
    });
  }
}

const lifecycle: Case = {
  name: 'example-lifecycle',
  async run(ctx) {
    const h = await start(ctx, await compileFile(resolve('pipelines/lifecycle.yaml'), { params: { epochs: '2', minF1: '0.5' } }));
    const traffic = driftedTraffic(ctx);
    await finish(h);
    await traffic;
    const st = await h.query(statusQuery);
    const bad = Object.entries(st.stages).filter(([, s]) => s.status !== 'succeeded');
    if (bad.length) throw new Error(`lifecycle: stages not succeeded: ${bad.map(([id, s]) => `${id} ${s.status}`).join(', ')}`);
    const { workflowId } = await describeMonitorAction(ctx, st);
    const retrain = ctx.client.workflow.getHandle(workflowId);
    await retrain.terminate('recorder: the drift-triggered run was started; not running it to the end').catch(() => undefined);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises:
          'pipelines/lifecycle.yaml (epochs 2): collect, preprocess, optimize (8 trials), train on the GPU ' +
          'queue, evaluate, deploy (first deploy of a canary strategy: primary), monitor (drift on live ' +
          'traffic, retrain on breach), a user activity, onFailure wait defaults, when true',
      },
      {
        name: 'drift-retrain-terminated',
        workflowId,
        exercises: 'a run started by the monitor (trigger drift), cache hits for data and prep, terminated by an operator mid-run',
      },
    ];
  },
};

async function describeMonitorAction(_ctx: RecordContext, st: RunStatus): Promise<{ workflowId: string }> {
  const { defaultStore } = await import('../../src/artifacts/index.ts');
  const ref = st.stages.monitor!.outputs.report as never;
  const report = JSON.parse((await defaultStore().get(ref)).toString()) as { action?: { workflowId?: string } };
  const id = report.action?.workflowId;
  if (!id) throw new Error(`lifecycle: the monitor started no retrain (${JSON.stringify(report.action)})`);
  return { workflowId: id };
}

const regression: Case = {
  name: 'regression',
  async run(ctx) {
    const c = await compileFile(resolve('pipelines/regression.yaml'), { params: { epochs: '2' } });
    const first = await start(ctx, c);
    await finish(first);
    const cached = await start(ctx, c);
    await finish(cached);
    const st = await cached.query(statusQuery);
    if (!Object.values(st.stages).every((s) => s.cached)) throw new Error('regression: the second run was not served from the step cache');
    const rerun = await rerunFrom(ctx.client, first.workflowId, 'train', { noCache: true });
    await finish(rerun);
    return [
      {
        name: 'example-regression',
        workflowId: first.workflowId,
        exercises: 'pipelines/regression.yaml (epochs 2): collect, preprocess, train, evaluate; step cache look-ups (misses) and stores',
      },
      {
        name: 'step-cache-hits',
        workflowId: cached.workflowId,
        exercises: 'the same plan again: every stage answered from the step cache',
      },
      {
        name: 'rerun-from-train',
        workflowId: rerun.workflowId,
        exercises:
          'mlpipe rerun --from train --no-cache: data and prep reused from the earlier run (input.reuse), train and evaluate run again',
      },
    ];
  },
};

const workerKilled: Case = {
  name: 'worker-killed-mid-train',
  async run(ctx) {
    const queue = 'record-kill';
    const c = await compileSpec(ctx, 'worker-killed', specs.trainKill(queue));
    const first = spawnWorker(ctx.address, queue, ctx.home);
    try {
      const h = await start(ctx, c, { taskQueue: queue, noCache: true });
      await until(
        'epoch 3 on the first worker',
        async () => ((await describeRun(ctx.client, h.workflowId)).live.train?.progress?.epoch ?? 0) >= 3,
      );
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const second = spawnWorker(ctx.address, queue, ctx.home);
      let res: PipelineResult | undefined;
      try {
        res = await finish(h);
      } finally {
        second.kill('SIGTERM');
        await new Promise((r) => second.once('exit', r));
      }
      if (res!.stages.train!.attempts < 2) throw new Error('worker-killed: training finished before the kill');
      return [
        {
          name: this.name,
          workflowId: h.workflowId,
          exercises:
            'one `mlpipe worker` process (workflow and activities) SIGKILLed at epoch 3 of 16; a second worker ' +
            'takes the workflow over and resumes training from its checkpoint (attempt 2 of the train activity)',
        },
      ];
    } finally {
      first.kill('SIGKILL');
    }
  },
};

const fixAndContinue: Case = {
  name: 'fix-and-continue',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'fix-and-continue', specs.fixAndContinue));
    await stageIs(h, 'fragile', 'awaiting-operator');
    await stageIs(h, 'optional', 'awaiting-operator');
    await h.executeUpdate(retryUpdate, { args: [{ stage: 'fragile', config: { input: { ok: true } }, params: { round: 2 } }] });
    await h.signal('skip', 'optional');
    await finish(h);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises:
          'onFailure wait: one stage retried by update with fixed config and params (a later when reads the ' +
          'new param), another skipped by signal (its dependent skips)',
      },
    ];
  },
};

const approvalGate: Case = {
  name: 'approval-gate',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'approval-gate', specs.approvalGate));
    await stageIs(h, 'ship', 'awaiting-approval');
    await stageIs(h, 'risky', 'awaiting-approval');
    await h.signal('approve', 'ship');
    await h.executeUpdate(skipUpdate, { args: ['risky'] });
    await finish(h);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises: 'approval: true: one stage approved by signal, another skipped at its gate by update (its dependent skips)',
      },
    ];
  },
};

const whenSkips: Case = {
  name: 'when-skips',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'when-skips', specs.whenSkips));
    await finish(h);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises: 'when false (the stage and its dependent skip) and true; a stage that succeeds on its second attempt',
      },
    ];
  },
};

const failedRun: Case = {
  name: 'failed-run',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'failed-run', specs.failedRun));
    await finish(h, true);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises: 'a non-retryable failure fails the run and cancels a running sibling; its dependent never starts',
      },
    ];
  },
};

const cancelledRun: Case = {
  name: 'cancelled-run',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'cancelled-run', specs.cancelledRun));
    await stageIs(h, 'long', 'running');
    await h.cancel();
    await finish(h, true);
    return [{ name: this.name, workflowId: h.workflowId, exercises: 'mlpipe cancel while a stage runs' }];
  },
};

const continueAsNew: Case = {
  name: 'continue-as-new',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'continue-as-new', specs.chain(12)), { continueAsNewAfterEvents: 30 });
    await finish(h);
    const last = (await h.describe()).runId;
    if (last === h.firstExecutionRunId) throw new Error('continue-as-new: the run did not continue as new');
    return [
      {
        name: 'continue-as-new-first',
        workflowId: h.workflowId,
        runId: h.firstExecutionRunId,
        exercises: 'continueAsNewAfterEvents 30 on a 12-stage chain: the first execution, which continues as new',
      },
      {
        name: 'continue-as-new-last',
        workflowId: h.workflowId,
        runId: last,
        exercises: 'the last execution of that chain: carried stages and params',
      },
    ];
  },
};

const scheduledRun: Case = {
  name: 'scheduled-run',
  async run(ctx) {
    const dir = join(ctx.scratch, 'scheduled');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'scheduled-run.yaml'), specs.scheduled);
    const scope = 'record-histories';
    const loaded = await loadDesired(await pipelineFiles([dir]), { scope });
    if (loaded.invalid.length || loaded.errors.length)
      throw new Error(`scheduled: ${JSON.stringify(loaded.invalid.map((r) => r.diagnostics))} ${loaded.errors.join('; ')}`);
    await executeChanges(ctx.client, await planChanges(ctx.client, loaded, scope));
    const sched = ctx.client.schedule.getHandle(scheduleIdFor('scheduled-run'));
    try {
      await sched.trigger();
      const workflowId = await until(
        'the scheduled run',
        async () => (await sched.describe()).info.recentActions[0]?.action.workflow.workflowId,
      );
      await finish(ctx.client.workflow.getHandle(workflowId));
      return [
        {
          name: this.name,
          workflowId,
          exercises: "a run started by a Temporal Schedule made by mlpipe apply (trigger schedule, the schedule's params)",
        },
      ];
    } finally {
      await sched.delete();
    }
  },
};

const deployCanary: Case = {
  name: 'deploy-canary',
  async run(ctx) {
    const h = await start(ctx, await compileSpec(ctx, 'deploy-canary', specs.deployCanary));
    await finish(h);
    const traffic = (await ctx.registry.get('record-canary'))?.traffic;
    if (traffic?.candidate?.mode !== 'canary') throw new Error(`deploy-canary: no canary in the registry: ${JSON.stringify(traffic)}`);
    return [
      {
        name: this.name,
        workflowId: h.workflowId,
        exercises: 'deploy v1 (replace), then v2 as a 20% canary beside it with a rollback rule',
      },
    ];
  },
};

export const CASES: Case[] = [
  example(
    'iris-mlp.yaml',
    { epochs: '5' },
    'pipelines/iris-mlp.yaml (epochs 5): a CSV collect (cache off), preprocess, train, evaluate with a gate',
  ),
  example(
    'mnist-lenet.yaml',
    { epochs: '1', minAccuracy: '0.5' },
    'pipelines/mnist-lenet.yaml (epochs 1): the MNIST collect, augment, a CNN with checkpoints, evaluate',
  ),
  {
    // Its data is made, not committed: 600 PNG digits (scripts/make-digits-folder.ts makes 3,000).
    ...example(
      'digits-folder.yaml',
      { epochs: '1', minAccuracy: '0.1' },
      'pipelines/digits-folder.yaml (epochs 1): an imageFolder collect (cache off), split, a CNN, evaluate with a gate',
    ),
    async run(ctx) {
      const { writeImageFolder } = await import('../../src/ml/data/images.ts');
      const { loadMnist } = await import('../../src/ml/data/mnist.ts');
      await writeImageFolder(await loadMnist(600), resolve('pipelines/data/digits'));
      const h = await start(
        ctx,
        await compileFile(resolve('pipelines/digits-folder.yaml'), { params: { epochs: '1', minAccuracy: '0.1' } }),
      );
      await finish(h);
      return [
        {
          name: this.name,
          workflowId: h.workflowId,
          exercises: 'pipelines/digits-folder.yaml (epochs 1): an imageFolder collect (cache off), split, a CNN, evaluate with a gate',
        },
      ];
    },
  },
  example(
    'foreach-seeds.yaml',
    { epochs: '3' },
    'pipelines/foreach-seeds.yaml (epochs 3): forEach fan-out: train once per seed (literal items, ' +
      'parallelism 2), evaluate per seed (items from an expression over the train items, ' +
      'inputs item by item)',
  ),
  regression,
  lifecycle,
  deployCanary,
  workerKilled,
  fixAndContinue,
  approvalGate,
  whenSkips,
  failedRun,
  cancelledRun,
  continueAsNew,
  scheduledRun,
];

/**
 * Orchestration overhead: a generated 100-stage no-op plan (a chain, and a wide fan-out) through
 * mlpipe's interpreter vs. the same shape as a hand-written Temporal workflow with no-op
 * activities, side by side on one dev server, alternating runs. Prints the ratio (goal ≤ 1.3×)
 * and the per-stage overhead in ms. The no-op stages run in the worker, as the baseline's; the
 * `user` shapes run the same no-ops as users' activities, in child processes of the worker
 * (activities/lib/user-pool.ts): the price of that isolation, with no goal.
 *
 *   npx tsx bench/orchestration.ts [--stages 100] [--reps 3]
 *   MLPIPE_BENCH_TEMPORAL_ADDRESS=host:port to use a running server instead of a fresh one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Plan } from '../src/core/plan.ts';
import { buildActivities, type StageActivity } from '../activities/index.ts';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.ts';
import { startRun } from '../src/temporal/runs.ts';
import { createWorkers } from '../src/temporal/worker.ts';
import { chainPlan, fanOutPlan } from '../test/support/plans.ts';
import { onQueue } from '../test/support/temporal-queue.ts';
import { freePort } from '../test/support/ports.ts';

export interface ShapeResult {
  shape: 'chain' | 'fan-out' | 'chain, user' | 'fan-out, user';
  stages: number;
  /** Best of the runs: the least disturbed by other load on the machine. */
  baselineMs: number;
  mlpipeMs: number;
  ratio: number;
  overheadPerStageMs: number;
  /** Medians, for a feel of the noise. */
  baselineMedianMs: number;
  mlpipeMedianMs: number;
}

export interface OrchestrationBenchResult {
  name: 'orchestration';
  goalRatio: number;
  shapes: ShapeResult[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runOrchestrationBench(
  o: { stages?: number; reps?: number; address?: string } = {},
): Promise<OrchestrationBenchResult> {
  const n = o.stages ?? 100;
  const reps = o.reps ?? 5;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // a runtime is already installed (aggregator): keep it
  }
  let server: DevServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-bench-'));
  const address =
    o.address ??
    process.env.MLPIPE_BENCH_TEMPORAL_ADDRESS ??
    (server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: null })).address;
  const conn = await NativeConnection.connect({ address });
  const client = new Client({ connection: await Connection.connect({ address }) });
  const qM = `bench-mlpipe-${process.pid}`;
  const qB = `bench-baseline-${process.pid}`;
  const qU = `bench-user-${process.pid}`;
  const noop: StageActivity = async () => ({ outputs: { ok: true } });
  const inWorker = await buildActivities({ home: dir, kinds: { activity: noop } });
  const asUsers = await buildActivities({
    home: dir,
    userModule: fileURLToPath(new URL('../test/support/activities.ts', import.meta.url)),
  });
  const mlpipeWorkers = [
    ...(await createWorkers({
      connection: conn,
      namespace: 'default',
      activities: inWorker,
      taskQueue: qM,
      gpuQueue: false,
      maxConcurrentActivities: 100,
    })),
    ...(await createWorkers({
      connection: conn,
      namespace: 'default',
      activities: asUsers,
      taskQueue: qU,
      gpuQueue: false,
      maxConcurrentActivities: 100,
    })),
  ];
  const baselineWorker = await Worker.create({
    connection: conn,
    taskQueue: qB,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./baseline-workflow.ts', import.meta.url)),
      logger: new DefaultLogger('ERROR'),
    }),
    activities: { baselineNoop: async () => ({ ok: true }) },
    maxConcurrentActivityTaskExecutions: 100,
  });
  const all = [...mlpipeWorkers, baselineWorker];
  const running = all.map((w) => w.run());
  const shapes: ShapeResult[] = [];
  try {
    const cases: { shape: ShapeResult['shape']; plan: Plan; baseline: string; queue: string }[] = [
      { shape: 'chain', plan: chainPlan(n), baseline: 'baselineChain', queue: qM },
      { shape: 'fan-out', plan: fanOutPlan(n), baseline: 'baselineFanOut', queue: qM },
      { shape: 'chain, user', plan: chainPlan(n), baseline: 'baselineChain', queue: qU },
      { shape: 'fan-out, user', plan: fanOutPlan(n), baseline: 'baselineFanOut', queue: qU },
    ];
    let k = 0;
    for (const c of cases) {
      const plan = onQueue(c.plan, c.queue);
      const timeMlpipe = async () => {
        const t = performance.now();
        await (await startRun(client, { plan, taskQueue: c.queue, runKey: `bench-${process.pid}-${k++}` })).result();
        return performance.now() - t;
      };
      const timeBaseline = async () => {
        const t = performance.now();
        await client.workflow.execute(c.baseline, { taskQueue: qB, workflowId: `bench-baseline-${process.pid}-${k++}`, args: [n] });
        return performance.now() - t;
      };
      await timeBaseline(); // warm-up: workflow caches, connections
      await timeMlpipe();
      const b: number[] = [];
      const m: number[] = [];
      for (let r = 0; r < reps; r++) {
        // Alternate which goes first, so neither always runs on a warmer (or busier) server.
        if (r % 2 === 0) {
          b.push(await timeBaseline());
          m.push(await timeMlpipe());
        } else {
          m.push(await timeMlpipe());
          b.push(await timeBaseline());
        }
      }
      const baselineMs = Math.min(...b);
      const mlpipeMs = Math.min(...m);
      shapes.push({
        shape: c.shape,
        stages: n,
        baselineMs,
        mlpipeMs,
        ratio: mlpipeMs / baselineMs,
        overheadPerStageMs: (mlpipeMs - baselineMs) / n,
        baselineMedianMs: median(b),
        mlpipeMedianMs: median(m),
      });
    }
  } finally {
    for (const w of all) w.shutdown();
    await Promise.allSettled(running);
    await conn.close();
    await client.connection.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'orchestration', goalRatio: 1.3, shapes };
}

export function formatOrchestration(r: OrchestrationBenchResult): string {
  const rows = r.shapes.map(
    (s) =>
      `${s.shape.padEnd(13)} ${String(s.stages).padStart(6)} ${s.baselineMs.toFixed(0).padStart(11)} ` +
      `${s.mlpipeMs.toFixed(0).padStart(9)} ${`${s.ratio.toFixed(2)}x`.padStart(7)} ` +
      `${s.overheadPerStageMs.toFixed(2).padStart(14)}  ` +
      `${`${(s.mlpipeMedianMs / s.baselineMedianMs).toFixed(2)}x`.padStart(12)}  ` +
      `${s.shape.endsWith('user') ? 'isolation, no goal' : s.ratio <= r.goalRatio ? 'ok' : `over goal (${r.goalRatio}x)`}`,
  );
  return [
    `orchestration overhead: best of alternating runs (goal ≤ ${r.goalRatio}x); load average ` +
      `${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
    'shape         stages baseline ms mlpipe ms   ratio overhead/stage median ratio',
    ...rows,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = await runOrchestrationBench({ stages: arg('--stages'), reps: arg('--reps') });
  console.log(formatOrchestration(r));
}

// A search's wall time on 1 and on 2 workers (issue 14): the 16-trial search of
// test/durability/trials-kill.test.ts (each trial its own train activity), `parallelism: 2`,
// run on one `mlpipe worker` process and then on two, each with a home of its own and one
// activity slot (`--max-concurrent-activities 1`), sharing only the artifact directory. Printed:
// the search's time (its child workflow's start to close) on each and the ratio. On one machine
// the two workers share its cores, so the ratio says how well trials spread, not what a second
// host would add: the goal (close to 2x) is for two hosts.
//
//   npx tsx bench/search-workers.ts [--trials 16]
//
// Exported: searchWorkers(options) and formatSearchWorkers for bench/run.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { compileFile } from '../src/compiler/index.ts';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.ts';
import { startRun } from '../src/temporal/runs.ts';
import { spawnWorker, type WorkerProcess } from '../test/support/processes.ts';
import { onQueue } from '../test/support/temporal-queue.ts';
import { killableTrainSpec } from '../test/support/specs.ts';
import { freePort } from '../test/support/ports.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface SearchWorkersResult {
  trials: number;
  /** Seconds of the search on 1 and on 2 workers. */
  one: number;
  two: number;
}

function spec(queue: string, trials: number): string {
  return killableTrainSpec({
    name: 'search-workers',
    queue,
    samples: 3000,
    epochs: 6,
    extra: `  tune:
    type: optimize
    needs: [prep]
    tunes: train
    method: random
    trials: ${trials}
    parallelism: 2
    seed: 11
    space:
      optimizer.learningRate: { type: logUniform, min: 0.001, max: 0.05 }
      model.layers[0].units: { type: int, min: 16, max: 128, step: 16 }
    objective: { metric: val_loss, direction: minimize }
`,
  });
}

function worker(address: string, queue: string, store: string): WorkerProcess {
  const home = mkdtempSync(join(tmpdir(), 'mlpipe-bench-worker-'));
  return spawnWorker(address, queue, home, undefined, ['--max-concurrent-activities', '1'], {
    env: { MLPIPE_ARTIFACTS: store },
    cwd: REPO,
  });
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function searchWorkers(o: { trials?: number; address?: string } = {}): Promise<SearchWorkersResult> {
  const trials = o.trials ?? 16;
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-bench-search-'));
  let server: DevServer | undefined;
  const address =
    o.address ??
    process.env.MLPIPE_BENCH_TEMPORAL_ADDRESS ??
    (server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: null })).address;
  const client = new Client({ connection: await Connection.connect({ address }) });
  const seconds: number[] = [];
  try {
    for (const n of [1, 2]) {
      const queue = `bench-search-${process.pid}-${n}`;
      writeFileSync(join(dir, 'p.yaml'), spec(queue, trials));
      const { plan } = await compileFile(join(dir, 'p.yaml'));
      const store = mkdtempSync(join(tmpdir(), 'mlpipe-bench-store-'));
      const ws = Array.from({ length: n }, () => worker(address, queue, store));
      try {
        for (const w of ws) await until(() => /state: 'RUNNING'/.test(w.output()), 60_000, 'a worker polling');
        const h = await startRun(client, { plan: onQueue(plan, queue), taskQueue: queue, noCache: true });
        await h.result();
        const d = await client.workflow.getHandle(`${h.workflowId}.tune`).describe();
        seconds.push((d.closeTime!.getTime() - d.startTime.getTime()) / 1000);
      } finally {
        for (const w of ws) w.kill('SIGTERM');
        await Promise.all(ws.map((w) => (w.exitCode === null ? new Promise((r) => w.once('exit', r)) : undefined)));
      }
    }
  } finally {
    await client.connection.close();
    await server?.stop();
  }
  return { trials, one: seconds[0]!, two: seconds[1]! };
}

export function formatSearchWorkers(r: SearchWorkersResult): string {
  return [
    `search of ${r.trials} trials (each its own train activity), parallelism 2, workers with one slot each:`,
    `  1 worker : ${r.one.toFixed(1)} s`,
    `  2 workers: ${r.two.toFixed(1)} s`,
    `  speed-up : ${(r.one / r.two).toFixed(2)}x (goal close to 2x on two hosts; on one machine the workers share its cores)`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--trials');
  console.log(formatSearchWorkers(await searchWorkers(i > 0 ? { trials: Number(process.argv[i + 1]) } : {})));
}

import { join } from 'node:path';
import type { Command } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { mlpipeHome } from '../../home.ts';
import { buildActivities } from '../../../activities/index.ts';
import { UsageError } from '../errors.ts';
import { configFrom, loadPlan, withConnectionOptions } from '../temporal-options.ts';
import { checkedStore, withStoreOption } from '../store-option.ts';
import { checkedDb, withDbOption } from '../db-option.ts';
import { collectParam } from '../options.ts';
import { connectClient, connectWorkerConnection, type ConnectionFlags } from '../../temporal/connection.ts';
import { isServing, startDevServer, type DevServer } from '../../temporal/dev-server.ts';
import { followRun, outcomeText } from '../../temporal/follow.ts';
import { reportLine } from '../report-link.ts';
import { startRun } from '../../temporal/runs.ts';
import { createWorkers, runWorkers } from '../../temporal/worker.ts';

interface DevFlags extends ConnectionFlags {
  param: Record<string, string>;
  activities?: string;
  cache: boolean;
  exit?: boolean;
  uiPort: string;
}

export function register(program: Command): void {
  withDbOption(
    withStoreOption(
      withConnectionOptions(
        program
          .command('dev <file>')
          .description('one command for a newcomer: local Temporal server + worker + run + live follow (Ctrl-C exits)')
          .option('-p, --param <key=value>', 'set a param (repeatable)', collectParam, {})
          .option('--activities <module>', "your own activities (the 'activity' stage type); env MLPIPE_ACTIVITIES")
          .option('--no-cache', 'run every stage even when the step cache has its outputs')
          .option('--exit', 'exit when the run ends instead of keeping the UI up')
          .option('--ui-port <n>', 'Temporal Web UI port', '8233')
          .option('--verbose', "show TensorFlow's native start-up and info logs"),
      ),
    ),
  ).action(async (file: string, o: DevFlags) => {
    const { plan, source } = await loadPlan(file, o.param);
    const cfg = configFrom(o);
    await checkedStore();
    await checkedDb();
    // Our own Ctrl-C handling (below) shuts the workers down; the table shows failures, so the
    // SDK's own lines stay at errors, but a stage's warnings (activityLog.warn: a report it could
    // not write, a store running out of space) reach the user.
    Runtime.install({
      logger: new DefaultLogger('WARN', ({ level, message, meta }) => {
        if (level === 'ERROR' || meta?.sdkComponent === 'activity') process.stderr.write(`${level.toLowerCase()}: ${message}\n`);
      }),
      shutdownSignals: [],
    });

    let server: DevServer | undefined;
    if (!(await isServing(cfg.address))) {
      const [ip, port] = splitAddress(cfg.address);
      if (ip !== '127.0.0.1' && ip !== 'localhost') {
        throw new UsageError(`no Temporal server at ${cfg.address}, and dev only starts one on 127.0.0.1`);
      }
      server = await startDevServer({ dbFile: join(mlpipeHome(), 'temporal.db'), port, uiPort: Number(o.uiPort) });
      process.stdout.write(`Temporal dev server at ${server.address}; UI: ${server.uiUrl}\n`);
    }
    const uiBase = server?.uiUrl ?? `http://127.0.0.1:${o.uiPort}`;

    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    const connection = await connectWorkerConnection(cfg);
    const activities = await buildActivities({ home: mlpipeHome(), userModule: o.activities ?? process.env.MLPIPE_ACTIVITIES });
    const workers = await createWorkers({ connection, namespace: cfg.namespace, activities, shutdownGraceTime: '10s' });
    const running = runWorkers(workers);
    const client = await connectClient(cfg);
    try {
      const handle = await startRun(client, { plan, source, noCache: !o.cache });
      process.stdout.write(
        `started ${handle.workflowId}\n${uiBase}/namespaces/${cfg.namespace}/workflows/${encodeURIComponent(handle.workflowId)}\n`,
      );
      const view = await followRun(client, handle.workflowId, { signal: abort.signal });
      if (abort.signal.aborted && view.status === 'RUNNING') {
        process.stdout.write(
          `stopping: running stages get up to 10 s to finish or checkpoint; the run stays on the server ` +
            `(carry on with 'mlpipe server' + 'mlpipe worker')\n`,
        );
      } else {
        process.stdout.write(`${outcomeText(view)}\n${await reportLine(view)}`);
        if (view.status !== 'COMPLETED') process.exitCode = 1;
        if (!o.exit && !abort.signal.aborted) {
          process.stdout.write(`UI: ${uiBase} — Ctrl-C to stop the worker${server ? ' and the server' : ''}\n`);
          await new Promise((r) => abort.signal.addEventListener('abort', r, { once: true }));
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await client.connection.close().catch(() => undefined);
      await server?.stop();
    }
  });
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new UsageError(`--address must be host:port, got "${address}"`);
  return [address.slice(0, i), port];
}

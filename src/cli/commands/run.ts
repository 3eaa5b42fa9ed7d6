import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { clientFrom, configFrom, loadPlan, withConnectionOptions } from '../temporal-options.ts';
import { withStoreOption } from '../store-option.ts';
import { collectParam } from '../options.ts';
import { DEFAULT_ADDRESS, type ConnectionFlags } from '../../temporal/connection.ts';
import { followRun, outcomeText } from '../../temporal/follow.ts';
import { reportLine } from '../report-link.ts';
import { describeRun, startRun } from '../../temporal/runs.ts';

interface RunFlags extends ConnectionFlags {
  param: Record<string, string>;
  wait?: boolean;
  follow?: boolean;
  cache: boolean;
  runKey?: string;
  trigger: string;
  taskQueue?: string;
}

export function register(program: Command): void {
  withStoreOption(
    withConnectionOptions(
      program
        .command('run <file>')
        .description('compile a pipeline and start it as a Temporal workflow (id <pipeline>/<run key>)')
        .option('-p, --param <key=value>', 'set a param (repeatable)', collectParam, {})
        .option('--wait', 'wait for the result')
        .option('-f, --follow', 'show a live table of stages, then the result')
        .option('--no-cache', 'run every stage even when the step cache has its outputs')
        .option('--run-key <key>', 'the run key (default: UTC time + random suffix)')
        .option('--trigger <t>', 'manual | schedule | drift (search attribute MlpipeTrigger)', 'manual')
        .option('--task-queue <q>', 'workflow task queue (default mlpipe)'),
    ),
  ).action(async (file: string, o: RunFlags) => {
    if (!['manual', 'schedule', 'drift'].includes(o.trigger)) throw new UsageError(`--trigger must be manual, schedule or drift`);
    const { plan, source } = await loadPlan(file, o.param);
    const client = await clientFrom(o);
    const local = configFrom(o).address === DEFAULT_ADDRESS;
    const handle = await startRun(client, {
      plan,
      source,
      noCache: !o.cache,
      trigger: o.trigger as 'manual',
      ...(o.runKey ? { runKey: o.runKey } : {}),
      ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
    });
    process.stdout.write(`started ${handle.workflowId}\n`);
    if (local) {
      // Local mode: the dev server's UI (mlpipe server) shows the run with its stages.
      process.stdout.write(
        `http://127.0.0.1:8233/namespaces/${client.options.namespace}/workflows/${encodeURIComponent(handle.workflowId)}\n`,
      );
    }
    if (o.follow || o.wait) {
      const view = o.follow ? await followRun(client, handle.workflowId) : await waitFor(client, handle.workflowId);
      process.stdout.write(`${outcomeText(view)}\n${await reportLine(view)}`);
      if (view.status !== 'COMPLETED') process.exitCode = 1;
    }
    await client.connection.close();
  });
}

async function waitFor(client: Awaited<ReturnType<typeof clientFrom>>, id: string) {
  await client.workflow
    .getHandle(id)
    .result()
    .catch(() => undefined);
  return describeRun(client, id);
}

import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import { withStoreOption } from '../store-option.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { followRun, outcomeText } from '../../temporal/follow.ts';
import { reportLine } from '../report-link.ts';
import { rerunFrom } from '../../temporal/runs.ts';

export function register(program: Command): void {
  withStoreOption(
    withConnectionOptions(
      program
        .command('rerun <run>')
        .description('start a new run of the same plan from a stage, reusing every finished upstream stage')
        .requiredOption('--from <stage>', 'the first stage to run again (its downstream stages run again too)')
        .option('-f, --follow', 'show a live table of stages, then the result')
        .option('--no-cache', "do not use the step cache (nor the old run's checkpoints) for the stages that run again")
        .option('--task-queue <q>', "workflow task queue (default: the old run's)"),
    ),
  ).action(async (run: string, o: ConnectionFlags & { from: string; follow?: boolean; cache: boolean; taskQueue?: string }) => {
    const client = await clientFrom(o);
    let handle;
    try {
      handle = await rerunFrom(client, run, o.from, { noCache: !o.cache, ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}) });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    process.stdout.write(`started ${handle.workflowId} (reusing ${run} up to ${o.from})\n`);
    if (o.follow) {
      const view = await followRun(client, handle.workflowId);
      process.stdout.write(`${outcomeText(view)}\n${await reportLine(view)}`);
      if (view.status !== 'COMPLETED') process.exitCode = 1;
    }
    await client.connection.close();
  });
}

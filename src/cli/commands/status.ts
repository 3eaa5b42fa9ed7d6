import type { Command } from 'commander';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { outcomeText, stageLines } from '../../temporal/follow.ts';
import { describeRun } from '../../temporal/runs.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('status <run>')
      .description('stages of a run (<pipeline>/<run key>): status, attempts, progress, outputs')
      .option('--json', 'machine-readable'),
  ).action(async (run: string, o: ConnectionFlags & { json?: boolean }) => {
    const client = await clientFrom(o);
    const view = await describeRun(client, run);
    if (o.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else {
      process.stdout.write(`${view.workflowId}  ${view.status}\n`);
      for (const l of stageLines(view, Boolean(process.stdout.isTTY))) process.stdout.write(`  ${l}\n`);
      if (view.status !== 'RUNNING') process.stdout.write(`${outcomeText(view)}\n`);
    }
    await client.connection.close();
  });
}

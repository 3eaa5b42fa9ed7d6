import type { Command } from 'commander';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { failureMessage } from '../../temporal/runs.ts';
import { skipUpdate } from '../../../workflows/api.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('skip <run> <stage>')
      .description('skip a stage waiting after a failure or at an approval gate (its dependents are skipped too)'),
  ).action(async (run: string, stage: string, o: ConnectionFlags) => {
    const client = await clientFrom(o);
    try {
      const msg = await client.workflow.getHandle(run).executeUpdate(skipUpdate, { args: [stage] });
      process.stdout.write(`${msg}\n`);
    } catch (err) {
      throw new Error(failureMessage(err));
    } finally {
      await client.connection.close();
    }
  });
}

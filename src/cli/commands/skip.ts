import type { Command } from 'commander';
import { clientFrom, withConnectionOptions } from '../../temporal/cli-support.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { failureMessage } from '../../temporal/runs.ts';
import { approveUpdate, skipUpdate } from '../../../workflows/api.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('skip <run> <stage>')
      .description('skip a stage waiting after a failure or at an approval gate (its dependents are skipped too)')
      .option('--approve', 'approve the gated stage instead of skipping it'),
  ).action(async (run: string, stage: string, o: ConnectionFlags & { approve?: boolean }) => {
    const client = await clientFrom(o);
    try {
      const msg = await client.workflow.getHandle(run).executeUpdate(o.approve ? approveUpdate : skipUpdate, { args: [stage] });
      process.stdout.write(`${msg}\n`);
    } catch (err) {
      throw new Error(failureMessage(err));
    } finally {
      await client.connection.close();
    }
  });
}

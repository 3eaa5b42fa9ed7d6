import type { Command } from 'commander';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { failureMessage } from '../../temporal/runs.ts';
import { approveUpdate } from '../../../workflows/api.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program.command('approve <run> <stage>').description('let a stage waiting at its approval gate (approval: true) start'),
  ).action(async (run: string, stage: string, o: ConnectionFlags) => {
    const client = await clientFrom(o);
    try {
      process.stdout.write(`${await client.workflow.getHandle(run).executeUpdate(approveUpdate, { args: [stage] })}\n`);
    } catch (err) {
      throw new Error(failureMessage(err));
    } finally {
      await client.connection.close();
    }
  });
}

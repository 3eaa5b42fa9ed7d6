import type { Command } from 'commander';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program.command('cancel <run>').description('cancel a run: running stages are cancelled (they can checkpoint)'),
  ).action(async (run: string, o: ConnectionFlags) => {
    const client = await clientFrom(o);
    await client.workflow.getHandle(run).cancel();
    process.stdout.write(`cancel requested for ${run}\n`);
    await client.connection.close();
  });
}

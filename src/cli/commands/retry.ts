import type { Command } from 'commander';
import type { JsonObject } from '../../core/plan.ts';
import { UsageError } from '../errors.ts';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';
import { collectParam } from '../options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { failureMessage } from '../../temporal/runs.ts';
import { retryUpdate } from '../../../workflows/api.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('retry <run> <stage>')
      .description('fix and continue: run a stage that is waiting after a failure (onFailure: wait) again')
      .option('--config <json>', 'JSON object merged into the stage config for the new attempt')
      .option('-p, --param <key=value>', 'override a run param from now on (repeatable)', collectParam, {}),
  ).action(async (run: string, stage: string, o: ConnectionFlags & { config?: string; param: Record<string, string> }) => {
    let config: JsonObject | undefined;
    if (o.config) {
      try {
        config = JSON.parse(o.config) as JsonObject;
      } catch (err) {
        throw new UsageError(`--config is not JSON: ${(err as Error).message}`);
      }
      if (!config || typeof config !== 'object' || Array.isArray(config)) throw new UsageError('--config must be a JSON object');
    }
    const params = Object.keys(o.param).length ? o.param : undefined;
    const client = await clientFrom(o);
    try {
      const msg = await client.workflow.getHandle(run).executeUpdate(retryUpdate, { args: [{ stage, config, params }] });
      process.stdout.write(`${msg}\n`);
    } catch (err) {
      throw new Error(failureMessage(err));
    } finally {
      await client.connection.close();
    }
  });
}

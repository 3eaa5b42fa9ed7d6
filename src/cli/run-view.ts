// A run as Temporal has it, when the server answers within a few seconds (report, artifacts).
import type { ConnectionFlags } from '../temporal/connection.ts';
import type { RunView } from '../temporal/runs.ts';
import { clientFrom } from './temporal-options.ts';

/**
 * The run's stages as Temporal has them, when the server answers within a few seconds: they name
 * the stages taken from the step cache, whose sections the report then gets. Without a server
 * the report is what the store holds.
 */
export async function viewIfReachable(run: string, o: ConnectionFlags): Promise<RunView | undefined> {
  const { describeRun } = await import('../temporal/runs.ts');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 5_000)));
  const attempt = (async () => {
    const client = await clientFrom(o, { connectTimeoutMs: 3_000 }); // the store answers without a server: do not wait long
    try {
      return await describeRun(client, run);
    } finally {
      await client.connection.close();
    }
  })().catch(() => undefined);
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import type { Command } from 'commander';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import type { RunView } from '../../temporal/runs.ts';
import { ReportedFailure } from '../errors.ts';
import { withStoreOption } from '../store-option.ts';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';

/**
 * The run's stages as Temporal has them, when the server answers within a few seconds: they name
 * the stages taken from the step cache, whose sections the report then gets. Without a server
 * the report is what the store holds.
 */
async function viewIfReachable(run: string, o: ConnectionFlags): Promise<RunView | undefined> {
  const { describeRun } = await import('../../temporal/runs.ts');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 5_000)));
  const attempt = (async () => {
    const client = await clientFrom(o, { connectTimeoutMs: 3_000 }); // a report needs no server: do not wait long
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

export function register(program: Command): void {
  withConnectionOptions(
    withStoreOption(
      program
        .command('report <run>')
        .description("fetch a run's HTML report (loss curves, confusion matrix, lineage) from the store and print its local path"),
    ),
  ).action(async (run: string, o: ConnectionFlags) => {
    const { defaultStore } = await import('../../artifacts/index.ts');
    const { findReport } = await import('../report-link.ts');
    const store = defaultStore();
    const file = await findReport(run, store, await viewIfReachable(run, o));
    if (!file) {
      process.stderr.write(
        `mlpipe: no report for ${run} in the store at ${store.location}\n` +
          '  reports are written by train and evaluate stages into the artifact store: check the run id (mlpipe list) ' +
          'and that --store / MLPIPE_STORE names the store the workers use\n',
      );
      throw new ReportedFailure('no report');
    }
    process.stdout.write(`${file}\n`);
  });
}

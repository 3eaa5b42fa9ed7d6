import type { Command } from 'commander';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { ReportedFailure } from '../errors.ts';
import { withStoreOption } from '../store-option.ts';
import { viewIfReachable } from '../run-view.ts';
import { withConnectionOptions } from '../temporal-options.ts';

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

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ReportedFailure } from '../errors.ts';

export function register(program: Command): void {
  program
    .command('report <run>')
    .description("print where a run's HTML report is (loss curves, confusion matrix, lineage)")
    .action(async (run: string) => {
      const { reportPath } = await import('../../ml/report.ts');
      const file = reportPath(run);
      if (!existsSync(file)) {
        process.stderr.write(
          `mlpipe: no report for ${run} at ${file}\n` +
            '  reports are written by train and evaluate stages into the worker\'s MLPIPE_HOME: ' +
            'check the run id (mlpipe list) and, in cluster mode, look on the worker that ran them\n',
        );
        throw new ReportedFailure('no report');
      }
      process.stdout.write(`${file}\n`);
    });
}

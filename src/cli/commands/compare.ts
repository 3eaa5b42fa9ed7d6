import type { Command } from 'commander';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { writeComparePage } from '../compare-page.ts';
import { UsageError } from '../errors.ts';
import { withStoreOption } from '../store-option.ts';
import { clientFrom, withConnectionOptions } from '../temporal-options.ts';

export function register(program: Command): void {
  withConnectionOptions(
    withStoreOption(
      program
        .command('compare <runs...>')
        .description('runs side by side: params, plan, git sha, data digests and results; `*` marks what differs')
        .option('--json', 'machine-readable')
        .option('--html [file]', 'also write a page with the metrics across the runs and the loss curves overlaid'),
    ),
  ).action(async (ids: string[], o: ConnectionFlags & { json?: boolean; html?: string | boolean }) => {
    if (ids.length < 2) throw new UsageError('compare needs two runs or more (ids from `mlpipe list`)');
    const { summarizeRun, compareRows, compareText } = await import('../../temporal/compare.ts');
    const client = await clientFrom(o);
    try {
      const runs = await Promise.all(ids.map((id) => summarizeRun(client, id)));
      const rows = compareRows(runs);
      if (o.json) process.stdout.write(`${JSON.stringify({ runs: runs.map(({ stages: _, ...r }) => r), rows }, null, 2)}\n`);
      else process.stdout.write(compareText(runs, rows));
      if (o.html)
        await writeComparePage(runs, rows, {
          html: o.html,
          json: o.json,
          label: 'compare',
          name: ids.map((i) => i.replace(/[^A-Za-z0-9._-]+/g, '_')).join('--'),
        });
    } finally {
      await client.connection.close();
    }
  });
}

import type { Command } from 'commander';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { PIPELINE_WORKFLOW_TYPE } from '../../../workflows/api.ts';
import { writeComparePage } from '../compare-page.ts';
import { withStoreOption } from '../store-option.ts';
import { clientFrom, positiveInt, withConnectionOptions } from '../temporal-options.ts';

/**
 * A pipeline's runs over time: `mlpipe runs iris-mlp --metrics` is `compare` of its latest runs,
 * oldest first, one line per run (what changed in params and what came out), so a retrain
 * schedule's history reads top to bottom; `--html` charts each result across them.
 */
export function register(program: Command): void {
  withConnectionOptions(
    withStoreOption(
      program
        .command('runs <pipeline>')
        .description("a pipeline's runs, oldest first; --metrics adds the params that vary and every result")
        .option('--metrics', 'params that differ between the runs, and each run’s results')
        .option('--limit <n>', 'the latest n runs', positiveInt('--limit'), 10)
        .option('--json', 'machine-readable')
        .option('--html [file]', 'also write a page charting each result across the runs, loss curves overlaid'),
    ),
  ).action(async (pipeline: string, o: ConnectionFlags & { metrics?: boolean; limit: number; json?: boolean; html?: string | boolean }) => {
    const client = await clientFrom(o);
    try {
      const query = `WorkflowType = '${PIPELINE_WORKFLOW_TYPE}' AND MlpipePipeline = '${pipeline.replace(/'/g, "\\'")}'`;
      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query })) {
        ids.push(wf.workflowId);
        if (ids.length >= o.limit) break;
      }
      if (ids.length === 0) {
        process.stdout.write(`no runs of ${pipeline}\n`);
        return;
      }
      ids.reverse(); // visibility lists newest first; a history reads oldest first
      const { summarizeRun, compareRows, runsTable } = await import('../../temporal/compare.ts');
      const runs = await Promise.all(ids.map((id) => summarizeRun(client, id)));
      const rows = compareRows(runs);
      if (o.json) process.stdout.write(`${JSON.stringify({ runs: runs.map(({ stages: _, ...r }) => r) }, null, 2)}\n`);
      else process.stdout.write(runsTable(runs, rows, Boolean(o.metrics)));
      if (o.html) await writeComparePage(runs, rows, { html: o.html, json: o.json, label: 'runs', name: `${pipeline}-runs` });
    } finally {
      await client.connection.close();
    }
  });
}

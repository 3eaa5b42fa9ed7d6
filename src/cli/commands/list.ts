import type { Command } from 'commander';
import { clientFrom, positiveInt, withConnectionOptions } from '../temporal-options.ts';
import type { ConnectionFlags } from '../../temporal/connection.ts';
import { PIPELINE_WORKFLOW_TYPE } from '../../../workflows/api.ts';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('list')
      .description('recent runs, newest first')
      .option('--pipeline <name>', "only this pipeline's runs")
      .option('--limit <n>', 'at most this many', positiveInt('--limit'), 20),
  ).action(async (o: ConnectionFlags & { pipeline?: string; limit: number }) => {
    const client = await clientFrom(o);
    const q = [`WorkflowType = '${PIPELINE_WORKFLOW_TYPE}'`];
    if (o.pipeline) q.push(`MlpipePipeline = '${o.pipeline.replace(/'/g, "\\'")}'`);
    let n = 0;
    for await (const wf of client.workflow.list({ query: q.join(' AND ') })) {
      const when = wf.startTime.toISOString().replace('T', ' ').slice(0, 19);
      process.stdout.write(`${wf.workflowId.padEnd(48)} ${wf.status.name.padEnd(10)} ${when}\n`);
      if (++n >= o.limit) break;
    }
    if (n === 0) process.stdout.write('no runs\n');
    await client.connection.close();
  });
}

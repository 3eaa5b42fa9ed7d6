import { resolve } from 'node:path';
import type { Command } from 'commander';
import { mlpipeHome } from '../../home.ts';
import { buildActivities } from '../../../activities/index.ts';
import { configFrom, positiveInt, withConnectionOptions } from '../temporal-options.ts';
import { checkedStore, withStoreOption } from '../store-option.ts';
import { checkedDb, withDbOption } from '../db-option.ts';
import { connectWorkerConnection, type ConnectionFlags } from '../../temporal/connection.ts';
import { createWorkers, runWorkers } from '../../temporal/worker.ts';
import { DEFAULT_TASK_QUEUE } from '../../../workflows/api.ts';

interface WorkerFlags extends ConnectionFlags {
  activities?: string;
  taskQueue: string;
  queue: string[];
  gpus: number;
  gpuQueue: boolean;
  maxConcurrentActivities: number;
  shutdownGrace: string;
  repoRoot?: string;
}

/** What training will run on here, so an operator sees a missing native build or GPU at start. */
async function trainingLine(servesGpuQueue: boolean): Promise<string> {
  const { selectBackend } = await import('../../ml/runtime/backend.ts');
  const { graphStepUnavailable } = await import('../../ml/train/graph/trainer.ts');
  const { tf, info } = selectBackend();
  const why = graphStepUnavailable(tf);
  let line =
    `training: ${info.backend}${info.tfVersion ? ` (TensorFlow ${info.tfVersion})` : ''}, graph ` + `steps ${why ? `off: ${why}` : 'on'}`;
  if (servesGpuQueue && info.backend !== 'tensorflow-gpu') {
    line +=
      `\nnote: this worker serves the GPU queue without a CUDA backend, so GPU stages train on the CPU ` +
      'here; pass --no-gpu-queue on CPU-only workers of a cluster';
  }
  return line;
}

export function register(program: Command): void {
  withDbOption(
    withStoreOption(
      withConnectionOptions(
        program
          .command('worker')
          .description('run pipeline workflows and stage activities until SIGINT/SIGTERM')
          .option('--activities <module>', "your own activities (the 'activity' stage type); env MLPIPE_ACTIVITIES")
          .option('--task-queue <q>', 'queue for workflows and CPU stages', DEFAULT_TASK_QUEUE)
          .option('--queue <q>', 'also serve activities of this queue (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
          .option('--gpus <n>', 'GPUs here: GPU-queue stages run at most one per GPU (default 1 slot)', positiveInt('--gpus'), 1)
          .option('--no-gpu-queue', 'do not serve the mlpipe-gpu queue (CPU-only worker in a cluster)')
          .option('--max-concurrent-activities <n>', 'stages at once on the main queue', positiveInt('--max-concurrent-activities'), 4)
          .option('--shutdown-grace <duration>', 'time running stages get to checkpoint on shutdown', '30s')
          .option(
            '--repo-root <dir>',
            "this worker's checkout of the pipelines' git repo: collect stages read relative paths there (env MLPIPE_REPO_ROOT)",
          )
          .option('--verbose', "show TensorFlow's native start-up and info logs"),
      ),
    ),
  ).action(async (o: WorkerFlags) => {
    const cfg = configFrom(o);
    if (o.repoRoot) process.env.MLPIPE_REPO_ROOT = resolve(o.repoRoot);
    const store = await checkedStore(); // a wrong bucket or credentials fail here, not in every stage
    const db = await checkedDb(); // likewise a database down, or one a newer mlpipe migrated
    const connection = await connectWorkerConnection(cfg);
    const activities = await buildActivities({
      home: mlpipeHome(),
      userModule: o.activities ?? process.env.MLPIPE_ACTIVITIES,
    });
    const workers = await createWorkers({
      connection,
      namespace: cfg.namespace,
      activities,
      taskQueue: o.taskQueue,
      extraQueues: o.queue,
      gpuQueue: o.gpuQueue,
      gpus: o.gpus,
      maxConcurrentActivities: o.maxConcurrentActivities,
      shutdownGraceTime: o.shutdownGrace,
    });
    const queues = workers.map((w) => w.options.taskQueue).join(', ');
    process.stdout.write(`mlpipe worker on ${cfg.address} (${cfg.namespace}), queues: ${queues}. Ctrl-C to stop.\n`);
    process.stdout.write(`artifacts: ${store}\nmetadata: ${db}\n${await trainingLine(o.gpuQueue)}\n`);
    // The SDK's Runtime turns SIGINT/SIGTERM into a graceful shutdown of every worker.
    await runWorkers(workers);
    await connection.close();
    process.stdout.write('worker stopped\n');
  });
}

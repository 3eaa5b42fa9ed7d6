/**
 * Worker plumbing: one Worker per task queue, all sharing this process's workflow bundle.
 *   - `mlpipe` (default queue): the pipeline workflow + every activity, `maxConcurrentActivities`.
 *   - `mlpipe-gpu`: activities only, at most one per GPU at a time (training holds a whole GPU).
 *   - any extra queue a spec names: activities only.
 * Shutdown (SIGINT/SIGTERM, handled by the SDK's Runtime): workers stop polling, running
 * activities get `shutdownGraceTime` to finish and are then cancelled (their cancellationSignal
 * fires) so they can checkpoint; the retry on another worker resumes from the last heartbeat.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import { DEFAULT_TASK_QUEUE, GPU_TASK_QUEUE } from '../../workflows/api.ts';
import { workflowBundle } from './bundle.ts';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  activities: object;
  /** Queue that also runs workflows (default `mlpipe`). */
  taskQueue?: string;
  /** Poll the GPU queue (default true). */
  gpuQueue?: boolean;
  /** GPUs on this machine: concurrent activities on the GPU queue (at least 1 when polled). */
  gpus?: number;
  /** The GPU queue's name (default `mlpipe-gpu`; tests use their own). */
  gpuTaskQueue?: string;
  /** More activity-only queues (named by specs). */
  extraQueues?: string[];
  /** Concurrent activities on the default queue (default 4). */
  maxConcurrentActivities?: number;
  /** How long running activities get to checkpoint on shutdown (default 30 s). */
  shutdownGraceTime?: string | number;
  identity?: string;
  /**
   * Longest gap between heartbeats sent to the server (default 2 s, SDK default 60 s): progress
   * bars stay live even for stages with a long heartbeat timeout.
   */
  heartbeatThrottle?: string | number;
}

export async function createWorkers(o: WorkerSetOptions): Promise<Worker[]> {
  const bundle = await workflowBundle();
  const common = {
    connection: o.connection,
    namespace: o.namespace,
    activities: o.activities,
    shutdownGraceTime: o.shutdownGraceTime ?? '30s',
    maxHeartbeatThrottleInterval: o.heartbeatThrottle ?? '2s',
    defaultHeartbeatThrottleInterval: o.heartbeatThrottle ?? '2s',
    ...(o.identity ? { identity: o.identity } : {}),
  };
  const main = o.taskQueue ?? DEFAULT_TASK_QUEUE;
  const workers = [
    await Worker.create({
      ...common,
      taskQueue: main,
      workflowBundle: bundle,
      maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 4,
    }),
  ];
  const queues = new Set<string>(o.extraQueues ?? []);
  queues.delete(main);
  if (o.gpuQueue !== false) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: o.gpuTaskQueue ?? GPU_TASK_QUEUE,
        maxConcurrentActivityTaskExecutions: Math.max(1, o.gpus ?? 1),
      }),
    );
    queues.delete(o.gpuTaskQueue ?? GPU_TASK_QUEUE);
  }
  for (const q of queues) {
    workers.push(await Worker.create({ ...common, taskQueue: q, maxConcurrentActivityTaskExecutions: o.maxConcurrentActivities ?? 4 }));
  }
  return workers;
}

/** Runs the workers until they shut down (signal or `shutdown()`); rejects if one fails. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const runs = workers.map((w) => w.run());
  try {
    await Promise.all(runs);
  } catch (err) {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
    throw err;
  }
}

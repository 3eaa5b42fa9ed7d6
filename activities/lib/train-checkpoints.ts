// Train's checkpoints: which one a retry or rerun resumes from, when a new one is written and how
// many are kept, and the heartbeat that names the latest (activities/train.ts drives them).
import { canonicalJson } from '../../src/core/canonical.ts';
import { type ArtifactRef, isArtifactRef, type StageActivityInput } from '../../src/core/plan.ts';
import { sha256Hex } from '../../src/hash.ts';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../src/ml/train/checkpoint.ts';
import type { EpochLogs, TrainingState } from '../../src/ml/train/fit.ts';
import type { StageConfig } from '../../src/spec/stages/descriptor.ts';
import { activityLog, type HeartbeatDetails, type Progress } from '../../src/temporal/progress.ts';
import { lineage, where, type StageEnv } from './stage.ts';

/** Train's progress: epochs completed (and the batch within the next), and the latest epoch's metrics. */
export interface TrainProgress extends Progress {
  stage: string;
  /** Epochs completed. */
  epoch: number;
  epochs: number;
  batch?: number;
  batches?: number;
}

/** The checkpoint a retry resumes from: the artifact and the epochs it holds. */
export interface TrainCheckpoint {
  ref: ArtifactRef;
  epoch: number;
}

/** Train's heartbeat, in the shape every mlpipe heartbeat has (src/temporal/progress.ts). */
export type TrainHeartbeat = HeartbeatDetails<TrainCheckpoint> & { progress: TrainProgress };

export type EpochHistory = Array<{ epoch: number; logs: EpochLogs }>;

/**
 * The checkpoint named in the previous attempt's heartbeat. Besides `{ progress, checkpoint: {
 * ref, epoch } }`, it reads the flat shape earlier versions sent (`{ stage, epoch, epochs,
 * checkpoint: ArtifactRef | null, checkpointEpoch, metrics }`): a worker upgraded while a run
 * trains resumes from the checkpoint the old worker reported.
 */
export function heartbeatCheckpoint(details: unknown): ArtifactRef | undefined {
  if (!details || typeof details !== 'object') return undefined;
  const cp = (details as { checkpoint?: unknown }).checkpoint;
  if (isArtifactRef(cp)) return cp; // the flat shape
  if (cp && typeof cp === 'object' && isArtifactRef((cp as Partial<TrainCheckpoint>).ref)) return (cp as TrainCheckpoint).ref;
  return undefined;
}

/** What a checkpoint of another run must match to be resumed from: this stage's config and inputs. */
function fingerprint(input: StageActivityInput): string {
  const inputs = Object.fromEntries(Object.entries(input.inputs).map(([k, v]) => [k, v.digest]));
  return sha256Hex(canonicalJson({ kind: input.kind, config: input.config, inputs }));
}

/**
 * A run's checkpoints of this stage, oldest first: of the plan `planHash` only (what a resume may
 * use), or of any plan (null: retention counts every checkpoint the stage left in the run).
 */
async function stageCheckpoints(
  input: StageActivityInput,
  env: StageEnv,
  workflowId: string,
  planHash: string | null,
): Promise<ArtifactRef[]> {
  const recs = await env.store.list(workflowId);
  return recs
    .filter(
      (r) =>
        r.lineage.stage === input.stage &&
        (planHash === null || r.lineage.planHash === planHash) &&
        r.lineage.name?.startsWith('checkpoint-'),
    )
    .map((r) => r.ref);
}

/** A run's checkpoints of this stage from the same plan, newest first. */
async function checkpointsOf(input: StageActivityInput, env: StageEnv, workflowId: string): Promise<ArtifactRef[]> {
  return (await stageCheckpoints(input, env, workflowId, input.run.planHash)).reverse();
}

/**
 * Checkpoints a retry may resume from, best first: the one named in the last heartbeat, then
 * (the last heartbeat may not have reached the server before the worker died) this run's
 * checkpoints of the stage from the same plan, newest first; with none, on a rerun, the earlier
 * run's.
 */
async function resumeCandidates(input: StageActivityInput, env: StageEnv): Promise<ArtifactRef[]> {
  const out: ArtifactRef[] = [];
  const fromHeartbeat = heartbeatCheckpoint(env.heartbeatDetails);
  if (fromHeartbeat) out.push(fromHeartbeat);
  // A promoted trial continues from its checkpoint of the earlier rung from its first attempt.
  if (env.attempt > 1 || out.length > 0 || input.trial?.continues) {
    for (const r of await checkpointsOf(input, env, input.run.workflowId)) if (!out.some((o) => o.digest === r.digest)) out.push(r);
  }
  if (out.length === 0 && input.run.rerunOf) out.push(...(await checkpointsOf(input, env, input.run.rerunOf)));
  return out;
}

/** The first usable checkpoint; a corrupt or vanished one is skipped (with a warning), not fatal. */
async function loadResume(input: StageActivityInput, env: StageEnv, epochs: number): Promise<{ ref: ArtifactRef; cp: Checkpoint } | null> {
  for (const ref of await resumeCandidates(input, env)) {
    try {
      const cp = decodeCheckpoint(await env.store.get(ref));
      // A trial promoted to a later rung may resume a checkpoint planned for fewer epochs.
      const sameRun = cp.header.workflowId === input.run.workflowId;
      const own = sameRun && (cp.header.epochs === epochs || (!!input.trial?.continues && cp.header.epoch <= epochs));
      const earlier = !!input.run.rerunOf && cp.header.workflowId === input.run.rerunOf && cp.header.fingerprint === fingerprint(input);
      if (cp.header.stage !== input.stage || !(own || earlier)) {
        activityLog.warn(`${where(input)}: checkpoint ${ref.digest} is for another run or configuration; not resuming from it`);
        continue;
      }
      if (earlier)
        activityLog.info(
          `${where(input)}: resuming at epoch ${cp.header.epoch} from the checkpoint of the earlier run ${input.run.rerunOf}`,
        );
      return { ref, cp };
    } catch (e) {
      activityLog.warn(`${where(input)}: checkpoint ${ref.digest} is unusable (${(e as Error).message}); trying an older one`);
    }
  }
  return null;
}

/** What the checkpointer needs of the train config. */
export interface CheckpointSettings {
  epochs: number;
  seed: number;
  /** Batches per epoch, reported with batch progress. */
  batches: number;
  checkpoint?: StageConfig<'train'>['checkpoint'];
}

/**
 * One training attempt's checkpoints and progress: it resumes from the best usable checkpoint,
 * writes new ones when due (keeping the last `keepLast` across attempts), collects the epoch
 * history, and heartbeats the progress with the latest checkpoint so a retry can resume from it.
 */
export class TrainCheckpointer {
  history: EpochHistory = [];
  /** The fit state to continue from, when resuming. */
  resumeFrom: TrainingState | undefined;
  /** The latest checkpoint written or resumed from. */
  last: TrainCheckpoint | null = null;
  private latest: EpochLogs = {};
  private lastSaveAt = 0;
  private saved: ArtifactRef[] = [];
  private readonly everyEpochs: number | undefined;
  private readonly everyMs: number | undefined;
  private readonly keepLast: number;

  private constructor(
    private readonly input: StageActivityInput,
    private readonly env: StageEnv,
    private readonly settings: CheckpointSettings,
  ) {
    const every = settings.checkpoint;
    this.everyEpochs = every?.everyEpochs ?? (every?.everyMinutes ? undefined : 1);
    this.everyMs = every?.everyMinutes ? every.everyMinutes * 60_000 : undefined;
    this.keepLast = every?.keepLast ?? 3;
  }

  /** Resumes from the best usable checkpoint, if any, and sends the first heartbeat. */
  static async open(input: StageActivityInput, env: StageEnv, settings: CheckpointSettings): Promise<TrainCheckpointer> {
    const c = new TrainCheckpointer(input, env, settings);
    const resume = await loadResume(input, env, settings.epochs);
    if (resume) {
      c.resumeFrom = resume.cp.state;
      c.history = resume.cp.header.history;
      c.last = { ref: resume.ref, epoch: resume.cp.header.epoch };
    }
    c.lastSaveAt = Date.now();
    // Retention spans attempts: start from this run's checkpoints of the stage, oldest first.
    c.saved = await stageCheckpoints(input, env, input.run.workflowId, null);
    c.latest = c.history.at(-1)?.logs ?? {};
    c.beat(c.startEpoch);
    return c;
  }

  /** The epoch this attempt starts at (0 unless resuming). */
  get startEpoch(): number {
    return this.resumeFrom?.nextEpoch ?? 0;
  }

  beat(epoch: number, batch?: number): void {
    const { input, settings, last } = this;
    this.env.heartbeat({
      progress: {
        ...this.latest,
        stage: input.stage,
        epoch,
        epochs: settings.epochs,
        ...(batch !== undefined ? { batch, batches: settings.batches } : {}),
      },
      ...(last ? { checkpoint: last } : {}),
    } satisfies TrainHeartbeat);
  }

  epochEnd(epoch: number, logs: EpochLogs): void {
    this.history.push({ epoch, logs });
    this.latest = logs;
    this.beat(epoch + 1);
  }

  /** Writes a checkpoint of `state` when one is due, then drops the oldest beyond `keepLast`. */
  async offer(state: TrainingState): Promise<void> {
    const { input, env, settings } = this;
    const due =
      (this.everyEpochs !== undefined && state.nextEpoch % this.everyEpochs === 0) ||
      (this.everyMs !== undefined && Date.now() - this.lastSaveAt >= this.everyMs) ||
      state.nextEpoch === settings.epochs;
    if (!due) return;
    const header = {
      workflowId: input.run.workflowId,
      stage: input.stage,
      epochs: settings.epochs,
      seed: settings.seed,
      history: this.history,
      fingerprint: fingerprint(input),
    };
    const ref = await env.store.put(encodeCheckpoint(state, header), {
      kind: 'model',
      lineage: lineage(input, env, `checkpoint-epoch-${state.nextEpoch}`),
    });
    this.last = { ref, epoch: state.nextEpoch };
    this.lastSaveAt = Date.now();
    this.saved.push(ref);
    while (this.saved.length > this.keepLast) await env.store.remove?.(this.saved.shift()!, input.run.workflowId);
    this.beat(state.nextEpoch);
  }
}

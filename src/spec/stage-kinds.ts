/**
 * What each stage kind reads and produces. The compiler binds inputs from this table, the
 * semantic checks use it to reject type mismatches (train needs a dataset, deploy a model) and
 * references to outputs that do not exist, and activities must return exactly these outputs.
 */
import type { ArtifactKind, OutputType, StageKind } from '../core/plan.ts';

export interface InputSpec {
  kind: ArtifactKind;
  required: boolean;
}

type StageFields = Record<string, unknown>;

export const STAGE_INPUTS: Record<StageKind, Record<string, InputSpec>> = {
  collect: {},
  preprocess: { dataset: { kind: 'dataset', required: true } },
  train: { dataset: { kind: 'dataset', required: true }, model: { kind: 'model', required: false } },
  evaluate: { model: { kind: 'model', required: true }, dataset: { kind: 'dataset', required: true } },
  optimize: { dataset: { kind: 'dataset', required: true } },
  deploy: { model: { kind: 'model', required: true }, transform: { kind: 'transform', required: false } },
  monitor: { deployment: { kind: 'deployment', required: false }, dataset: { kind: 'dataset', required: false } },
  activity: {},
};

/** Outputs of a stage, from its kind and (for some kinds) its own fields. */
export function stageOutputs(kind: StageKind, stage: StageFields): Record<string, OutputType> {
  switch (kind) {
    case 'collect':
      return { dataset: 'dataset', rows: 'number' };
    case 'preprocess':
      return { dataset: 'dataset', transform: 'transform', rows: 'number' };
    case 'train': {
      const out: Record<string, OutputType> = { model: 'model', history: 'metrics', loss: 'number', val_loss: 'number', epochs: 'number', backend: 'string' };
      for (const m of (stage.metrics as string[] | undefined) ?? []) {
        out[m] = 'number';
        out[`val_${m}`] = 'number';
      }
      return out;
    }
    case 'evaluate': {
      const out: Record<string, OutputType> = { metrics: 'metrics', passed: 'boolean' };
      for (const m of (stage.metrics as string[] | undefined) ?? []) out[m] = m === 'confusionMatrix' ? 'object' : 'number';
      return out;
    }
    case 'optimize':
      return { model: 'model', best: 'object', bestValue: 'number', trials: 'metrics' };
    case 'deploy':
      return { deployment: 'deployment', version: 'string', endpoint: 'string' };
    case 'monitor':
      return { report: 'metrics', drifted: 'boolean', breached: 'boolean' };
    case 'activity':
      return { ...((stage.outputs as Record<string, OutputType> | undefined) ?? {}) };
  }
}

/** Fields every stage kind shares; the rest of a stage is its kind's own config. */
export const COMMON_FIELDS = new Set([
  'type',
  'description',
  'needs',
  'inputs',
  'when',
  'retry',
  'timeouts',
  'heartbeatTimeout',
  'taskQueue',
  'resources',
  'cache',
  'onFailure',
  'approval',
]);

const ARTIFACT_KINDS = new Set<string>(['dataset', 'transform', 'model', 'metrics', 'deployment', 'report']);
export function isArtifactType(t: OutputType): t is ArtifactKind {
  return ARTIFACT_KINDS.has(t);
}

/** Default start-to-close timeout by kind: training-like stages run long. */
export function defaultStartToClose(kind: StageKind): string {
  return kind === 'train' || kind === 'optimize' ? '2h' : '10m';
}

/**
 * Default heartbeat timeout, the same for every kind: every stage heartbeats while it runs (user
 * activities through their worker, activities/lib/user-run.ts), so a worker that dies mid-stage
 * is noticed within a minute instead of at the start-to-close timeout.
 */
export const DEFAULT_HEARTBEAT = '1m';

/**
 * The pipeline workflow's public surface: its input/result, the stage states its `status` query
 * returns, and the signal/update/query definitions the CLI uses. Pure definitions: imported by the
 * workflow (inside the sandbox) and by clients (in Node).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { JsonObject, JsonValue, ParamValue, Plan } from '../src/core/plan.ts';
import { STAGE_PROGRESS_SIGNAL, type StageProgress } from '../src/core/activities.ts';

export const PIPELINE_WORKFLOW_TYPE = 'pipeline';
export const DEFAULT_TASK_QUEUE = 'mlpipe';
export const GPU_TASK_QUEUE = 'mlpipe-gpu';

export const SA_PIPELINE = defineSearchAttributeKey('MlpipePipeline', SearchAttributeType.KEYWORD);
export const SA_GIT_SHA = defineSearchAttributeKey('MlpipeGitSha', SearchAttributeType.KEYWORD);
export const SA_PLAN_HASH = defineSearchAttributeKey('MlpipePlanHash', SearchAttributeType.KEYWORD);
export const SA_TRIGGER = defineSearchAttributeKey('MlpipeTrigger', SearchAttributeType.KEYWORD);

export type Trigger = 'manual' | 'schedule' | 'drift';

export type StageStatus =
  | 'pending'
  | 'awaiting-approval'
  | 'running'
  | 'awaiting-operator'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export const TERMINAL: readonly StageStatus[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

export interface StageState {
  status: StageStatus;
  kind: string;
  /** Activity attempts of the latest round (as far as the workflow knows). */
  attempts: number;
  /** Operator retries + 1. */
  rounds: number;
  startedAt?: string;
  endedAt?: string;
  outputs: Record<string, JsonValue>;
  /** Outputs came from the step cache (or, in a rerun, from the original run). */
  cached?: boolean;
  cacheKey?: string;
  /** Why it was skipped / its last error. */
  reason?: string;
  error?: string;
  /** A forEach stage: each item's own state, in item order (its outputs are lists of theirs). */
  items?: ItemState[];
}

/** One item of a forEach stage (id `<stage>[<index>]`): the item and how its unit went. */
export interface ItemState extends StageState {
  item: JsonValue;
}

export interface PipelineInput {
  plan: Plan;
  /** Skip cache look-ups for this run (results are still stored). */
  noCache?: boolean;
  trigger?: Trigger;
  gitSha?: string;
  /** Stages whose outputs are taken as given (`mlpipe rerun --from`): not run again. */
  reuse?: Record<string, Record<string, JsonValue>>;
  /** The items of the forEach stages in `reuse`, as the earlier run ended them. */
  reuseItems?: Record<string, ItemState[]>;
  /** `mlpipe rerun`: the earlier run's workflow id (a stage may resume from its checkpoints). */
  rerunOf?: string;
  /** Continue-as-new after this many history events (default: when the server suggests it). */
  continueAsNewAfterEvents?: number;
  /** State carried over a continue-as-new. */
  carried?: { stages: Record<string, StageState>; params: Record<string, ParamValue> };
}

export interface PipelineResult {
  pipeline: string;
  status: 'succeeded';
  stages: Record<string, StageState>;
}

export interface RunStatus {
  pipeline: string;
  planHash: string;
  params: Record<string, ParamValue>;
  stages: Record<string, StageState>;
  /** Node ids in plan order (for display). */
  order: string[];
}

/** An operator's answer to a stage that is waiting after exhausting its retries. */
export interface RetryRequest {
  stage: string;
  /** Shallow-merged into the stage's config for the next round (fix and continue). */
  config?: JsonObject;
  /** Run params overridden from now on. */
  params?: Record<string, ParamValue>;
}

export const statusQuery = defineQuery<RunStatus>('status');
export const approveSignal = defineSignal<[string]>('approve');
export const retrySignal = defineSignal<[RetryRequest]>('retry');
export const skipSignal = defineSignal<[string]>('skip');
export const stageProgressSignal = defineSignal<[StageProgress]>(STAGE_PROGRESS_SIGNAL);
export const approveUpdate = defineUpdate<string, [string]>('approve-stage');
export const retryUpdate = defineUpdate<string, [RetryRequest]>('retry-stage');
export const skipUpdate = defineUpdate<string, [string]>('skip-stage');

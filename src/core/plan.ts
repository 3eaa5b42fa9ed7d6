/**
 * The plan: what the compiler makes of a pipeline spec and its params, and the one input of the
 * interpreter workflow. It is plain JSON (no classes, no Dates, no undefined in arrays) so that it
 * travels through Temporal's payload converter unchanged, and its `hash` is stable: the same spec
 * and params always give byte-identical plans.
 *
 * This module holds types and pure helpers only; `workflows/` imports it, so it must stay free of
 * I/O, clocks and randomness.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * The stage kinds. Each has a descriptor in src/spec/stages/<kind>.ts and an activity module
 * activities/<kind>.ts.
 */
export const STAGE_KINDS = [
  'collect',
  'preprocess',
  'train',
  'evaluate',
  'predict',
  'optimize',
  'deploy',
  'monitor',
  'expect',
  'activity',
] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

/** What a stage output holds when it is an artifact (a file in the artifact store). */
export const ARTIFACT_KINDS = ['dataset', 'transform', 'model', 'metrics', 'deployment', 'report'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export type ParamType = 'string' | 'number' | 'integer' | 'boolean' | 'enum';
export type ParamValue = string | number | boolean;

/** Temporal's retry policy, with durations in milliseconds. */
export interface RetryPolicyPlan {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  nonRetryableErrorTypes: string[];
}

/** Everything the workflow passes to `proxyActivities` for one node. Durations in milliseconds. */
export interface ActivityOptionsPlan {
  taskQueue: string;
  startToCloseTimeoutMs: number;
  scheduleToCloseTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  retry: RetryPolicyPlan;
}

/** An input of a node: output `output` (of kind `kind`) of upstream stage `stage`. */
export interface InputBinding {
  stage: string;
  output: string;
  kind: ArtifactKind;
}

/** Output names a stage kind produces, and their types (artifacts or scalars usable in `when`). */
export type OutputType = ArtifactKind | 'number' | 'boolean' | 'string' | 'object';

/**
 * Where the pipeline file was when it was compiled: a collect stage reads relative paths from
 * here. The compiler's knowledge, not the user's config, so it travels beside the config.
 */
export interface SpecLocation {
  /** The pipeline file's absolute directory on the compiling machine. */
  baseDir: string;
  /**
   * The same directory relative to its git work tree's top ('' or 'a/b'): a worker started with
   * `--repo-root` (its own checkout) resolves collect paths there instead of `baseDir`.
   */
  repoDir?: string;
}

export interface PlanNode {
  /** The stage's name in the spec. */
  id: string;
  kind: StageKind;
  description?: string;
  /** Upstream stages, sorted. */
  needs: string[];
  /** A CEL expression over `params` and `stages.<name>.outputs`, evaluated by the workflow. */
  when?: string;
  /**
   * The stage's own fields, with `${params.*}` substituted at compile time. Strings may still
   * hold `${stages.<name>.outputs.<key>}` references: the workflow resolves those before the
   * activity starts.
   */
  config: JsonObject;
  /** collect stages: where the spec was compiled (relative source paths resolve there). */
  location?: SpecLocation;
  /**
   * optimize stages: the tuned train stage's own fields (substituted like `config`); trials
   * train its model with overrides, so they need the whole of it.
   */
  tunedConfig?: JsonObject;
  /** Input name (e.g. `dataset`, `model`) to the upstream output it reads. */
  inputs: Record<string, InputBinding>;
  /** Output name to its type. */
  outputs: Record<string, OutputType>;
  activity: ActivityOptionsPlan;
  cache: { enabled: boolean; ttlMs?: number };
  /** `wait`: when retries are exhausted, wait for an operator's retry/skip instead of failing. */
  onFailure: 'fail' | 'wait';
  /** The node waits for an `approve` signal before it starts. */
  approval: boolean;
  resources: { cpu?: number; memory?: string; gpu?: number };
  /** The stage runs once per item (docs/spec.md, "forEach"); absent on plain stages. */
  forEach?: ForEachPlan;
}

/** A forEach stage's fan-out, with the spec's defaults filled in. */
export interface ForEachPlan {
  /** The items, or one `${…}` expression the workflow evaluates to them when the stage starts. */
  items: JsonValue[] | string;
  /** The item's name in the stage's expressions. */
  as: string;
  /** Items in flight at once. */
  parallelism: number;
  onItemFailure: 'failFast' | 'continue';
}

/** Items in flight at once when the spec does not say. */
export const DEFAULT_FOR_EACH_PARALLELISM = 100;

/** The id of item `index` of a forEach stage: its activity id and its key in the status. */
export function itemId(stage: string, index: number): string {
  return `${stage}[${index}]`;
}

export interface SchedulePlan {
  cron: string[];
  intervals: { everyMs: number; offsetMs?: number }[];
  timezone?: string;
  jitterMs?: number;
  overlap: 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther' | 'allowAll';
  catchupWindowMs: number;
  pauseOnFailure: boolean;
  paused: boolean;
  note?: string;
  /** Params a scheduled run gets (on top of the spec's defaults). */
  params: Record<string, ParamValue>;
}

export interface Plan {
  apiVersion: 'mlpipe.dev/plan/v1';
  pipeline: string;
  description?: string;
  labels: Record<string, string>;
  /** Resolved params: defaults overridden by the run's `--param`s. */
  params: Record<string, ParamValue>;
  paramTypes: Record<string, ParamType>;
  /** Nodes in a topological order; ties broken by name, so the order is deterministic. */
  nodes: PlanNode[];
  /** Execution levels: level k holds the nodes whose longest path from a root has k edges. */
  levels: string[][];
  schedule?: SchedulePlan;
  /** sha256 (hex) of the canonical JSON of every other field. */
  hash: string;
}

/** A reference to an artifact in the artifact store; the only thing that travels between stages. */
export interface ArtifactRef {
  kind: ArtifactKind;
  /** Store URI, e.g. `file:///…/sha256/ab/abcd…` or `s3://bucket/…`. */
  uri: string;
  /** `sha256:<hex>` of the content. */
  digest: string;
  sizeBytes: number;
}

/** Identity of the run an activity works for (lineage, artifact paths, reports). */
export interface RunContext {
  workflowId: string;
  runId: string;
  pipeline: string;
  planHash: string;
  gitSha?: string;
  /** `mlpipe rerun`: the earlier run, whose checkpoints a stage with the same config and inputs resumes from. */
  rerunOf?: string;
}

/** The argument of every stage activity. */
export interface StageActivityInput {
  run: RunContext;
  stage: string;
  kind: StageKind;
  /** The node's config with every `${…}` resolved. */
  config: JsonObject;
  /** The node's `location` (collect). */
  location?: SpecLocation;
  /** The node's `tunedConfig` (optimize), its `${…}` resolved like `config`'s. */
  tunedConfig?: JsonObject;
  /** Input name to the artifact it binds to. */
  inputs: Record<string, ArtifactRef>;
  params: Record<string, ParamValue>;
  /**
   * A train activity that is one trial of an optimize stage's search (workflows/optimize-study.ts).
   * `continues`: a trial promoted to a later ASHA rung, which resumes from its checkpoint of the
   * earlier rung (fewer planned epochs) instead of starting over.
   */
  trial?: { of: string; id: number; continues: boolean };
  /** An optimize stage whose trials ran as their own activities: the finished table, to write up. */
  study?: { trials: StudyTrial[] };
}

/** A row of a durable search's table: the study's trial and what its train activities returned. */
export interface StudyTrial {
  id: number;
  params: Record<string, string | number | boolean>;
  state: 'running' | 'complete' | 'pruned' | 'failed';
  value?: number;
  /** The objective at each rung's epoch (ASHA). */
  intermediate?: Record<string, number>;
  error?: string;
  /** Why a pruned trial stopped. */
  reason?: string;
  /** The model of its last leg. */
  model?: ArtifactRef;
  /** Epochs trained in all. */
  epochs?: number;
  /** Per leg (rung), the epoch its final attempt started from: above 0 when it resumed a checkpoint. */
  resumedFromEpoch?: number[];
  /** Per leg, the attempt that finished it. */
  attempts?: number[];
  /** Every leg came from the step cache (an earlier search ran it): no activity ran for it here. */
  cached?: boolean;
}

/** What every stage activity returns: artifact refs and scalars, keyed by output name. */
export interface StageResult {
  outputs: Record<string, JsonValue>;
}

export function isArtifactRef(v: unknown): v is ArtifactRef {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as ArtifactRef).uri === 'string' &&
    typeof (v as ArtifactRef).digest === 'string' &&
    typeof (v as ArtifactRef).kind === 'string'
  );
}

/**
 * What mlpipe knows about one stage kind, in one place: the artifacts it reads, the outputs it
 * produces, the checks the schema cannot express, what the compiler puts beside its config, and
 * whether the step cache may answer for it. One descriptor per kind (this folder), registered in
 * index.ts; its fields live in schema/pipeline.schema.json and its activity in
 * activities/<kind>.ts, which the worker loads by the kind's name.
 */
import type { ArtifactKind, OutputType, PlanNode, StageKind } from '../../core/plan.ts';
import type { Reporter } from '../semantic.ts';
import type { Pipeline, Stage, StageCommon } from '../types.gen.ts';

/** The spec type of a stage of kind K (generated from the schema). */
export type StageOf<K extends StageKind> = Extract<Stage, { type: K }>;

/** A stage's own fields: what its activity receives as `config`, every `${…}` resolved. */
export type StageConfig<K extends StageKind> = Omit<StageOf<K>, keyof StageCommon>;

export interface InputSpec {
  kind: ArtifactKind;
  required: boolean;
  /** Bound only when the stage names it in `inputs` (its kind is too common to guess the producer). */
  onlyNamed?: boolean;
  /** Neither bound nor required when the stage names this other input (an alternative to it). */
  unlessNamed?: string;
}

export type Path = (string | number)[];

export interface CheckContext {
  /** The stage's name. */
  name: string;
  pipeline: Pipeline;
  report: Reporter;
  /** A path inside this stage, for diagnostics. */
  at(...rest: Path): Path;
  /** Where its inputs come from (`needs` and `inputs`); undefined when the DAG itself is invalid. */
  boundInputs?(): Record<string, { stage: string; output: string }>;
}

export interface CompileContext {
  pipeline: Pipeline;
  /** The pipeline file's directory, and the same relative to its git checkout. */
  baseDir: string;
  repoDir?: string;
}

export interface StageKindDescriptor<K extends StageKind = StageKind> {
  kind: K;
  /** The artifacts it reads, by input name (bound to upstream outputs by the compiler). */
  inputs: Record<string, InputSpec>;
  /** Its outputs and their types; some follow from its fields (train's `metrics`). */
  outputs(stage: StageOf<K>): Record<string, OutputType>;
  /** Start-to-close timeout when neither the stage nor `defaults` sets one. */
  defaultStartToClose: string;
  /**
   * Whether the step cache may answer for it. A stage whose purpose is a side effect (a
   * deployment, a drift check that alerts, a user's own activity) is not: a cache hit would
   * report it done while the world it should change stays as it is.
   */
  cacheable: boolean;
  /** A cacheable kind whose config cannot tell new data from old: the cache is off unless the stage sets it. */
  cacheOffByDefault?(stage: StageOf<K>): boolean;
  /** Checks the schema cannot express, reported at their place. */
  check?(stage: StageOf<K>, c: CheckContext): void;
  /** What the plan node carries beside the config: facts only the compiler knows. */
  compile?(stage: StageOf<K>, c: CompileContext): Pick<PlanNode, 'location' | 'tunedConfig'>;
}

/** `url` names a user or password (kept in the plan and the history if allowed). */
export function reportUrlCredentials(c: CheckContext, path: Path, url: string | undefined): void {
  if (!url || !hasCredentials(url)) return;
  c.report.error(
    path,
    'security.url-credentials',
    'this URL carries a user name or password, which would be kept in the plan and the workflow history',
    'give the server access another way (a token the worker reads from its environment, a network rule)',
  );
}

function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false; // the schema's pattern reports malformed URLs
  }
}

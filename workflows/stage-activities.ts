/**
 * The activities a stage runs, with their options: its stage activity (known by type name only,
 * as the worker registers it) and the step cache's local activities. Options and activity ids are
 * part of the commands a history records: change them only behind `patched()`.
 */
import { executeChild, isCancellation, log, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import {
  activityName,
  CACHE_LOOKUP,
  CACHE_STORE,
  type CacheLookupInput,
  type CacheLookupResult,
  type CacheStoreInput,
  type StageActivityResult,
} from '../src/core/activities.ts';
import type { ArtifactRef, JsonObject, JsonValue, PlanNode, StageActivityInput } from '../src/core/plan.ts';
import { describeFailure } from './failures.ts';
import { activityOptions } from './activity-options.ts';
import { optimizeStudy } from './optimize-study.ts';

type StageFn = (input: StageActivityInput) => Promise<StageActivityResult>;

/** One proxy per node and round: its options (queue, timeouts, retry, id, summary) are its own. */
export function stageActivity(node: PlanNode, round: number): StageFn {
  const proxy = proxyActivities<Record<string, StageFn>>({
    ...activityOptions(node),
    // The activity id names the stage, so `describe` (pending activities, heartbeat progress)
    // maps back to stages; a fix-and-continue round gets its own id.
    activityId: round === 1 ? node.id : `${node.id}#${round}`,
    summary: `${node.id} (${node.kind})`,
  });
  return proxy[activityName(node.kind)] as StageFn;
}

/**
 * An optimize stage's search as a child workflow (`<run id>.<stage>`, `#<round>` after a fix and
 * continue) that runs each trial as its own activity; it answers like the stage activity would.
 */
export function studyChild(node: PlanNode, tuned: PlanNode, round: number, continueAsNewAfterEvents?: number, noCache?: boolean): StageFn {
  return (input) =>
    executeChild(optimizeStudy, {
      args: [{ node, tuned, input, ...(continueAsNewAfterEvents ? { continueAsNewAfterEvents } : {}), ...(noCache ? { noCache } : {}) }],
      workflowId: `${workflowInfo().workflowId}.${node.id}${round === 1 ? '' : `#${round}`}`,
      staticSummary: `${node.id}: hyper-parameter search over ${String(input.config.tunes)}`,
    });
}

/** The step cache's local activities, with a summary naming the stage (shown in the UI's timeline). */
function stepCache(stage: string) {
  return proxyLocalActivities<{
    [CACHE_LOOKUP]: (i: CacheLookupInput) => Promise<CacheLookupResult>;
    [CACHE_STORE]: (i: CacheStoreInput) => Promise<void>;
  }>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 }, summary: `${stage}: step cache` });
}

/** The step cache's entry for this stage run; an unavailable cache is a miss, not a failure. */
export async function cacheLookup(
  node: PlanNode,
  config: JsonObject,
  extra: Pick<CacheLookupInput, 'location' | 'tunedConfig'>,
  inputs: Record<string, ArtifactRef>,
) {
  const inputDigests = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.digest]));
  try {
    return await stepCache(node.id)[CACHE_LOOKUP]({ kind: node.kind, config, ...extra, inputDigests, ttlMs: node.cache.ttlMs });
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn(`stage ${node.id}: step cache unavailable, running it: ${describeFailure(err)}`);
    return undefined;
  }
}

/** Stores a stage's outputs under its key; a failure to store only costs a later cache hit. */
export async function cacheStore(key: string, stage: string, outputs: Record<string, JsonValue>) {
  try {
    await stepCache(stage)[CACHE_STORE]({ key, stage, outputs });
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn(`stage ${stage}: could not store its outputs in the step cache: ${describeFailure(err)}`);
  }
}

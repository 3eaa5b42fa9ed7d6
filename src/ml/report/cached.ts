/**
 * Report sections for stages answered from the step cache. A cached train or evaluate stage runs
 * no activity, so it writes no section; but its outputs name the artifacts its first run wrote
 * (train's `history`, evaluate's `metrics`), which hold everything a section shows; a collect
 * stage's outputs hold its whole data section (rows, dropped rows, expectations' results). Built here
 * from those and stored as the run's own sections, so every finished run has a report and
 * `mlpipe report` finds it later from any host on the same store.
 */
import { isArtifactRef, type JsonValue, type RunContext } from '../../core/plan.ts';
import type { ArtifactStore } from '../../artifacts/store.ts';
import type { ExpectationResult } from '../data/expectations.ts';
import { updateRunReport, type DataSection, type EvaluationSection, type TrainingSection } from './report.ts';

/** What this needs of a stage's state (workflows/api.ts StageState). */
export interface FinishedStage {
  kind: string;
  status: string;
  cached?: boolean;
  outputs: Record<string, JsonValue>;
}

async function readDoc(store: ArtifactStore, v: JsonValue | undefined): Promise<Record<string, unknown> | null> {
  if (!isArtifactRef(v)) return null;
  return JSON.parse((await store.get(v)).toString('utf8')) as Record<string, unknown>;
}

function trainingSection(stage: string, doc: Record<string, unknown>): TrainingSection {
  const history = (doc.history ?? []) as TrainingSection['history'];
  // summaries written before `metrics` was recorded: the metric names of the first epoch
  const metrics =
    (doc.metrics as string[] | undefined) ?? Object.keys(history[0]?.logs ?? {}).filter((k) => k !== 'loss' && !k.startsWith('val_'));
  return {
    stage,
    history,
    backend: doc.backend as TrainingSection['backend'],
    ...(doc.engine ? { engine: doc.engine as TrainingSection['engine'] } : {}),
    stopReason: String(doc.stopReason ?? ''),
    metrics,
    cachedFrom: typeof doc.workflowId === 'string' ? doc.workflowId : '',
  };
}

function evaluationSection(stage: string, doc: Record<string, unknown>): EvaluationSection {
  return {
    stage,
    split: String(doc.split ?? 'test'),
    metrics: (doc.metrics ?? {}) as EvaluationSection['metrics'],
    ...(doc.classes ? { classes: doc.classes as string[] } : {}),
    gates: (doc.gates ?? []) as EvaluationSection['gates'],
    passed: Boolean(doc.passed),
    ...(doc.warnings ? { warnings: doc.warnings as string[] } : {}),
    cachedFrom: typeof doc.workflowId === 'string' ? doc.workflowId : '',
  };
}

/**
 * Store the sections of `stages` that came from the cache and have none yet in this run.
 * Returns how many it added.
 */
export async function addCachedSections(run: RunContext, stages: Record<string, FinishedStage>, store: ArtifactStore): Promise<number> {
  let added = 0;
  for (const [stage, st] of Object.entries(stages)) {
    if (!st.cached || st.status !== 'succeeded') continue;
    if (st.kind === 'collect' || st.kind === 'expect') {
      added += await addCachedData(run, stage, st, store);
      continue;
    }
    const kind = st.kind === 'train' ? 'training' : st.kind === 'evaluate' ? 'evaluation' : null;
    if (!kind) continue;
    if (await store.getRunFile(run.workflowId, `report/${kind}/${encodeURIComponent(stage)}.json`)) continue;
    const doc = await readDoc(store, kind === 'training' ? st.outputs.history : st.outputs.metrics);
    if (!doc) continue;
    await updateRunReport(
      run,
      store,
      kind === 'training' ? { training: trainingSection(stage, doc) } : { evaluation: evaluationSection(stage, doc) },
    );
    added++;
  }
  return added;
}

/** A cached collect (or expect) stage's data section, from its outputs alone; 0 when it has nothing to show. */
async function addCachedData(run: RunContext, stage: string, st: FinishedStage, store: ArtifactStore): Promise<number> {
  const exp = st.outputs.expectations as { results?: unknown } | undefined;
  const droppedRows = typeof st.outputs.droppedRows === 'number' ? st.outputs.droppedRows : 0;
  if (!exp && !droppedRows) return 0;
  if (await store.getRunFile(run.workflowId, `report/data/${encodeURIComponent(stage)}.json`)) return 0;
  const section: DataSection = {
    stage,
    rows: typeof st.outputs.rows === 'number' ? st.outputs.rows : 0,
    droppedRows,
    ...(Array.isArray(exp?.results) ? { expectations: exp.results as ExpectationResult[] } : {}),
    cachedFrom: '',
  };
  await updateRunReport(run, store, { data: section });
  return 1;
}

import { defaultStore, type ArtifactStore } from '../artifacts/index.ts';
import { addCachedSections } from '../ml/report/cached.ts';
import { fetchRunReport, oldReportPath } from '../ml/report/report.ts';
import type { RunView } from '../temporal/runs.ts';

/**
 * The run's HTML report on this host: rendered from the store into the local cache, else one an
 * older mlpipe left in `$MLPIPE_HOME/runs/`; null when there is none. Given the run's view, the
 * stages it took from the step cache get their sections first (src/ml/report/cached.ts).
 */
export async function findReport(workflowId: string, store: ArtifactStore = defaultStore(), view?: RunView): Promise<string | null> {
  if (view?.run) {
    const ctx = { workflowId, runId: view.runId, pipeline: view.run.pipeline, planHash: view.run.planHash };
    await addCachedSections(ctx, view.run.stages, store).catch((e: unknown) => {
      process.stderr.write(`mlpipe: the report lacks the cached stages' sections: ${(e as Error).message}\n`);
    });
  }
  return (await fetchRunReport(workflowId, store)) ?? oldReportPath(workflowId);
}

/** `report: <path>` when the run has a report, else nothing (a store that cannot be read says nothing here). */
export async function reportLine(view: RunView): Promise<string> {
  const file = await findReport(view.workflowId, defaultStore(), view).catch(() => null);
  return file ? `report: ${file}\n` : '';
}

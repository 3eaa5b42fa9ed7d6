import { defaultStore, type ArtifactStore } from '../artifacts/index.ts';
import { fetchRunReport, oldReportPath } from '../ml/report.ts';

/**
 * The run's HTML report on this host: rendered from the store into the local cache, else one an
 * older mlpipe left in `$MLPIPE_HOME/runs/`; null when there is none.
 */
export async function findReport(workflowId: string, store: ArtifactStore = defaultStore()): Promise<string | null> {
  return (await fetchRunReport(workflowId, store)) ?? oldReportPath(workflowId);
}

/** `report: <path>` when the run has a report, else nothing (a store that cannot be read says nothing here). */
export async function reportLine(workflowId: string): Promise<string> {
  const file = await findReport(workflowId).catch(() => null);
  return file ? `report: ${file}\n` : '';
}

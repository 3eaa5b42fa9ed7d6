import { existsSync } from 'node:fs';
import { reportPath } from '../ml/report.ts';

/** `report: <path>` when the run's HTML report exists on this machine (local mode), else nothing. */
export function reportLine(workflowId: string): string {
  const file = reportPath(workflowId);
  return existsSync(file) ? `report: ${file}\n` : '';
}

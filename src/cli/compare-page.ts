import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CompareRow, RunSummary } from '../temporal/compare.ts';

/**
 * `--html [file]` of `compare` and `runs`: writes the page (to `file`, or under
 * `$MLPIPE_HOME/compare/<name>.html`) and says where, on stderr with --json so stdout stays one
 * JSON document.
 */
export async function writeComparePage(
  runs: RunSummary[],
  rows: CompareRow[],
  o: { html: string | true; json?: boolean; label: string; name: string },
): Promise<void> {
  const { defaultStore } = await import('../artifacts/index.ts');
  const { mlpipeHome } = await import('../home.ts');
  const { lossCurves, renderCompare } = await import('../ml/report/compare.ts');
  const safe = o.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 180);
  const file = typeof o.html === 'string' ? resolve(o.html) : join(mlpipeHome(), 'compare', `${safe}.html`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderCompare(runs, rows, await lossCurves(runs, defaultStore())));
  if (o.json) process.stderr.write(`${o.label}: ${file}\n`);
  else process.stdout.write(`\n${o.label}: ${file}\n`);
}

// A run's directory name (lineage records, reports) from its workflow id. Workflow ids hold `/`
// and anything else a run key may: the name must be one safe path segment, and two ids must never
// share a directory (they would share lineage, checkpoints and a report).
import { createHash } from 'node:crypto';

const SAFE = /[A-Za-z0-9._-]/;
/** Leaves room under the usual 255-byte file name limit. */
const MAX_NAME = 200;

/**
 * Percent-encoding of every byte outside [A-Za-z0-9._-] (and of a leading `.`, so no name is `.`,
 * `..` or hidden): readable, and injective, since it decodes back to the id. Longer names keep a
 * readable prefix and end in `~` and a digest of the id (`~` is always encoded otherwise).
 */
export function runDirName(workflowId: string): string {
  if (workflowId === '') throw new Error('a run needs a non-empty workflow id');
  let name = '';
  for (const ch of workflowId) {
    const ok = SAFE.test(ch) && !(ch === '.' && name === '');
    name += ok ? ch : [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  if (name.length <= MAX_NAME) return name;
  const digest = createHash('sha256').update(workflowId).digest('hex').slice(0, 32);
  return `${name.slice(0, MAX_NAME - 33).replace(/%[0-9A-F]?$/, '')}~${digest}`;
}

/**
 * The name earlier versions used (every other character became `_`, so `col/a` and `col_a`
 * collided). Read only, for runs recorded then; what is found there is checked for its workflow id.
 */
export function legacyRunDirName(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
}

/** Where a run's files may be: its directory, then the one an earlier version named (if other). */
export function runDirNames(workflowId: string): string[] {
  return [...new Set([runDirName(workflowId), legacyRunDirName(workflowId)])];
}

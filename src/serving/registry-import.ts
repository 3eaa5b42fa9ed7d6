// Registries an older mlpipe kept as JSON files (`<home>/registry/<name>.json`) are imported into
// the database the first time a Registry opens it from that home, so deployed models keep serving
// after an upgrade. Each file goes in one transaction, only if the database has no such model yet
// (several processes may start at once; on a shared PostgreSQL another host may have it), and is
// then renamed `<name>.json.imported`: kept, as the record of what was imported, never read again.
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index.ts';
import type { RegistryEntry } from './registry.ts';
import { emptyEntry, ensureModelRow, loadEntry, saveEntry } from './registry-sql.ts';

/** Per database and dir, once per process (the first caller's run; a failed one is tried again). */
const runs = new Map<string, Promise<void>>();

export function importJsonEntries(
  db: Db,
  dir: string,
  log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`),
): Promise<void> {
  const key = `${db.where}\0${dir}`;
  let p = runs.get(key);
  if (!p) {
    p = importAll(db, dir, log);
    runs.set(key, p);
    p.catch(() => runs.delete(key));
  }
  return p;
}

async function importAll(db: Db, dir: string, log: (line: string) => void): Promise<void> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('_'));
  } catch {
    files = []; // no registry dir: nothing to import
  }
  for (const f of files) {
    const file = join(dir, f);
    const name = f.slice(0, -'.json'.length);
    let entry: RegistryEntry;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as RegistryEntry;
      if (!Array.isArray(entry.versions) || typeof entry.traffic !== 'object') throw new Error('not a registry entry');
    } catch (e) {
      // Not fatal: the other models must still serve. Said on every start until it is dealt with.
      log(
        `model registry entry ${file} is not valid JSON (${(e as Error).message}), so it was not imported ` +
          `into ${db.where}: restore it from a backup, or move it away to start model "${name}" afresh`,
      );
      continue;
    }
    const imported = await db.write(async (tx) => {
      const at = entry.events?.at(-1)?.at ?? new Date().toISOString();
      await ensureModelRow(tx, name, at);
      const cur = await loadEntry(tx, name, db.forUpdate);
      if (cur && cur.revision > 0) return false;
      const from = { ...emptyEntry(name), revision: Math.max(0, (entry.revision ?? 1) - 1) };
      await saveEntry(tx, from, { ...entry, name, events: entry.events ?? [] }, at);
      return true;
    });
    log(
      imported
        ? `model registry: imported ${file} into ${db.where}`
        : `model registry: ${db.where} already has model "${name}"; ${file} was not imported`,
    );
    try {
      renameSync(file, `${file}.imported`);
    } catch {
      // Another process renamed it first.
    }
  }
}

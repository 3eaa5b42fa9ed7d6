// Which database mlpipe's metadata lives in: `--db` / MLPIPE_DB, a `sqlite://<path>` or a
// `postgres://…` URL; default SQLite in the home. Passwords never reach a message: every text
// shown names the database by `redactUrl`.
import { isAbsolute, join, resolve } from 'node:path';
import { mlpipeHome } from '../home.ts';

export const DB_SETTING = 'MLPIPE_DB (or --db)';

export type DbTarget =
  | { kind: 'sqlite'; path: string; where: string }
  /** `schema`: from `?schema=`; tables go there (created if missing) instead of `public`. */
  | { kind: 'postgres'; url: string; schema?: string; where: string };

/** The embedded default: one SQLite file in the home, beside the artifacts. */
export function defaultDbUrl(home = mlpipeHome()): string {
  return `sqlite://${join(home, 'metadata.db')}`;
}

/** The database to use: `explicit`, else MLPIPE_DB, else SQLite in `home`. */
export function dbUrl(explicit?: string, home = mlpipeHome(), env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env.MLPIPE_DB || defaultDbUrl(home);
}

/** `url` with its password (if any) replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

export class DbConfigError extends Error {}

export function parseDbUrl(url: string): DbTarget {
  const where = redactUrl(url);
  const bad = (why: string) =>
    new DbConfigError(
      `${DB_SETTING} "${where}" ${why}: use sqlite://<path> (e.g. sqlite:///var/lib/mlpipe/metadata.db) or ` +
        'postgres://user@host:5432/database',
    );
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    const path = url.replace(/^sqlite:(\/\/)?/i, '');
    if (!path) throw bad('names no file');
    return { kind: 'sqlite', path: path === ':memory:' || isAbsolute(path) ? path : resolve(path), where: `sqlite://${path}` };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw bad('is not a valid URL');
    }
    if (!u.hostname && !u.searchParams.get('host')) throw bad('names no host');
    const schema = u.searchParams.get('schema') ?? undefined;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw bad(`has a bad schema "${schema}" (lower-case letters, digits, _)`);
    u.searchParams.delete('schema'); // ours, not libpq's
    return { kind: 'postgres', url: u.toString(), schema, where };
  }
  throw bad(scheme ? `has an unknown scheme "${scheme}:"` : 'is not a database URL');
}

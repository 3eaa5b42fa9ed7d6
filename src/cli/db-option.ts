/** `--db` (env MLPIPE_DB): the metadata database a command, and the stages and servers it starts, use. */
import type { Command } from 'commander';
import { UsageError } from './errors.ts';

export const DB_HELP =
  'metadata database: sqlite://<path> or postgres://user@host:5432/db[?schema=s] (env MLPIPE_DB; ' +
  'default sqlite://$MLPIPE_HOME/metadata.db)';

export function withDbOption(cmd: Command): Command {
  return cmd.option('--db <url>', DB_HELP).hook('preAction', async (c) => {
    const url = c.opts<{ db?: string }>().db;
    // Through the environment, so activities and a model server started from here use it too.
    if (url) process.env.MLPIPE_DB = url;
    if (!process.env.MLPIPE_DB) return;
    const { parseDbUrl } = await import('../db/index.ts');
    try {
      parseDbUrl(process.env.MLPIPE_DB);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
}

/** Opens the database now (applying pending migrations), so a wrong URL or a server down fails at start; returns where it is. */
export async function checkedDb(): Promise<string> {
  const { dbUrl, openDb } = await import('../db/index.ts');
  return (await openDb(dbUrl())).where;
}

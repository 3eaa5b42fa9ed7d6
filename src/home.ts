import { resolve } from 'node:path';

/**
 * mlpipe's data dir: artifacts, the embedded Temporal server's SQLite file, run reports.
 * `MLPIPE_HOME` wins; otherwise `.mlpipe/` in the current directory, so that a project's runs
 * live beside its pipelines (and .gitignore keeps them out of git).
 */
export function mlpipeHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MLPIPE_HOME ?? '.mlpipe');
}

// The store every stage, report and model server uses, chosen by `--store` / `MLPIPE_STORE`: a
// directory or `file://…` URL (the local store), or `s3://bucket/prefix` (S3-compatible object
// storage, configured through the AWS SDK's standard variables). Unset: `MLPIPE_ARTIFACTS`, else
// `$MLPIPE_HOME/artifacts`.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mlpipeHome } from '../home.ts';
import { LocalArtifactStore } from './local.ts';
import { S3ArtifactStore } from './s3.ts';
import { StoreUnavailableError, type ArtifactStore } from './store.ts';

export * from './store.ts';
export { LocalArtifactStore, runDirName, ArtifactTooLargeError } from './local.ts';
export { S3ArtifactStore } from './s3.ts';
export { resolveInside, PathEscapeError } from './paths.ts';
export * from './bundle.ts';

/** The store `spec` names (see above); throws StoreUnavailableError for one it cannot be. */
export function storeFrom(spec: string, env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  if (spec.startsWith('s3://')) return new S3ArtifactStore(spec, { env, spillDir: join(mlpipeHome(env), 'tmp') });
  if (spec.startsWith('file:')) {
    try {
      return new LocalArtifactStore(fileURLToPath(spec));
    } catch (e) {
      throw new StoreUnavailableError(`--store / MLPIPE_STORE ${JSON.stringify(spec)}: ${(e as Error).message}`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new StoreUnavailableError(
      `--store / MLPIPE_STORE ${JSON.stringify(spec)}: unknown scheme; use a directory, file:///dir or s3://bucket/prefix`,
    );
  }
  return new LocalArtifactStore(resolve(spec));
}

// One store (and S3 client, with its connection pool) per process and setting, not per stage.
const made = new Map<string, ArtifactStore>();

export function defaultStore(env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  const spec = env.MLPIPE_STORE;
  if (!spec) return new LocalArtifactStore(env.MLPIPE_ARTIFACTS ?? join(mlpipeHome(env), 'artifacts'));
  const key = [
    spec,
    env.MLPIPE_HOME,
    env.AWS_ENDPOINT_URL_S3,
    env.AWS_ENDPOINT_URL,
    env.AWS_REGION,
    env.AWS_ACCESS_KEY_ID,
    env.AWS_PROFILE,
  ].join('\0');
  let store = made.get(key);
  if (!store) made.set(key, (store = storeFrom(spec, env)));
  return store;
}

// The store every stage uses. `MLPIPE_ARTIFACTS` may point elsewhere; an S3 store would be
// chosen here too (by URI scheme) without the stages knowing.
import { join } from 'node:path';
import { mlpipeHome } from '../home.ts';
import { LocalArtifactStore } from './local.ts';
import type { ArtifactStore } from './store.ts';

export * from './store.ts';
export { LocalArtifactStore, runDirName, ArtifactTooLargeError } from './local.ts';
export { resolveInside, PathEscapeError } from './paths.ts';
export * from './bundle.ts';

export function defaultStore(env: NodeJS.ProcessEnv = process.env): ArtifactStore {
  return new LocalArtifactStore(env.MLPIPE_ARTIFACTS ?? join(mlpipeHome(env), 'artifacts'));
}

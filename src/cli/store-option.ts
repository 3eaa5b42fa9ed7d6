/** `--store` (env MLPIPE_STORE): where a command, and the stages and servers it starts, keep artifacts. */
import type { Command } from 'commander';
import { UsageError } from './errors.ts';

export const STORE_HELP =
  'artifact store: a directory, file:///dir or s3://bucket/prefix (env MLPIPE_STORE; default $MLPIPE_HOME/artifacts)';

export function withStoreOption(cmd: Command): Command {
  return cmd.option('--store <uri>', STORE_HELP).hook('preAction', async (c) => {
    const spec = c.opts<{ store?: string }>().store;
    // Through the environment, so activities and a model server started from here see it too.
    if (spec) process.env.MLPIPE_STORE = spec;
    if (!process.env.MLPIPE_STORE) return;
    const { storeFrom } = await import('../artifacts/index.ts');
    try {
      storeFrom(process.env.MLPIPE_STORE);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
}

/** Fails (naming the setting to fix) unless the store can be used from here; returns its location. */
export async function checkedStore(): Promise<string> {
  const { defaultStore } = await import('../artifacts/index.ts');
  const store = defaultStore();
  await store.check();
  return store.location;
}

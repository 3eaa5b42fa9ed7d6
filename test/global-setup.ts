/**
 * One Temporal dev server for the whole suite (real server, no mocks), on a free port with a
 * throw-away SQLite file. Test files get its address via `inject('temporalAddress')` or the env
 * var MLPIPE_TEST_TEMPORAL_ADDRESS (see test/support/temporal.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.ts';
import { freePort } from './support/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let server: DevServer | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.MLPIPE_TEST_TEMPORAL_ADDRESS) {
    project.provide('temporalAddress', process.env.MLPIPE_TEST_TEMPORAL_ADDRESS);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-test-temporal-'));
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: null });
  process.env.MLPIPE_TEST_TEMPORAL_ADDRESS = server.address;
  project.provide('temporalAddress', server.address);
  // Interrupted runs (Ctrl-C, CI timeouts) skip teardown: do not leave the server behind.
  const child = server.process;
  process.once('exit', () => child.kill('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      child.kill('SIGKILL');
      process.kill(process.pid, sig);
    });
  }
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

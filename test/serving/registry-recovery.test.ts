// The registry after a crash, on both backends: a writer SIGKILLed in the middle of its
// transaction (holding the model's row lock) leaves nothing half-written and blocks nobody: the
// database rolls it back when the process dies (no lock file, no stale-lock timeout).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDbs } from '../../src/db/index.ts';
import { Registry } from '../../src/serving/registry.ts';
import { tempDir } from '../support/data.ts';
import { BACKENDS, freshDb, type TestDb } from '../support/db.ts';
import { waitFor } from '../support/processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const holder = fileURLToPath(new URL('./fixtures/hold-registry-lock.ts', import.meta.url));

const made: TestDb[] = [];
afterAll(async () => {
  await closeDbs();
  await Promise.all(made.map((d) => d.drop()));
});

describe.each(BACKENDS)('registry recovery on %s', (backend) => {
  it('a writer killed inside its transaction: the next update goes through at once', async () => {
    const db = freshDb(backend);
    made.push(db);
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'), db.url);
    await reg.update('m', (e) => e);
    const child = spawn(process.execPath, ['--import', 'tsx', holder, reg.dir, db.url], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor(() => out.includes('locked') || child.exitCode !== null, 60_000, 'the child to open its transaction');
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await exited;
    const started = Date.now();
    const e = await reg.update('m', (x) => x);
    expect(e.revision).toBe(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 90_000);

  it('while a writer holds its transaction, readers go on and a writer waiting does not stall the process', async () => {
    const db = freshDb(backend);
    made.push(db);
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'), db.url);
    await reg.update('m', (e) => e);
    /** Timer ticks in 600 ms: how free the event loop is. */
    const ticks = async () => {
      let n = 0;
      const timer = setInterval(() => n++, 10);
      await new Promise((r) => setTimeout(r, 600));
      clearInterval(timer);
      return n;
    };
    const child = spawn(process.execPath, ['--import', 'tsx', holder, reg.dir, db.url], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('locked') || child.exitCode !== null, 60_000, 'the child to open its transaction');
      expect((await reg.get('m'))!.revision).toBe(1); // a reader is not blocked
      const free = await ticks();
      let settled = false;
      const waiting = reg.update('m', (e) => e).finally(() => (settled = true));
      const meanwhile = await ticks();
      expect(settled).toBe(false); // it waits for the lock...
      // ...without holding up the event loop (a server keeps answering): a blocked loop ticks about once.
      expect(meanwhile).toBeGreaterThan(Math.max(3, free / 4));
      child.kill('SIGKILL');
      await exited;
      expect((await waiting).revision).toBe(2);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});

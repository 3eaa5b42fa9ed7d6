// The pool of child processes for users' activities (activities/lib/user-pool.ts), with real
// processes: loading the module, bounded start-up under a burst, reuse, cancelled waits.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Info } from '@temporalio/activity';
import { UserActivityPool, type UserChild } from '../../../activities/lib/user-pool.ts';
import type { ToChild } from '../../../activities/lib/user-protocol.ts';
import type { StageActivityInput } from '../../../src/core/plan.ts';
import { TEST_ACTIVITIES } from '../../support/temporal.ts';

const held: UserChild[] = [];
afterEach(() => {
  for (const c of held.splice(0)) c.kill();
});

describe('user activity processes', () => {
  it('loads the module in a child and lists its functions; a module that fails to load says why', async () => {
    const names = await new UserActivityPool(TEST_ACTIVITIES).start();
    expect(names).toEqual(expect.arrayContaining(['noop', 'sleepFor', 'spin', 'hang']));
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-user-'));
    writeFileSync(join(dir, 'broken.ts'), 'export const x = ;\n');
    await expect(new UserActivityPool(join(dir, 'broken.ts')).start()).rejects.toThrow(/^cannot load user activities from .*broken\.ts/);
    writeFileSync(join(dir, 'none.ts'), 'export const x = 1;\n');
    await expect(new UserActivityPool(join(dir, 'none.ts')).start()).rejects.toThrow(/exports no functions/);
  });

  it('a burst starts children one at a time and hands freed ones to waiting executions', async () => {
    const pool = new UserActivityPool(TEST_ACTIVITIES, {}, { maxStarting: 1 });
    const first = pool.acquire();
    const second = pool.acquire();
    const third = pool.acquire();
    const a = await first;
    held.push(a);
    pool.release(a); // a clean execution ends: the next waiter gets this child
    const b = await second;
    expect(b).toBe(a);
    const c = await third; // started for the third, one at a time
    held.push(c);
    expect(c).not.toBe(a);
    pool.release(b);
    pool.release(c);
    // idle ones are reused before any new process starts
    const again = [await pool.acquire(), await pool.acquire()];
    expect(new Set(again)).toEqual(new Set([a, c]));
  });

  it('a wait for a child ends when its execution is cancelled', async () => {
    const pool = new UserActivityPool(TEST_ACTIVITIES, {}, { maxStarting: 1 });
    const busy = pool.acquire();
    const ac = new AbortController();
    const waiting = pool.acquire(ac.signal);
    ac.abort(new Error('stage cancelled'));
    await expect(waiting).rejects.toThrow('stage cancelled');
    held.push(await busy);
  });

  it('tells a child that ran out of heap from other deaths', async () => {
    const pool = new UserActivityPool(TEST_ACTIVITIES, { NODE_OPTIONS: '--max-old-space-size=48' });
    const child = await pool.acquire();
    held.push(child);
    const exited = new Promise((r) => child.proc.once('exit', r));
    const run: ToChild = { type: 'run', id: 1, name: 'hog', input: {}, stage: {} as StageActivityInput, info: {} as Info };
    child.proc.send(run);
    await exited;
    expect(child.outOfMemory).toBe(true);
  });

  it('a child inherits the environment, with what the pool sets on top', async () => {
    process.env.MLPIPE_POOL_TEST = 'from the worker';
    const pool = new UserActivityPool(TEST_ACTIVITIES, { MLPIPE_HOME: '/tmp/elsewhere' });
    const child = await pool.acquire();
    held.push(child);
    delete process.env.MLPIPE_POOL_TEST;
    const env = readFileSync(`/proc/${child.proc.pid}/environ`, 'utf8').split('\0');
    expect(env).toContain('MLPIPE_POOL_TEST=from the worker');
    expect(env).toContain('MLPIPE_HOME=/tmp/elsewhere');
  });
});

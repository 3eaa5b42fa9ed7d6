/**
 * `mlpipe apply` on a directory whose last pipeline was removed: valid, and it removes the last
 * schedule, once confirmed with --allow-empty. Real CLI, real dev server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import { testEnv, type TestEnv } from '../support/temporal.ts';
import { cli, fixture } from '../support/schedules.ts';

const tag = randomBytes(3).toString('hex');
const scope = `test-empty-${tag}`;
const name = `sched-last-${tag}`;
let env: TestEnv;

beforeAll(async () => {
  env = await testEnv('sched-empty', { worker: false });
});
afterAll(async () => {
  await env.client.schedule
    .getHandle(`mlpipe:${name}`)
    .delete()
    .catch(() => undefined);
  await env?.close();
});

const exists = (id: string) =>
  env.client.schedule
    .getHandle(id)
    .describe()
    .then(
      () => true,
      (e: unknown) => {
        if (e instanceof ScheduleNotFoundError) return false;
        throw e;
      },
    );

describe('mlpipe apply on an emptied directory', () => {
  it('removes the last schedule once confirmed; a missing directory is still an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-apply-empty-'));
    const file = join(dir, 'last.yaml');
    writeFileSync(file, fixture('nightly', { name, queue: env.queue }));
    const apply = (...extra: string[]) => cli(['apply', dir, '--address', env.address, '--scope', scope, ...extra]);
    expect(apply().code).toBe(0);
    expect(await exists(`mlpipe:${name}`)).toBe(true);

    rmSync(file);
    const dry = apply('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`- delete mlpipe:${name}`);
    const refused = apply();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `applying would delete all 1 schedule(s) of scope "${scope}" (mlpipe:${name}); pass --allow-empty to confirm`,
    );
    expect(await exists(`mlpipe:${name}`)).toBe(true);

    const confirmed = apply('--allow-empty');
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toContain(`- deleted mlpipe:${name}`);
    expect(await exists(`mlpipe:${name}`)).toBe(false);
    // Nothing left in the scope: an empty directory is simply up to date.
    const again = apply();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes');

    const missing = cli(['apply', join(dir, 'nope'), '--address', env.address, '--scope', scope]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file or directory');
  }, 120_000);
});

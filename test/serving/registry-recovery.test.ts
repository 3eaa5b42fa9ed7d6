// The registry after a crash: a writer SIGKILLed while holding a model's lock does not block the
// next deploy, and a damaged entry is named with what to do about it.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/serving/registry.ts';
import { tempDir } from '../data/helpers.ts';
import { waitFor } from '../support/processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const holder = fileURLToPath(new URL('./fixtures/hold-registry-lock.ts', import.meta.url));

describe('registry recovery', () => {
  it('a writer killed while holding the lock: the next update goes through', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    await reg.update('m', (e) => e);
    const child = spawn(process.execPath, ['--import', 'tsx', holder, reg.dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor(() => out.includes('locked') || child.exitCode !== null, 60_000, 'the child to take the lock');
    expect(child.exitCode).toBeNull();
    expect(existsSync(join(reg.dir, 'm.json.lock'))).toBe(true);
    child.kill('SIGKILL');
    await exited;
    const e = await reg.update('m', (x) => x);
    expect(e.revision).toBe(2);
    expect(existsSync(join(reg.dir, 'm.json.lock'))).toBe(false);
  }, 90_000);

  it('a corrupt entry names its file and what to do', async () => {
    const reg = new Registry(join(tempDir('mlpipe-reg-'), 'registry'));
    await reg.update('churn', (e) => e);
    writeFileSync(join(reg.dir, 'churn.json'), '{"format": "mlpipe-registry/v1", "name": "ch');
    const expected = `model registry entry ${join(reg.dir, 'churn.json')} is not valid JSON`;
    await expect(reg.get('churn')).rejects.toThrow(expected);
    await expect(reg.update('churn', (e) => e)).rejects.toThrow(/restore it from a backup, or move it away to start model "churn" afresh/);
    expect(existsSync(join(reg.dir, 'churn.json.lock'))).toBe(false); // the failed update let go of the lock
  });
});

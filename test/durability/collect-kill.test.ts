/**
 * Issue 10 item 5, on the real dev server with real `mlpipe worker` processes: a collect stage
 * parsing a large CSV keeps heartbeating and answering queries while it parses, and when its
 * worker is SIGKILLed mid-parse the default heartbeat timeout hands the stage to a second worker,
 * so the run completes well before the 10-minute start-to-close (this test's timeout is the bound).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/compiler/index.ts';
import { progressFrom } from '../../src/temporal/runs.ts';
import { statusQuery } from '../../workflows/api.ts';
import { spawnWorker, waitFor, type WorkerProcess } from '../support/processes.ts';
import { testAddress, testEnv, type TestEnv } from '../support/temporal.ts';

const ROWS = 4_000_000; // about 150 MB: the streamed parse takes long enough for several heartbeats even on a fast host

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function bigCsv(file: string): void {
  const lines = ['a,b,c,d,e,label'];
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < ROWS; i++) {
    lines.push(
      `${next().toFixed(4)},${next().toFixed(4)},${next().toFixed(4)},${next().toFixed(4)},${next().toFixed(4)},${['x', 'y', 'z'][i % 3]}`,
    );
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

async function stop(w: WorkerProcess): Promise<void> {
  if (w.exitCode !== null || w.signalCode !== null) return;
  w.kill('SIGTERM');
  await new Promise((r) => w.once('exit', r));
}

describe('a large collect on a worker that dies', () => {
  it('heartbeats and answers queries while parsing; SIGKILLed, the stage moves to another worker', async () => {
    const env: TestEnv = await testEnv('collect-kill', { worker: false });
    cleanups.push(() => env.close());
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-collect-kill-'));
    bigCsv(join(dir, 'big.csv'));
    writeFileSync(
      join(dir, 'p.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: collect-kill }
defaults: { taskQueue: ${env.queue} }
stages:
  data:
    type: collect
    source: { type: csv, path: big.csv }
    schema: { label: label }
`,
    );
    const { plan } = await compileFile(join(dir, 'p.yaml'));
    // nothing set in the spec: the kind's defaults
    expect(plan.nodes[0]!.activity).toMatchObject({ heartbeatTimeoutMs: 60_000, startToCloseTimeoutMs: 600_000 });

    const first = spawnWorker(testAddress(), env.queue, env.home);
    cleanups.push(async () => first.kill('SIGKILL'));
    const handle = await env.start(plan);
    /** The collect attempt's last heartbeat as the server has it: what it said, and when. */
    const pending = async () => {
      const pa = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityId === 'data');
      const payload = pa?.heartbeatDetails?.payloads?.[0];
      const details = payload ? env.client.options.loadedDataConverter.payloadConverter.fromPayload<unknown>(payload) : undefined;
      return {
        attempt: pa?.attempt,
        message: progressFrom(details)?.message ?? '',
        at: Number(pa?.lastHeartbeatTime?.seconds ?? 0) * 1000 + Math.floor((pa?.lastHeartbeatTime?.nanos ?? 0) / 1e6),
      };
    };

    let firstParsingBeat = 0;
    await waitFor(
      async () => {
        const p = await pending();
        if (p.message.startsWith('parsing')) firstParsingBeat = p.at;
        return firstParsingBeat > 0;
      },
      120_000,
      'the first worker to start parsing',
      100,
    );
    // The workflow's only worker is the one parsing: it answers.
    expect((await handle.query(statusQuery)).stages.data!.status).toBe('running');
    // A later heartbeat still saying "parsing": sent from the worker while it parsed.
    await waitFor(
      async () => {
        const p = await pending();
        expect(p.message, 'the parse ended before a second heartbeat: make the file bigger').toMatch(/^parsing/);
        return p.at > firstParsingBeat;
      },
      120_000,
      'a heartbeat during the parse',
      100,
    );
    expect((await pending()).attempt).toBe(1);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = spawnWorker(testAddress(), env.queue, env.home);
    cleanups.push(() => stop(second));
    const res = await handle.result();
    expect(res.stages.data!.status).toBe('succeeded');
    expect(res.stages.data!.attempts).toBeGreaterThanOrEqual(2);
    expect(res.stages.data!.outputs.rows).toBe(ROWS);
  }, 400_000);
});

/**
 * TensorFlow's start-up lines (absl's "WARNING: All log messages before absl::InitializeLog()"
 * and the oneDNN notice) stay off the stderr of `mlpipe worker`, `dev`, `serve` and `run`, and
 * `--verbose` shows them. The real CLI in child processes, on the suite's Temporal server, with
 * stderr a socket (Node's pipes: filtered through bin/stderr-filter.js) or a file (silenced while
 * TensorFlow loads); the rest of stderr (the worker's own log lines) must still arrive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';
import { testAddress } from '../support/temporal.ts';

const STARTUP = /absl::InitializeLog|oneDNN custom operations/;
const home = mkdtempSync(join(tmpdir(), 'mlpipe-native-logs-'));
const queue = `test-native-logs-${process.pid}`;
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Cli {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

let files = 0;

/** `mlpipe …` with stdout a pipe and stderr a pipe (a socket, as Node makes them) or a file. */
function mlpipe(stderr: 'socket' | 'file', ...args: string[]): Cli {
  const errFile = join(home, `stderr-${files++}.txt`);
  const errFd = stderr === 'file' ? openSync(errFile, 'w') : undefined;
  const child = spawn(process.execPath, ['bin/mlpipe.js', ...args], {
    env: { ...process.env, MLPIPE_HOME: home, NO_COLOR: '1', MLPIPE_SERVE_AUTOSTART: '0' },
    stdio: ['ignore', 'pipe', errFd ?? 'pipe'],
  });
  if (errFd !== undefined) closeSync(errFd);
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  // 'close': after stdout and stderr ended (the stderr filter may write after the exit)
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { child, out: () => out, err: () => (errFd === undefined ? err : readFileSync(errFile, 'utf8')), exited };
}

/** A pipeline that trains, so TensorFlow runs ops too (on `taskQueue`, when given). */
function pipeline(name: string, taskQueue?: string): string {
  const file = join(home, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: mlpipe/v1
metadata: { name: ${name} }
${taskQueue ? `defaults: { taskQueue: ${taskQueue} }` : ''}
stages:
  data: { type: collect, source: { type: synthetic, generator: blobs, samples: 200, classes: 2, seed: 1 } }
  prep: { type: preprocess, needs: [data], steps: [{ type: split, train: 0.8, test: 0.2, seed: 1 }] }
  train:
    type: train
    needs: [prep]
    model: { layers: [{ type: dense, units: 2, activation: softmax }] }
    optimizer: { type: adam }
    loss: sparseCategoricalCrossentropy
    epochs: 2
`,
  );
  return file;
}

async function stopped(cli: Cli): Promise<void> {
  cli.child.kill('SIGTERM');
  await cli.exited;
}

describe('TensorFlow start-up lines', () => {
  it('worker: none on stderr while it starts and trains, and `run --wait` prints none either', async () => {
    const worker = mlpipe('socket', 'worker', '--address', testAddress(), '--task-queue', queue, '--no-gpu-queue');
    await waitFor(() => worker.out().includes('training: tensorflow'), 120_000, 'the worker to start');
    const run = mlpipe('socket', 'run', pipeline('native-logs-run', queue), '--address', testAddress(), '--task-queue', queue, '--wait');
    expect(await run.exited, run.out() + run.err()).toBe(0);
    expect(run.out()).toContain('succeeded');
    await stopped(worker);
    expect(worker.err()).not.toMatch(STARTUP);
    expect(run.err()).not.toMatch(STARTUP);
    expect(worker.err()).toContain('Worker state changed'); // stderr itself still works
  }, 240_000);

  it('worker --verbose: shows them', async () => {
    const worker = mlpipe(
      'socket',
      'worker',
      '--address',
      testAddress(),
      '--task-queue',
      `${queue}-verbose`,
      '--no-gpu-queue',
      '--verbose',
    );
    await waitFor(() => worker.out().includes('training: tensorflow'), 120_000, 'the worker to start');
    await stopped(worker);
    expect(worker.err()).toMatch(/absl::InitializeLog/);
    expect(worker.err()).toMatch(/oneDNN custom operations/);
  }, 180_000);

  it('dev (its own server, worker and run): none while it runs a training pipeline; with --verbose they show', async () => {
    // its own server on free ports: its worker serves the default queues, which no other test uses
    const address = `127.0.0.1:${await freePort()}`;
    const ui = String(await freePort());
    const quiet = mlpipe('socket', 'dev', pipeline('native-logs-dev'), '--address', address, '--ui-port', ui, '--exit');
    expect(await quiet.exited, quiet.out() + quiet.err()).toBe(0);
    expect(quiet.out()).toContain('succeeded');
    expect(quiet.err()).not.toMatch(STARTUP);

    const verbose = mlpipe(
      'socket',
      'dev',
      pipeline('native-logs-dev'),
      '--address',
      address,
      '--ui-port',
      ui,
      '--exit',
      '--no-cache',
      '--verbose',
    );
    expect(await verbose.exited, verbose.out() + verbose.err()).toBe(0);
    expect(verbose.err()).toMatch(/oneDNN custom operations/);
  }, 300_000);

  it('serve, its stderr a file: none; with --verbose they show', async () => {
    for (const verbose of [false, true]) {
      const serve = mlpipe('file', 'serve', '--port', '0', ...(verbose ? ['--verbose'] : []));
      await waitFor(() => serve.out().includes('mlpipe model server at'), 120_000, 'the model server to start');
      await stopped(serve);
      if (verbose) expect(serve.err()).toMatch(/oneDNN custom operations/);
      else expect(serve.err()).not.toMatch(STARTUP);
    }
  }, 240_000);
});

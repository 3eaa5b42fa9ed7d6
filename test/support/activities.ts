/**
 * Test-only user activities (the `activity` stage kind) for the Temporal tests and the bench:
 * no-op, sleep, flaky, failing and checkpointing stages. Loaded by in-process workers and by
 * `node bin/mlpipe.js worker --activities test/support/activities.ts`.
 */
import { appendFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactRef, JsonValue, StageActivityInput } from '../../src/core/plan.ts';
import { attempt, cancellationSignal, lastCheckpoint, reportProgress } from '../../src/temporal/progress.ts';

type In = Record<string, JsonValue>;
const obj = (i: JsonValue): In => (i && typeof i === 'object' && !Array.isArray(i) ? (i as In) : {});

function sleep(ms: number): Promise<void> {
  const signal = cancellationSignal();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('cancelled'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Appends a line to `log` (a file), so tests can count executions across processes. */
function record(i: In, what: string) {
  if (typeof i.log === 'string') appendFileSync(i.log, `${what}\n`);
}

export async function noop(input: JsonValue): Promise<In> {
  return { ok: true, value: obj(input).value ?? null };
}

/** Sleeps `ms`, heartbeating every `beatMs`; returns when it ran (wall clock, ms). */
export async function sleepFor(input: JsonValue): Promise<In> {
  const i = obj(input);
  const ms = Number(i.ms ?? 100);
  const beat = Number(i.beatMs ?? 200);
  const startedAt = Date.now();
  record(i, `start ${i.name ?? ''}`);
  for (let done = 0; done < ms; done += beat) {
    reportProgress({ step: Math.min(done + beat, ms), steps: ms });
    await sleep(Math.min(beat, ms - done));
  }
  record(i, `end ${i.name ?? ''}`);
  return { startedAt, endedAt: Date.now() };
}

/** Fails the first `failTimes` attempts (retryable), then succeeds. */
export async function flaky(input: JsonValue): Promise<In> {
  const i = obj(input);
  const n = attempt();
  if (n <= Number(i.failTimes ?? 1)) throw new Error(`flaky failure on attempt ${n}`);
  return { attempt: n };
}

/** Always fails; `nonRetryable: true` makes it fail at once. */
export async function fail(input: JsonValue): Promise<never> {
  const i = obj(input);
  const msg = String(i.message ?? 'failing on purpose');
  if (i.nonRetryable) throw ApplicationFailure.nonRetryable(msg, 'TestFailure');
  throw new Error(msg);
}

/** Fails until the operator fixes it (`retry` with config `{ input: { ok: true } }`). */
export async function needsFix(input: JsonValue): Promise<In> {
  const i = obj(input);
  if (i.ok !== true) throw ApplicationFailure.nonRetryable('input.ok is not true: fix the config and retry', 'NeedsFix');
  return { fixed: true };
}

/** Produces an artifact ref (a digest of `value`) and logs the execution: for cache tests. */
export async function produce(input: JsonValue): Promise<In> {
  const i = obj(input);
  record(i, `produce ${JSON.stringify(i.value ?? null)}`);
  const digest = `sha256:${createHash('sha256')
    .update(JSON.stringify(i.value ?? null))
    .digest('hex')}`;
  const artifact: ArtifactRef = { kind: 'dataset', uri: `mem://${digest}`, digest, sizeBytes: 0 };
  return { dataset: artifact as unknown as JsonValue, size: Number(i.size ?? 0) };
}

/** The digests of the artifacts bound to its stage's inputs (which item of a forEach stage it read). */
export async function inputDigests(_input: JsonValue, stage: StageActivityInput): Promise<In> {
  return { digests: Object.fromEntries(Object.entries(stage.inputs).map(([k, v]) => [k, v.digest])) };
}

/** Records a run of a consumer stage (counts executions). */
export async function consume(input: JsonValue): Promise<In> {
  const i = obj(input);
  record(i, `consume ${JSON.stringify(i.value ?? null)}`);
  return { ok: true };
}

/**
 * `steps` steps of `stepMs`, heartbeating a checkpoint after each; a retried attempt resumes
 * from the last checkpoint. Returns which steps this attempt ran and the worker that ran it
 * (worker-kill test; user activities run in a child process of the worker: its ppid).
 */
export async function checkpointed(input: JsonValue): Promise<In> {
  const i = obj(input);
  const steps = Number(i.steps ?? 10);
  const from = lastCheckpoint<{ step: number }>()?.step ?? 0;
  record(i, `attempt ${attempt()} from ${from} pid ${process.ppid}`);
  for (let s = from; s < steps; s++) {
    await sleep(Number(i.stepMs ?? 200));
    reportProgress({ step: s + 1, steps }, { step: s + 1 });
  }
  return { resumedFrom: from, attempt: attempt(), pid: process.ppid };
}

/** Returns a string output of `bytes` bytes (outputs too large for a history). */
export async function large(input: JsonValue): Promise<In> {
  return { blob: 'x'.repeat(Number(obj(input).bytes ?? 0)) };
}

/** Never returns and never yields: `while (true) {}` (isolation tests). Logs its pid first. */
export async function spin(input: JsonValue): Promise<never> {
  record(obj(input), `pid ${process.pid}`);
  for (;;) {
    // a user's loop that never awaits
  }
}

/** Never settles and ignores cancellation (isolation tests). Logs its pid first. */
export async function hang(input: JsonValue): Promise<never> {
  record(obj(input), `pid ${process.pid}`);
  return new Promise<never>(() => setInterval(() => undefined, 60_000));
}

/** Its process dies under it: `how` is 'kill' (SIGKILL, as the OOM killer does) or 'exit'. */
export async function crash(input: JsonValue): Promise<never> {
  const i = obj(input);
  record(i, `pid ${process.pid}`);
  if (i.how === 'exit') process.exit(3);
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => undefined);
}

/** Fails as a write to a full disk does (Node's ENOSPC error). */
export async function fullDisk(): Promise<never> {
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** Allocates until the JavaScript heap runs out (run it in a child with a small heap). */
export async function hog(): Promise<never> {
  const keep: number[][] = [];
  for (;;) keep.push(new Array(1_000_000).fill(1));
}

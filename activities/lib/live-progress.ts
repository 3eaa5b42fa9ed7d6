/**
 * Live progress in the Temporal UI. The UI shows a run's "Current Details" (set by the workflow)
 * without any clicks, but the workflow never sees heartbeats: only the server and `mlpipe status`
 * do. So, around every stage activity, the latest heartbeat's progress is relayed to the
 * workflow as a signal named by the progress line itself (`train · epoch 3/10 · ETA 20s · loss
 * 0.4123`: the UI's timeline on the run's landing page labels signals by name), at most every
 * 10 s (relayMs) and only when it changed; the workflow puts it in its stage table (Current
 * Details, on the User Metadata tab).
 *
 * Each signal adds a few history events: the interval bounds that (about 1,400 events an hour
 * of training at 10 s; a run that grows long continues as new). The relay is best-effort: a
 * failed signal is dropped, never the stage. The text is redacted like every other output.
 */
import type { Context } from '@temporalio/activity';
import { progressSignalName, type StageProgress } from '../../src/core/activities.ts';
import { redactValue, secretsInUse } from '../../src/redaction.ts';
import { shortDuration } from '../../src/temporal/follow.ts';
import { progressFrom } from '../../src/temporal/runs.ts';
import type { Progress } from '../../src/temporal/progress.ts';

/** How often at most (ms); MLPIPE_PROGRESS_RELAY_MS overrides it (tests), 0 turns the relay off. */
export function relayMs(): number {
  const raw = process.env.MLPIPE_PROGRESS_RELAY_MS;
  const v = raw ? Number(raw) : Number.NaN;
  return Number.isFinite(v) ? v : 10_000;
}

/** Tracks a stage's progress over one attempt to give `epoch 3/10 · loss 0.4123 · ETA 20s`. */
export class ProgressLine {
  private first?: { done: number; at: number };

  text(p: Progress, now = Date.now()): string {
    const parts: string[] = [];
    const done = p.epoch ?? p.step;
    const total = p.epochs ?? p.steps;
    if (typeof done === 'number' && typeof total === 'number' && total > 0) {
      parts.push(`${p.epoch !== undefined ? 'epoch' : 'step'} ${done}/${total}`);
      // ETA from this attempt's own pace (a resumed attempt starts part-way)
      if (!this.first || done < this.first.done) this.first = { done, at: now };
      const rate = (done - this.first.done) / (now - this.first.at);
      if (rate > 0 && done < total) parts.push(`ETA ${shortDuration((total - done) / rate)}`);
    }
    if (typeof p.loss === 'number') parts.push(`loss ${p.loss.toPrecision(4)}`);
    if (typeof p.message === 'string' && p.message) parts.push(p.message);
    return parts.join(' · ');
  }
}

/** Starts relaying `ctx`'s heartbeats for `stage`; returns the function that stops it. */
export function relayProgress(ctx: Context, stage: string): () => void {
  const every = relayMs();
  if (every <= 0) return () => undefined;
  let latest: unknown;
  let sent = '';
  const line = new ProgressLine();
  const heartbeat = ctx.heartbeat;
  // The context's heartbeat is a plain function property: wrap it to see what the stage sends.
  (ctx as { heartbeat: (d?: unknown) => void }).heartbeat = (d?: unknown) => {
    latest = d;
    heartbeat(d);
  };
  const timer = setInterval(() => {
    const p = progressFrom(latest);
    if (!p) return;
    const text = redactValue(line.text(p), secretsInUse()).slice(0, 200);
    if (!text || text === sent) return;
    sent = text;
    const workflowId = ctx.info.workflowExecution?.workflowId;
    let client;
    try {
      client = ctx.client;
    } catch {
      return; // a context without a client (tests calling activities directly)
    }
    if (!workflowId) return;
    client.workflow
      .getHandle(workflowId)
      .signal<[StageProgress]>(progressSignalName({ stage, text }), { stage, text })
      .catch(() => undefined);
  }, every);
  timer.unref();
  return () => {
    clearInterval(timer);
    (ctx as { heartbeat: (d?: unknown) => void }).heartbeat = heartbeat;
  };
}

/**
 * `--follow`: a live table of a run's stages (status, attempt, progress bar for epochs/steps),
 * redrawn in place on a TTY; plain lines (one per change) otherwise. Then the outcome.
 */
import pc from 'picocolors';
import type { Client } from '@temporalio/client';
import type { StageState } from '../../workflows/api.ts';
import { outputsText } from './outputs-text.ts';
import { describeRun, type LiveStage, type RunView } from './runs.ts';
import type { Progress } from './progress.ts';

const CLOSED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/** `1h02m`, `3m05s`, `42s`. */
export function shortDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * A progress bar with the loss and, when the stage's start time is known, an ETA extrapolated
 * from the pace so far (`nowMs` is a parameter so that tests can fix the clock).
 */
export function progressText(p: Progress | undefined, width = 20, startedAt?: string, nowMs = Date.now()): string {
  if (!p) return '';
  const done = p.epoch ?? p.step;
  const total = p.epochs ?? p.steps;
  let s = '';
  if (typeof done === 'number' && typeof total === 'number' && total > 0) {
    const f = Math.max(0, Math.min(1, done / total));
    const n = Math.round(f * width);
    s = `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${done}/${total}${p.epochs !== undefined ? ' epochs' : ''}`;
    const elapsed = startedAt ? nowMs - Date.parse(startedAt) : NaN;
    if (done > 0 && done < total && elapsed > 0) s += ` ETA ${shortDuration((elapsed * (total - done)) / done)}`;
  }
  if (typeof p.loss === 'number') s += ` loss ${p.loss.toPrecision(4)}`;
  if (typeof p.message === 'string') s += ` ${p.message}`;
  return s.trim();
}

function colour(status: string): string {
  switch (status) {
    case 'succeeded':
      return pc.green(status);
    case 'failed':
      return pc.red(status);
    case 'running':
      return pc.cyan(status);
    case 'awaiting-operator':
    case 'awaiting-approval':
      return pc.yellow(status);
    default:
      return pc.dim(status);
  }
}

/** A wrapped line would break the redraw: cut lines to the terminal's width. */
function fit(line: string, columns: number | undefined): string {
  if (!columns) return line;
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
  const visible = line.replace(/\x1b\[[0-9;]*m/g, '').length;
  if (visible < columns) return line;
  return `${line.slice(0, columns - 2 + (line.length - visible))}…`;
}

/** On a terminal, a forEach stage with more items shows the running, waiting and failed ones and a count. */
const MAX_TTY_ITEMS = 20;

/** One line per stage, and per item of a forEach stage (indented under it). */
export function stageLines(view: RunView, tty: boolean): string[] {
  return stageRows(view, tty).map((r) => r.line);
}

/** The stages and forEach items in display order, each with its state and its line. */
function stageRows(view: RunView, tty: boolean): { id: string; st: StageState; line: string }[] {
  const run = view.run;
  if (!run)
    return [
      {
        id: '',
        st: { status: 'pending', kind: '', attempts: 0, rounds: 0, outputs: {} },
        line: `${view.workflowId}: ${view.status} (no worker answered the status query)`,
      },
    ];
  type Unit = { id: string; label: string; st: StageState; count?: string };
  const units = run.order.flatMap((id): Unit[] => {
    const st = run.stages[id] as StageState;
    const items: Unit[] = (st.items ?? []).map((it, i) => ({ id: `${id}[${i}]`, label: `  ${id}[${i}]`, st: it }));
    if (!tty || items.length <= MAX_TTY_ITEMS) return [{ id, label: id, st }, ...items];
    // A screen holds a few lines: of many items, those not ended and the failed ones, then a count.
    const byStatus = new Map<string, number>();
    for (const it of items) byStatus.set(it.st.status, (byStatus.get(it.st.status) ?? 0) + 1);
    const shown = items.filter((it) => !['pending', 'succeeded', 'skipped', 'cancelled'].includes(it.st.status)).slice(0, MAX_TTY_ITEMS);
    const count = `${items.length} items: ${[...byStatus].map(([s, k]) => `${k} ${s}`).join(', ')}`;
    return [{ id, label: id, st }, ...shown, { id: `${id}[…]`, label: `  ${id}[…]`, st, count }];
  });
  const width = Math.max(5, ...units.map((u) => u.label.length));
  return units.map(({ id, label, st, count }) => {
    if (count !== undefined) return { id, st, line: `${label.padEnd(width)}  ${count}` };
    const live: LiveStage = view.live[id] ?? {};
    const status = st.cached && st.status === 'succeeded' ? 'succeeded (cached)' : st.status;
    const attempt = live.attempt && live.attempt > 1 ? ` attempt ${live.attempt}` : '';
    const extra =
      st.status === 'running'
        ? progressText(live.progress, 20, st.startedAt) + (live.lastFailure ? ` last error: ${live.lastFailure}` : '')
        : st.status === 'skipped' || st.status === 'cancelled'
          ? (st.reason ?? '')
          : st.error && st.status !== 'succeeded'
            ? st.error
            : st.status === 'succeeded'
              ? (st.items && st.reason ? `${st.reason}; ` : '') + outputsText(st.outputs)
              : '';
    const statusText = tty ? colour(status).padEnd(18 + (colour(status).length - status.length)) : status.padEnd(18);
    return { id, st, line: `${label.padEnd(width)}  ${statusText}${attempt}${extra ? `  ${extra}` : ''}`.trimEnd() };
  });
}

export interface FollowOptions {
  out?: NodeJS.WriteStream;
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Follows a run until it closes (or `signal` aborts); returns the last view. */
export async function followRun(client: Client, workflowId: string, o: FollowOptions = {}): Promise<RunView> {
  const out = o.out ?? process.stdout;
  const tty = Boolean(out.isTTY);
  let drawn = 0;
  const seen = new Map<string, string>();
  let view: RunView;
  for (;;) {
    view = await describeRun(client, workflowId);
    const rows = stageRows(view, tty);
    const lines = rows.map((r) => r.line);
    if (tty) {
      if (drawn) out.write(`\x1b[${drawn}A`);
      for (const l of lines) out.write(`\x1b[2K${fit(l, out.columns)}\n`);
      drawn = lines.length;
    } else {
      // Plain output: a line when a stage's status (not its progress) changes.
      for (const { id, st, line } of view.run ? rows : []) {
        const key = `${st.status}/${st.rounds}`;
        if (seen.get(id) !== key) {
          seen.set(id, key);
          if (st.status !== 'pending') out.write(`${line}\n`);
        }
      }
    }
    if (CLOSED.has(view.status) || o.signal?.aborted) break;
    if (view.status === 'CONTINUED_AS_NEW') continue;
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
  return view;
}

/** The outcome line(s) after a run closed. */
export function outcomeText(view: RunView): string {
  const took = view.startTime && view.closeTime ? ` in ${((+view.closeTime - +view.startTime) / 1000).toFixed(1)} s` : '';
  switch (view.status) {
    case 'COMPLETED':
      return `${pc.green('✔')} ${view.workflowId} succeeded${took}`;
    case 'FAILED':
      return `${pc.red('✘')} ${view.workflowId} failed${took}: ${view.failure ?? 'see the Temporal UI'}`;
    default:
      return `${view.workflowId} ${view.status.toLowerCase()}${took}${view.failure ? `: ${view.failure}` : ''}`;
  }
}

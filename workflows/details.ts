/**
 * The Temporal UI's "Current Details": a Markdown table of the stages, with each running stage's
 * live progress (relayed by its activity as progress signals, handlers.ts). Metadata only: setting it is
 * not a command, so how often it is refreshed does not matter to replay.
 */
import { setCurrentDetails } from '@temporalio/workflow';
import { itemId, type Plan } from '../src/core/plan.ts';
import type { StageState } from './api.ts';
import type { RunState } from './run-state.ts';

/** A forEach stage with more items shows only the running, waiting and failed ones, and counts. */
const MAX_ITEM_ROWS = 20;

export class CurrentDetails {
  // Not part of the run's state (queries have the server's heartbeats); shown only while the
  // stage runs.
  private readonly liveProgress = new Map<string, string>();

  constructor(
    private readonly plan: Plan,
    private readonly run: RunState,
  ) {}

  setProgress(stage: string, text: string): void {
    this.liveProgress.set(stage, text.slice(0, 200));
    this.refresh();
  }

  refresh(): void {
    setCurrentDetails(this.render());
  }

  render(): string {
    const row = (id: string, kind: string, s: StageState) => {
      const note =
        s.status === 'skipped' || s.status === 'cancelled'
          ? (s.reason ?? '')
          : s.status === 'running'
            ? (this.liveProgress.get(id) ?? s.error ?? '')
            : (s.error ?? (s.items ? s.reason : undefined) ?? '');
      return `| ${id} | ${kind} | ${s.status}${s.cached ? ' (cached)' : ''} | ${note.replace(/\|/g, '\\|').slice(0, 120)} |`;
    };
    // a forEach stage's items follow it, each on its own row; of many, those not ended and the
    // failed ones, then a count (the table stays small however many items there are)
    const itemRows = (n: Plan['nodes'][number], items: StageState[]) => {
      const ids = items.map((_, i) => i);
      if (items.length <= MAX_ITEM_ROWS) return ids.map((i) => row(itemId(n.id, i), n.kind, items[i]!));
      const shown = ids.filter((i) => !['pending', 'succeeded', 'skipped', 'cancelled'].includes(items[i]!.status)).slice(0, MAX_ITEM_ROWS);
      const counts = new Map<string, number>();
      for (const it of items) counts.set(it.status, (counts.get(it.status) ?? 0) + 1);
      const summary = [...counts].map(([st, k]) => `${k} ${st}`).join(', ');
      return [
        ...shown.map((i) => row(itemId(n.id, i), n.kind, items[i]!)),
        `| ${n.id}[…] | ${n.kind} | ${items.length} items | ${summary} |`,
      ];
    };
    const rows = this.plan.nodes.flatMap((n) => {
      const s = this.run.stage(n.id);
      return [row(n.id, n.kind, s), ...(s.items ? itemRows(n, s.items) : [])];
    });
    return [`**${this.plan.pipeline}**`, '', '| stage | kind | status | note |', '| --- | --- | --- | --- |', ...rows].join('\n');
  }
}

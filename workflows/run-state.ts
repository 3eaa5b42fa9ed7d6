/**
 * The run's state: every stage's StageState and the run's params, and the only place that changes
 * them. Each status change is a named transition, so a reader sees every way a stage can move in
 * one file. Pure bookkeeping: no commands, so nothing here affects replay (the field order of each
 * assignment is kept, so `status` answers and continue-as-new's carried state look as before).
 */
import type { ExprContext } from '../src/core/expr.ts';
import type { JsonValue, ParamValue, Plan } from '../src/core/plan.ts';
import { TERMINAL, type ItemState, type PipelineInput, type RunStatus, type StageState } from './api.ts';

/** new Date() is Temporal's replay-safe clock inside the workflow. */
const now = () => new Date().toISOString();

export class RunState {
  readonly stages: Record<string, StageState> = {};
  params: Record<string, ParamValue>;

  constructor(
    private readonly plan: Plan,
    input: PipelineInput,
  ) {
    this.params = { ...(input.carried?.params ?? plan.params) };
    for (const n of plan.nodes) {
      const carried = input.carried?.stages[n.id];
      const fresh: StageState = { status: 'pending', kind: n.kind, attempts: 0, rounds: 0, outputs: {} };
      this.stages[n.id] =
        carried && TERMINAL.includes(carried.status)
          ? carried
          : carried?.items
            ? // a forEach stage paused for continue-as-new: its ended items are kept, the rest run here
              { ...fresh, items: carried.items.map((i) => (TERMINAL.includes(i.status) ? i : { ...fresh, item: i.item })) }
            : fresh;
    }
    for (const [id, outputs] of Object.entries(input.reuse ?? {})) {
      const s = this.stages[id];
      if (s && s.status === 'pending') {
        Object.assign(s, { status: 'succeeded', outputs, cached: true, reason: 'reused from the earlier run' });
        const items = input.reuseItems?.[id];
        if (items) s.items = items;
      }
    }
  }

  /** A stage's state, or a forEach item's by its id `<stage>[<index>]`. */
  stage(id: string): StageState {
    return this.stages[id] ?? this.item(id)!;
  }

  /** Is `id` a stage or a started forEach item of this run? */
  has(id: string): boolean {
    return Object.hasOwn(this.stages, id) || this.item(id) !== undefined;
  }

  private item(id: string): ItemState | undefined {
    const m = /^(.+)\[(\d+)\]$/.exec(id);
    return m && Object.hasOwn(this.stages, m[1]!) ? this.stages[m[1]!]!.items?.[Number(m[2])] : undefined;
  }

  isTerminal(id: string): boolean {
    return TERMINAL.includes(this.stage(id).status);
  }

  /** Plan nodes not yet in a terminal state, in plan order. */
  unfinished(): string[] {
    return this.plan.nodes.map((n) => n.id).filter((id) => !this.isTerminal(id));
  }

  /** The `status` query's answer. */
  status(): RunStatus {
    return {
      pipeline: this.plan.pipeline,
      planHash: this.plan.hash,
      params: this.params,
      stages: this.stages,
      order: this.plan.nodes.map((n) => n.id),
    };
  }

  /** What `when` and `${…}` expressions see: params and every stage's status and outputs. */
  exprContext(): ExprContext {
    return {
      params: this.params,
      paramTypes: this.plan.paramTypes,
      stages: Object.fromEntries(
        Object.entries(this.stages).map(([id, s]) => [
          id,
          // forEach stages also show their items (plain stages' context stays as it always was)
          s.items
            ? { status: s.status, outputs: s.outputs, items: s.items.map((i) => ({ item: i.item, status: i.status, outputs: i.outputs })) }
            : { status: s.status, outputs: s.outputs },
        ]),
      ),
    };
  }

  /** An operator's retry overrides params from now on. */
  overrideParams(params: Record<string, ParamValue>): void {
    this.params = { ...this.params, ...params };
  }

  // ---- transitions -----------------------------------------------------------------------------

  markAwaitingApproval(id: string): void {
    this.stage(id).status = 'awaiting-approval';
  }

  /** A new round starts: the previous round's error is cleared. */
  markRunning(id: string, round: number): void {
    Object.assign(this.stage(id), { status: 'running', rounds: round, startedAt: now(), error: undefined });
  }

  /** The step cache had the outputs: no activity ran. */
  markCached(id: string, outputs: Record<string, JsonValue>, cacheKey: string | undefined): void {
    Object.assign(this.stage(id), { status: 'succeeded', outputs, cached: true, cacheKey, attempts: 0, endedAt: now() });
  }

  /** The activity returned; the stage succeeds once its outputs are in the step cache. */
  recordOutputs(id: string, outputs: Record<string, JsonValue>, attempts: number, cacheKey: string | undefined): void {
    Object.assign(this.stage(id), { outputs, attempts, cacheKey });
  }

  markSucceeded(id: string): void {
    Object.assign(this.stage(id), { status: 'succeeded', endedAt: now() });
  }

  markSkipped(id: string, reason: string): void {
    Object.assign(this.stage(id), { status: 'skipped', reason, endedAt: now() });
  }

  /** A round failed: its error (and, when retries ran out, the attempts made) stays on the stage. */
  recordError(id: string, error: string, attempts?: number): void {
    const s = this.stage(id);
    s.error = error;
    if (attempts !== undefined) s.attempts = attempts;
  }

  /** Fix and continue: the failed stage holds the run until an operator retries or skips it. */
  markAwaitingOperator(id: string): void {
    this.stage(id).status = 'awaiting-operator';
  }

  /** After recordError: the stage has failed for good. */
  markFailed(id: string): void {
    Object.assign(this.stage(id), { status: 'failed', endedAt: now() });
  }

  /** Its `when` could not be evaluated: failed before it started (no endedAt, as it never ran). */
  markWhenFailed(id: string, error: string): void {
    const s = this.stage(id);
    s.status = 'failed';
    s.error = error;
  }

  /** Cancelled while it ran. */
  markCancelled(id: string): void {
    Object.assign(this.stage(id), { status: 'cancelled', endedAt: now() });
  }

  /** A forEach stage has its items: each starts pending. */
  startItems(id: string, items: JsonValue[]): void {
    const s = this.stage(id);
    s.items = items.map((item) => ({ item, status: 'pending', kind: s.kind, attempts: 0, rounds: 0, outputs: {} }));
  }

  /**
   * Every item of a forEach stage has ended: items never started are cancelled, and the stage's
   * outputs become lists of its succeeded items' outputs, in item order.
   */
  collectItems(id: string, reason: string): void {
    const s = this.stage(id);
    const items = s.items ?? [];
    for (const i of items) if (!TERMINAL.includes(i.status)) Object.assign(i, { status: 'cancelled', reason });
    const done = items.filter((i) => i.status === 'succeeded');
    const names = [...new Set(done.flatMap((i) => Object.keys(i.outputs)))];
    s.outputs = Object.fromEntries(names.map((n) => [n, done.map((i) => i.outputs[n] ?? null)]));
    s.cached = done.length > 0 && done.every((i) => i.cached);
    s.attempts = items.reduce((n, i) => n + i.attempts, 0);
  }

  /** The run ends early (a failure or a cancellation): the stages it never finished. */
  cancelUnfinished(reason: string): void {
    for (const id of this.unfinished()) Object.assign(this.stage(id), { status: 'cancelled', reason });
  }
}

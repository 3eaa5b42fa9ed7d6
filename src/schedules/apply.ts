/**
 * `mlpipe apply <dir>`: make the Temporal Schedules of a scope match the pipeline files in a
 * directory. Three steps, so that nothing changes unless everything is known to be right:
 *   1. `loadDesired`: validate every file (any invalid → nothing is applied) and compile the
 *      ones with a `schedule:` (with the schedule's params).
 *   2. `planChanges`: compare with the server: create / update (stable hash differs; lists what
 *      changed) / delete (an mlpipe-managed schedule of this scope whose pipeline is gone or no
 *      longer has a `schedule:`) / unchanged. A schedule with our id that mlpipe did not make is
 *      a conflict, and nothing is applied.
 *   3. `executeChanges`.
 * Only schedules whose memo says `managedBy: mlpipe` (and whose scope matches) are ever touched.
 */
import { dirname, isAbsolute, posix, relative, resolve, sep } from 'node:path';
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Plan } from '../core/plan.ts';
import { baseDirs, portablePlan } from '../compiler/portable.ts';
import type { ValidationResult } from '../spec/validate.ts';
import { DEFAULT_TASK_QUEUE, type PipelineInput } from '../../workflows/api.ts';
import type { SourceInfo } from '../temporal/runs.ts';
import { DEFAULT_SCOPE, managedMemo, scheduleIdFor, scheduleOptions, scheduleText, stableHash, type ScheduleSource } from './options.ts';

export interface Desired extends ScheduleSource {
  file: string;
  source: SourceInfo;
  /** Collect stages' base dir was given (`--workers-root`): a change of it is a change. */
  baseDirPinned?: boolean;
}

export interface Loaded {
  /** Validation results of every file (invalid ones block the apply). */
  results: ValidationResult[];
  invalid: ValidationResult[];
  /** Pipelines with a schedule, compiled. */
  desired: Desired[];
  /** Every pipeline name found, scheduled or not. */
  pipelines: string[];
  /** Problems across files (duplicate pipeline names). */
  errors: string[];
  warnings: string[];
}

export interface LoadOptions {
  taskQueue?: string;
  scope?: string;
  /**
   * Where the workers see the directory `root` (e.g. `/srv/mlpipe/pipelines`). Collect stages
   * resolve relative paths against the spec's directory, which the compiler records as an
   * absolute path of the machine that compiles (a CI runner's checkout for `apply` in CI):
   * with this, scheduled runs get the workers' path instead.
   */
  workersRoot?: string;
  /** The directory given to apply (needed with `workersRoot`). */
  root?: string;
}

/** The spec directory as the workers see it (or as this machine sees it). */
export function baseDirFor(file: string, o: Pick<LoadOptions, 'workersRoot' | 'root'>): string {
  const here = dirname(resolve(file));
  if (!o.workersRoot) return here;
  if (!o.root) throw new Error('workersRoot needs root (the directory given to apply)');
  const rel = relative(resolve(o.root), here);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${file} is not inside ${o.root}`);
  return posix.join(o.workersRoot, ...rel.split(sep).filter(Boolean));
}

/** Validates every file; compiles the scheduled ones (with `schedule.params`). */
export async function loadDesired(files: string[], o: LoadOptions = {}): Promise<Loaded> {
  const { validateFile } = await import('../spec/validate.ts');
  const { compile } = await import('../compiler/compile.ts');
  const { sourceInfo } = await import('../compiler/source.ts');
  const results: ValidationResult[] = [];
  for (const f of files) results.push(await validateFile(f));
  const invalid = results.filter((r) => !r.valid);
  const out: Loaded = { results, invalid, desired: [], pipelines: [], errors: [], warnings: [] };
  if (invalid.length) return out;
  const seen = new Map<string, string>();
  const dirty = new Set<string>();
  for (const r of results) {
    const f = r.file;
    const name = r.valid!.pipeline.metadata.name;
    const other = seen.get(name);
    if (other) out.errors.push(`${f}: pipeline name "${name}" is also used by ${other}; names must be unique`);
    seen.set(name, f);
    out.pipelines.push(name);
    const sched = r.valid!.pipeline.schedule;
    if (!sched) continue;
    // Scheduled runs get the schedule's params: validate again with them as overrides.
    const params = Object.fromEntries(Object.entries(sched.params ?? {}).map(([k, v]) => [k, String(v)]));
    const withParams = Object.keys(params).length ? await validateFile(f, params) : r;
    if (!withParams.valid) {
      out.errors.push(`${f}: the schedule's params do not validate: ${withParams.diagnostics.map((d) => d.message).join('; ')}`);
      continue;
    }
    const source = sourceInfo(f);
    const plan = compile(withParams.valid, {
      baseDir: baseDirFor(f, o),
      ...(source.repoDir !== undefined ? { repoDir: source.repoDir } : {}),
    });
    if (source.gitDirty && source.gitSha && !dirty.has(source.gitSha)) {
      dirty.add(source.gitSha);
      out.warnings.push(
        `the git tree of ${f} has uncommitted changes: schedules record commit ${source.gitSha.slice(0, 10)} ` +
          '(marked dirty), which may differ from what is applied',
      );
    }
    out.desired.push({
      plan,
      source,
      file: f,
      taskQueue: o.taskQueue ?? DEFAULT_TASK_QUEUE,
      scope: o.scope ?? DEFAULT_SCOPE,
      ...(o.workersRoot ? { baseDirPinned: true } : {}),
    });
  }
  return out;
}

export type ChangeAction = 'create' | 'update' | 'delete' | 'unchanged' | 'conflict';

export interface Change {
  action: ChangeAction;
  scheduleId: string;
  pipeline: string;
  file?: string;
  /** create: when it fires; update: what changed; conflict: why. */
  details: string[];
  /** update only: the schedule has to be re-created (it moved between scopes). */
  recreate?: boolean;
  desired?: Desired;
}

function planOf(desc: ScheduleDescription): Plan | undefined {
  const input = desc.action.args?.[0] as PipelineInput | undefined;
  return input && typeof input === 'object' && input.plan ? input.plan : undefined;
}

const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What differs between two plans, in words (`schedule.every`, `stage train`, `+stage notify`). */
export function planDiff(before: Plan, after: Plan): string[] {
  const a = portablePlan(before) as Record<string, unknown>;
  const b = portablePlan(after) as Record<string, unknown>;
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !['nodes', 'levels', 'schedule'].includes(k)).sort();
  for (const k of keys) if (!eq(a[k], b[k])) out.push(k);
  const sa = (a.schedule ?? {}) as Record<string, unknown>;
  const sb = (b.schedule ?? {}) as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort()) {
    if (!eq(sa[k], sb[k])) out.push(`schedule.${k}: ${JSON.stringify(sa[k] ?? null)} → ${JSON.stringify(sb[k] ?? null)}`);
  }
  const na = new Map(before.nodes.map((n) => [n.id, portablePlan({ ...before, nodes: [n] }).nodes]));
  const nb = new Map(after.nodes.map((n) => [n.id, portablePlan({ ...after, nodes: [n] }).nodes]));
  for (const id of na.keys()) if (!nb.has(id)) out.push(`-stage ${id}`);
  for (const [id, n] of nb) {
    if (!na.has(id)) out.push(`+stage ${id}`);
    else if (!eq(na.get(id), n)) out.push(`stage ${id}`);
  }
  if (!eq(a.levels, b.levels) && out.every((c) => !c.includes('stage'))) out.push('stage order');
  return out;
}

async function describeOrUndefined(client: Client, id: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** The changes that would make the server match `desired` (nothing is changed here). */
export async function planChanges(client: Client, loaded: Pick<Loaded, 'desired' | 'pipelines'>, scope = DEFAULT_SCOPE): Promise<Change[]> {
  const changes: Change[] = [];
  const wanted = new Set<string>();
  for (const d of loaded.desired) {
    const id = scheduleIdFor(d.plan.pipeline);
    wanted.add(id);
    const base = { scheduleId: id, pipeline: d.plan.pipeline, file: d.file, desired: d };
    // describe, not list: list is eventually consistent, describe sees a schedule made a moment ago.
    const desc = await describeOrUndefined(client, id);
    if (!desc) {
      changes.push({ ...base, action: 'create', details: [scheduleText(d.plan.schedule!)] });
      continue;
    }
    const memo = managedMemo(desc.memo);
    if (!memo) {
      changes.push({
        ...base,
        action: 'conflict',
        details: [`schedule ${id} exists and was not made by mlpipe; rename the pipeline or delete that schedule yourself`],
      });
      continue;
    }
    const old = planOf(desc);
    const queue = d.taskQueue ?? DEFAULT_TASK_QUEUE;
    if (memo.scope !== scope) {
      changes.push({ ...base, action: 'update', recreate: true, details: [`moves from scope "${memo.scope}" to "${scope}"`] });
      continue;
    }
    const dirsMoved = !!old && !!d.baseDirPinned && !eq(baseDirs(old), baseDirs(d.plan));
    if (old && !dirsMoved && stableHash(old, desc.action.taskQueue) === stableHash(d.plan, queue)) {
      changes.push({ ...base, action: 'unchanged', details: [] });
      continue;
    }
    const details = old ? planDiff(old, d.plan) : ['the schedule holds no mlpipe plan'];
    if (desc.action.taskQueue !== queue) details.push(`task queue: ${desc.action.taskQueue} → ${queue}`);
    if (dirsMoved) details.push(`collect base dir: ${baseDirs(old!)[0] ?? '-'} → ${baseDirs(d.plan)[0] ?? '-'}`);
    changes.push({ ...base, action: 'update', details: details.length ? details : ['plan'] });
  }
  // Deletions: mlpipe's schedules of this scope that no file asks for any more.
  for await (const s of client.schedule.list()) {
    const memo = managedMemo(s.memo);
    if (!memo || memo.scope !== scope || wanted.has(s.scheduleId)) continue;
    const why = loaded.pipelines.includes(memo.pipeline) ? 'the pipeline no longer has a schedule' : 'its pipeline file is gone';
    changes.push({ action: 'delete', scheduleId: s.scheduleId, pipeline: memo.pipeline, details: [why] });
  }
  return changes.sort((x, y) => (x.scheduleId < y.scheduleId ? -1 : x.scheduleId > y.scheduleId ? 1 : 0));
}

/** Applies create/update/delete changes, in that order. */
export async function executeChanges(client: Client, changes: Change[]): Promise<void> {
  if (changes.some((c) => c.action === 'conflict')) throw new Error('conflicting schedules: nothing applied');
  for (const c of changes) {
    if (c.action === 'create' || (c.action === 'update' && c.recreate)) {
      if (c.recreate) await client.schedule.getHandle(c.scheduleId).delete();
      await client.schedule.create(scheduleOptions(c.desired!));
    } else if (c.action === 'update') {
      const { scheduleId: _id, memo: _memo, ...next } = scheduleOptions(c.desired!);
      await client.schedule
        .getHandle(c.scheduleId)
        .update(() => ({ ...next, state: { paused: next.state?.paused, note: next.state?.note } }));
    }
  }
  for (const c of changes) if (c.action === 'delete') await client.schedule.getHandle(c.scheduleId).delete();
}

export function summary(changes: Change[]): string {
  const n = (a: ChangeAction) => changes.filter((c) => c.action === a).length;
  const [cr, up, de] = [n('create'), n('update'), n('delete')];
  if (cr + up + de === 0) return `no changes (${n('unchanged')} schedule${n('unchanged') === 1 ? '' : 's'} up to date)`;
  return `${cr} created, ${up} updated, ${de} deleted, ${n('unchanged')} unchanged`;
}

/**
 * A run's plan travels as the workflow's input, and each stage's config again as its activity's
 * input: Temporal refuses a payload over 2 MB ("Failed to start Workflow"). A small file can
 * compile into a huge plan (an anchor aliased many times is copied in full at every alias), so
 * the size is estimated at validate, stage by stage, without building the plan.
 */
import { pointer, type Diagnostic } from './diagnostics.ts';
import type { LoadedSpec } from './load.ts';
import type { Pipeline } from './types.gen.ts';

/** Temporal's default payload limit (`limit.blobSize.error`). */
export const MAX_PLAN_BYTES = 2 * 1024 * 1024;
/** Above this a plan is worth a warning (Temporal warns at 512 KB per payload). */
export const WARN_PLAN_BYTES = 256 * 1024;
/** What a node adds besides its config (id, needs, activity options, cache, …). */
const NODE_OVERHEAD = 600;

/** JSON length of `v`, counting no further than `budget` (an alias fan-out is never serialised whole). */
export function jsonSize(v: unknown, budget = Infinity): number {
  let n = 0;
  const visit = (x: unknown): void => {
    if (n > budget) return;
    if (Array.isArray(x)) {
      n += 2 + Math.max(0, x.length - 1);
      for (const e of x) visit(e);
    } else if (x !== null && typeof x === 'object') {
      const entries = Object.entries(x).filter(([, e]) => e !== undefined);
      n += 2 + Math.max(0, entries.length - 1);
      for (const [k, e] of entries) {
        n += JSON.stringify(k).length + 1;
        visit(e);
      }
    } else {
      n += (JSON.stringify(x) ?? 'null').length;
    }
  };
  visit(v);
  return n;
}

const fmt = (b: number) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(b / 1024)} KB`);

export function planSizeDiagnostics(spec: LoadedSpec, p: Pipeline): Diagnostic[] {
  const budget = MAX_PLAN_BYTES + 1;
  const sizes = Object.entries(p.stages).map(([name, s]) => {
    const tuned = s.type === 'optimize' ? p.stages[(s as { tunes: string }).tunes] : undefined; // compiled into the optimize node
    return { name, bytes: NODE_OVERHEAD + jsonSize(s, budget) + (tuned ? jsonSize(tuned, budget) : 0) };
  });
  const total = jsonSize(p.params ?? {}, budget) + sizes.reduce((a, s) => a + s.bytes, 0);
  if (total <= WARN_PLAN_BYTES) return [];
  const biggest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const path = ['stages', biggest.name];
  const over = total > MAX_PLAN_BYTES;
  const size = over ? `over ${fmt(MAX_PLAN_BYTES)}` : `about ${fmt(total)}`;
  const why = over
    ? `Temporal refuses a run whose plan is over ${fmt(MAX_PLAN_BYTES)}`
    : `every run stores it in its history, and plans over ${fmt(MAX_PLAN_BYTES)} are refused`;
  return [
    {
      file: spec.file,
      ...spec.locate(path, 'key'),
      severity: over ? 'error' : 'warning',
      code: over ? 'plan.too-large' : 'plan.large',
      message:
        `the compiled plan would be ${size}: ${why} (stage \`${biggest.name}\` ` +
        `is ${biggest.bytes > MAX_PLAN_BYTES ? `over ${fmt(MAX_PLAN_BYTES)}` : fmt(biggest.bytes)})`,
      hint: 'an anchor is copied in full at every alias; keep data out of the spec: read it in a collect stage or pass it as an artifact',
      path: pointer(path),
    },
  ];
}

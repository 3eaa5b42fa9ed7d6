/**
 * A finished stage's key outputs in one short line for `mlpipe status` and `run --wait`:
 * scalars (rows, accuracy, version, endpoint, drifted, …) and small objects flattened
 * (optimize's `best.lr=0.01`); artifact references are left out (they are ids, not results;
 * `--json` and `mlpipe report` have them).
 */
import type { JsonValue } from '../core/plan.ts';

const MAX_WIDTH = 160;

function isArtifactRef(v: JsonValue): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.uri === 'string' && typeof v.digest === 'string';
}

export function formatValue(v: JsonValue): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'string') return v.length > 60 ? `${v.slice(0, 57)}...` : v;
  return JSON.stringify(v);
}

export type Scalar = string | number | boolean;

/**
 * The outputs worth reading as results, flattened one level (`best.lr`): artifact references,
 * lists and nulls left out.
 */
export function scalarOutputs(outputs: Record<string, JsonValue>, prefix = ''): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const [k, v] of Object.entries(outputs)) {
    if (v === null || isArtifactRef(v) || Array.isArray(v)) continue; // lists (trials …): in the report
    if (typeof v === 'object') {
      if (!prefix) Object.assign(out, scalarOutputs(v, `${k}.`)); // one level: best.lr, not deeper
      continue;
    }
    out[`${prefix}${k}`] = v;
  }
  return out;
}

function pairs(outputs: Record<string, JsonValue>): string[] {
  return Object.entries(scalarOutputs(outputs)).map(([k, v]) => `${k}=${formatValue(v)}`);
}

/** `rows=150`, `accuracy=0.9667 passed=true`, `version=v2 endpoint=http://…`; '' when none. */
export function outputsText(outputs: Record<string, JsonValue> | undefined): string {
  if (!outputs) return '';
  let line = '';
  for (const p of pairs(outputs)) {
    const next = line ? `${line} ${p}` : p;
    if (next.length > MAX_WIDTH) return `${line} …`;
    line = next;
  }
  return line;
}

import { createHash } from 'node:crypto';

/**
 * A deep copy of JSON-like data with object keys in sorted order and undefined members dropped
 * (undefined in arrays becomes null), as JSON.stringify would write them. Equal values give
 * equal copies, so `JSON.stringify(canonical(v))` is a stable text to hash. (Integer-like keys
 * such as "10" and "9" come out in JavaScript's numeric order: still the same for equal values.)
 */
export function canonical<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v))) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') out[k] = canonical(v);
  }
  return out as T;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? 'null';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

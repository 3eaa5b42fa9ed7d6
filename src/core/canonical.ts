/**
 * A deep copy of JSON-like data with object keys in sorted order and undefined members dropped
 * (undefined in arrays becomes null), as JSON.stringify would write them. Equal values give
 * equal copies, so `JSON.stringify(canonical(v))` is a stable text to hash. (Integer-like keys
 * such as "10" and "9" come out in JavaScript's numeric order: still the same for equal values.)
 */
export function canonical<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v))) as T;
  // fromEntries defines keys (a `__proto__` key stays data; assigning it would set the prototype)
  const out = Object.keys(value)
    .sort()
    .map((k) => [k, (value as Record<string, unknown>)[k]] as const)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .map(([k, v]) => [k, canonical(v)]);
  return Object.fromEntries(out) as T;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? 'null';
}

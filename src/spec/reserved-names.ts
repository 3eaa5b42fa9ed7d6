/**
 * Keys JavaScript objects already have. A spec's keys become keys of plain objects everywhere
 * (params, stages, outputs, …): `__proto__` is taken as the object's prototype (the value is
 * dropped or, worse, inherited from), and a name such as `constructor` finds the built-in when
 * it is looked up. Both are refused at validate, where they are written.
 */
import { pointer, type Diagnostic } from './diagnostics.ts';
import type { LoadedSpec } from './load.ts';

export const PROTOTYPE_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** Maps whose keys are names mlpipe looks things up by (`*` is any key). */
const NAME_MAPS: { path: string[]; what: string }[] = [
  { path: ['params'], what: 'a param name' },
  { path: ['stages'], what: 'a stage name' },
  { path: ['stages', '*', 'inputs'], what: 'an input name' },
  { path: ['stages', '*', 'outputs'], what: 'an output name' },
  { path: ['metadata', 'labels'], what: 'a label' },
  { path: ['schedule', 'params'], what: 'a param name' },
];

const nameMap = (path: string[]) =>
  NAME_MAPS.find((m) => m.path.length === path.length && m.path.every((seg, i) => seg === '*' || seg === path[i]));

export function reservedNameDiagnostics(spec: LoadedSpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (path: string[], message: string) =>
    out.push({
      file: spec.file,
      ...spec.locate(path, 'key'),
      severity: 'error',
      code: 'names.reserved',
      message,
      hint: 'rename it',
      path: pointer(path),
    });
  const walk = (v: unknown, path: string[]) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, [...path, String(i)]));
    if (v === null || typeof v !== 'object') return;
    const map = nameMap(path);
    for (const key of Object.keys(v)) {
      if (key === '__proto__') {
        report(
          [...path, key],
          '`__proto__` cannot be a key: JavaScript objects take it as their prototype, so its value would be lost or inherited from',
        );
      } else if (map && PROTOTYPE_NAMES.has(key)) {
        report(
          [...path, key],
          `\`${key}\` cannot be ${map.what}: every JavaScript object already has a \`${key}\`, so looking it up would find the built-in`,
        );
      }
      walk((v as Record<string, unknown>)[key], [...path, key]);
    }
  };
  walk(spec.data, []);
  return out;
}

/** The path of the first `__proto__` key in JSON data (a compiled plan read from a file), if any. */
export function prototypeKeyPath(v: unknown, path: string[] = []): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v)) {
    if (k === '__proto__') return pointer([...path, k]);
    const found = prototypeKeyPath(x, [...path, k]);
    if (found !== undefined) return found;
  }
  return undefined;
}

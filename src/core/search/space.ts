// Search spaces: one dimension per config path of the tuned stage (`optimizer.learningRate`,
// `model.layers[0].units`). A choice value may carry a sub-space whose dimensions exist only when
// that value is chosen (`optimizer.type: sgd` opens `optimizer.momentum`); sub-spaces nest. Every
// sampler walks the space the same way (walkSpace), so none can emit an inactive dimension.
import type { Rng } from '../rng.ts';

export type Scalar = string | number | boolean;
/** A choice value; one with a `space` opens that sub-space only while it is chosen. */
export type ChoiceValue = Scalar | { value: Scalar; space: Space };
export type Dimension =
  | { type: 'uniform'; min: number; max: number }
  | { type: 'logUniform'; min: number; max: number }
  | { type: 'int'; min: number; max: number; step?: number; log?: boolean }
  | { type: 'choice'; values: ChoiceValue[] };
export type Space = Record<string, Dimension>;
export type ParamValues = Record<string, Scalar>;

/** The config path syntax of the pipeline schema: `a.b[2].c`. */
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*$/;

export class SpaceError extends Error {}

export const choiceValue = (v: ChoiceValue): Scalar => (typeof v === 'object' ? v.value : v);
export const subSpace = (v: ChoiceValue): Space | undefined => (typeof v === 'object' ? v.space : undefined);

/** Paths in a fixed order (sorted), so every sampler draws its random numbers in the same order. */
export function sortedDims(space: Space): [string, Dimension][] {
  return Object.entries(space).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The largest value of an int dimension that lies on its step grid. */
export function intHigh(d: Extract<Dimension, { type: 'int' }>): number {
  const step = d.step ?? 1;
  return d.min + step * Math.floor((d.max - d.min) / step);
}

/**
 * The active parameters: `pick` chooses each dimension's value in order, and a chosen value's
 * sub-space is walked right after its choice. Only dimensions reached this way are set.
 */
export function walkSpace(space: Space, pick: (path: string, d: Dimension) => Scalar, out: ParamValues = {}): ParamValues {
  for (const [path, d] of sortedDims(space)) {
    const v = pick(path, d);
    out[path] = v;
    if (d.type === 'choice') {
      const chosen = d.values.find((c) => choiceValue(c) === v);
      if (chosen === undefined) throw new SpaceError(`space: ${path}: ${JSON.stringify(v)} is not one of its values`);
      const sub = subSpace(chosen);
      if (sub) walkSpace(sub, pick, out);
    }
  }
  return out;
}

export interface DimensionInfo {
  dim: Dimension;
  /** Where it lives: `a` at the top, `a = v → b` inside a choice's sub-space. */
  at: string;
}

/** Every dimension of the space and its sub-spaces by path; checks the space (see checkSpace). */
export function allDimensions(space: Space): Map<string, DimensionInfo> {
  const out = new Map<string, DimensionInfo>();
  const visit = (s: Space, prefix: string) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw new SpaceError(`space${prefix ? ` ${prefix}` : ''}: a space is a mapping of config paths to dimensions`);
    for (const [path, d] of sortedDims(s)) {
      const at = `${prefix}${path}`;
      if (!PATH.test(path))
        throw new SpaceError(`space: ${at}: not a config path; write it like optimizer.learningRate or model.layers[0].units`);
      const seen = out.get(path);
      if (seen)
        throw new SpaceError(
          `space: ${at}: the path is already a dimension at ${seen.at}; a config path may appear once in the ` +
            'whole space (put a shared dimension outside the choice)',
        );
      checkDimension(at, d);
      out.set(path, { dim: d, at });
      if (d.type === 'choice')
        for (const c of d.values) {
          const sub = subSpace(c);
          if (sub !== undefined) visit(sub, `${at} = ${JSON.stringify(choiceValue(c))} → `);
        }
    }
  };
  visit(space, '');
  return out;
}

/** Throws a SpaceError naming the dimension and the fix when the space cannot be searched. */
export function checkSpace(space: Space): void {
  if (allDimensions(space).size === 0) throw new SpaceError('space: no dimensions; give at least one config path to search');
}

function checkDimension(at: string, d: Dimension): void {
  const bad = (why: string) => {
    throw new SpaceError(`space: ${at}: ${why}`);
  };
  if (typeof d !== 'object' || d === null) return bad('a dimension is a mapping with a type (uniform, logUniform, int or choice)');
  if (d.type === 'choice') {
    if (!Array.isArray(d.values) || d.values.length === 0) return bad('a choice needs at least one value');
    const seen = new Set<Scalar>();
    for (const c of d.values) {
      const v = choiceValue(c);
      if (!['string', 'number', 'boolean'].includes(typeof v))
        bad(`choice values are strings, numbers or booleans, or {value, space}; got ${JSON.stringify(c)}`);
      if (seen.has(v)) bad(`the value ${JSON.stringify(v)} is listed twice; list each value once`);
      seen.add(v);
    }
    return;
  }
  if (d.type !== 'uniform' && d.type !== 'logUniform' && d.type !== 'int')
    return bad(`unknown type ${JSON.stringify((d as { type: unknown }).type)}; use uniform, logUniform, int or choice`);
  if (!Number.isFinite(d.min) || !Number.isFinite(d.max)) return bad('min and max must be finite numbers');
  if (d.min > d.max) return bad(`min ${d.min} is above max ${d.max}; swap them`);
  if (d.type === 'logUniform' && d.min <= 0)
    return bad(`a logUniform range must be positive (min ${d.min}); raise min above 0 or use uniform`);
  if (d.type === 'int') {
    if (!Number.isInteger(d.min) || !Number.isInteger(d.max)) bad('an int range needs integer min and max');
    if (d.step !== undefined && !(Number.isInteger(d.step) && d.step >= 1)) bad(`step ${d.step} must be a whole number of at least 1`);
    if (d.log && (d.step ?? 1) !== 1) bad('a log-scaled int range takes no step (step 1); drop step or log');
    if (d.log && d.min < 1) bad(`a log-scaled int range starts at 1 or above (min ${d.min}); raise min or drop log`);
  }
}

/** The only value a dimension can take, if it has just one (samplers need not draw it). */
export function singleValue(d: Dimension): Scalar | undefined {
  if (d.type === 'choice') return d.values.length === 1 ? choiceValue(d.values[0]!) : undefined;
  if (d.type === 'int') return intHigh(d) === d.min ? d.min : undefined;
  return d.min === d.max ? d.min : undefined;
}

/** One uniformly random value of a dimension (log dimensions: uniform in the log). */
export function randomValue(d: Dimension, rng: Rng): Scalar {
  if (d.type === 'choice') return choiceValue(d.values[rng.int(d.values.length)]!);
  if (d.type === 'uniform') return d.min + rng.next() * (d.max - d.min);
  if (d.type === 'logUniform') return Math.exp(Math.log(d.min) + rng.next() * (Math.log(d.max) - Math.log(d.min)));
  if (d.log) {
    // As Optuna: uniform in log over the integers' half-open cells, then rounded.
    const lo = Math.log(d.min - 0.5);
    const hi = Math.log(d.max + 0.5);
    return Math.min(d.max, Math.max(d.min, Math.round(Math.exp(lo + rng.next() * (hi - lo)))));
  }
  const step = d.step ?? 1;
  return d.min + step * rng.int(Math.floor((d.max - d.min) / step) + 1);
}

/** Random search: every active dimension drawn uniformly. */
export function sampleParams(space: Space, rng: Rng): ParamValues {
  return walkSpace(space, (_path, d) => randomValue(d, rng));
}

/** Why `v` is not a value of `d`, or undefined when it is one. */
export function invalidValue(d: Dimension, v: unknown): string | undefined {
  if (d.type === 'choice') return d.values.some((c) => choiceValue(c) === v) ? undefined : `${JSON.stringify(v)} is not one of its values`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${JSON.stringify(v)} is not a number`;
  if (v < d.min || v > d.max) return `${v} is outside [${d.min}, ${d.max}]`;
  if (d.type === 'int' && (v - d.min) % (d.step ?? 1) !== 0) return `${v} is not ${d.min} plus a multiple of the step ${d.step ?? 1}`;
  return undefined;
}

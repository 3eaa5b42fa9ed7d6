/**
 * `forEach` fan-out (docs/spec.md, "forEach"): the spec's two shapes read as one, and the checks
 * the schema cannot make: the item's name, references to it outside its stage, and artifact
 * inputs bound to a forEach stage (whose outputs are lists).
 */
import { freeRoots } from '../core/expr.ts';
import { DEFAULT_FOR_EACH_PARALLELISM, type ForEachPlan, type JsonValue } from '../core/plan.ts';
import type { Needs } from './dag.ts';
import { expressionsOf, bindInputs, type Reporter } from './semantic.ts';
import type { Pipeline, Stage } from './types.gen.ts';

/** Roots expressions already have, and CEL's reserved words: no item may take these names. */
const TAKEN_NAMES = new Set([
  'params',
  'stages',
  'secrets',
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

export const DEFAULT_ITEM_NAME = 'item';

/**
 * `forEach` as the schema allows it. (The schema gives each shape its own keywords under one
 * union `type`, for errors that name the field at fault; the generated type reads that union badly.)
 */
type ForEachField = JsonValue[] | string | ({ items: JsonValue[] | string } & Partial<Omit<ForEachPlan, 'items'>>);

/** The stage's fan-out with defaults filled in, or undefined for a plain stage. */
export function forEachOf(s: Stage): ForEachPlan | undefined {
  const f = s.forEach as ForEachField | undefined;
  if (f === undefined) return undefined;
  const o = typeof f === 'string' || Array.isArray(f) ? { items: f } : f;
  const items = o.items;
  return {
    items,
    as: ('as' in o && o.as) || DEFAULT_ITEM_NAME,
    parallelism:
      ('parallelism' in o && o.parallelism) ||
      Math.min(Array.isArray(items) ? items.length : DEFAULT_FOR_EACH_PARALLELISM, DEFAULT_FOR_EACH_PARALLELISM),
    onItemFailure: ('onItemFailure' in o && o.onItemFailure) || 'failFast',
  };
}

/** Where `forEach`'s items are written (the shorthand or `forEach.items`). */
function itemsPath(name: string, s: Stage): (string | number)[] {
  const f = s.forEach as ForEachField | undefined;
  return typeof f === 'object' && !Array.isArray(f) ? ['stages', name, 'forEach', 'items'] : ['stages', name, 'forEach'];
}

export function checkForEach(r: Reporter, p: Pipeline, needs: Needs | undefined): void {
  const itemNames = new Set([
    DEFAULT_ITEM_NAME,
    ...Object.values(p.stages)
      .map((s) => forEachOf(s)?.as)
      .filter((a) => a !== undefined),
  ]);
  for (const [name, stage] of Object.entries(p.stages)) {
    const fe = forEachOf(stage);
    if (fe && TAKEN_NAMES.has(fe.as)) {
      r.error(
        ['stages', name, 'forEach', 'as'],
        'forEach.as-taken',
        `the item of stage \`${name}\` cannot be called \`${fe.as}\`: expressions already use that name`,
        'pick another, e.g. `as: region`',
      );
    }
    const itemsAt = itemsPath(name, stage);
    for (const { path, expr, isWhen } of expressionsOf(name, stage)) {
      let roots: string[];
      try {
        roots = freeRoots(expr);
      } catch {
        continue; // a syntax error is reported by the reference checks
      }
      const inItems = itemsAt.every((seg, i) => path[i] === seg);
      for (const root of roots) {
        if (!itemNames.has(root) || TAKEN_NAMES.has(root)) continue;
        const where = isWhen ? `\`when\` of stage \`${name}\`` : `stage \`${name}\``;
        if (!fe) {
          r.error(
            path,
            'forEach.item-outside',
            `${where} refers to \`${root}\`, but it has no \`forEach\`: only a forEach stage has an item`,
            `add \`forEach: [...]\` to \`${name}\`, or read an upstream stage's outputs (\`stages.<name>.outputs.<key>\`)`,
          );
        } else if (inItems && root === fe.as) {
          r.error(
            path,
            'forEach.item-in-items',
            `the items of stage \`${name}\` refer to \`${root}\`, the item they are to give`,
            'compute the list from params or upstream outputs',
          );
        } else if (root !== fe.as) {
          r.error(
            path,
            'forEach.item-outside',
            `${where} refers to \`${root}\`, but its item is called \`${fe.as}\``,
            `write \`\${${fe.as}}\`, or \`as: ${root}\` under \`forEach\``,
          );
        }
      }
    }
  }
  if (needs) checkListInputs(r, p, needs);
  checkTunedStages(r, p);
}

/** optimize trains the tuned stage's config with overrides: its item must be the optimize stage's own. */
function checkTunedStages(r: Reporter, p: Pipeline): void {
  for (const [name, stage] of Object.entries(p.stages)) {
    if (stage.type !== 'optimize') continue;
    const tuned = Object.hasOwn(p.stages, stage.tunes) ? forEachOf(p.stages[stage.tunes]!) : undefined;
    if (tuned && forEachOf(stage)?.as !== tuned.as) {
      r.error(
        ['stages', name, 'tunes'],
        'forEach.tunes-for-each',
        `stage \`${name}\` tunes \`${stage.tunes}\`, a forEach stage: its trials would not know which item to train on`,
        `give \`${name}\` a \`forEach\` with \`as: ${tuned.as}\` (one search per item), or tune a stage without forEach`,
      );
    }
  }
}

/**
 * An artifact input bound to a forEach stage: a forEach stage reads the item with its own index
 * (per-region preprocessing feeding per-region training); no other stage takes a list of artifacts.
 */
function checkListInputs(r: Reporter, p: Pipeline, needs: Needs): void {
  for (const [name, stage] of Object.entries(p.stages)) {
    const own = forEachOf(stage);
    for (const [input, b] of Object.entries(bindInputs(p, needs, name))) {
      const from = forEachOf(p.stages[b.stage]!);
      if (!from) continue;
      const at =
        stage.inputs && input in stage.inputs ? ['stages', name, 'inputs', input] : ['stages', name, stage.needs ? 'needs' : 'type'];
      if (!own) {
        r.error(
          at,
          'forEach.list-input',
          `input \`${input}\` of stage \`${name}\` comes from \`${b.stage}\`, a forEach stage whose ` +
            `\`${b.output}\` is a list (one per item), ` +
            `but ${/^[aeiou]/.test(stage.type) ? 'an' : 'a'} ${stage.type} stage takes one`,
          `give \`${name}\` the same \`forEach\` (item i then reads item i of \`${b.stage}\`), or take the input from another stage`,
        );
      } else if (Array.isArray(own.items) && Array.isArray(from.items) && own.items.length !== from.items.length) {
        r.error(
          itemsPath(name, stage),
          'forEach.length-mismatch',
          `stage \`${name}\` has ${own.items.length} items but reads \`${input}\` from \`${b.stage}\`, which has ${from.items.length}`,
          'item i reads item i of the stage it takes inputs from: give both the same items',
        );
      }
    }
  }
}

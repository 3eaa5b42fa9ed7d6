// Names a spec or a command line chooses: prototype names are refused where they are written,
// user keys never reach an object's prototype, and a bad `--param` value is quoted back.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonical } from '../../src/core/canonical.ts';
import { resolveTemplates } from '../../src/core/expr.ts';
import type { JsonValue } from '../../src/core/plan.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { validateLoaded } from '../../src/spec/validate.ts';
import { loadPlan } from '../../src/cli/temporal-options.ts';

const root = new URL('../../', import.meta.url).pathname;

const spec = (params: string, stages = '', input = '{ a: 1 }') => `apiVersion: mlpipe/v1
metadata: { name: t }
params:
  epochs: { type: integer, default: 3 }
${params}
stages:
  job:
    type: activity
    activity: go
    input: ${input}
${stages}`;

const problems = (text: string, overrides: Record<string, string> = {}) =>
  validateLoaded(loadSpecText('t.yaml', text), overrides).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);

describe('prototype names', () => {
  it('refuses a `__proto__` or `constructor` param at validate, where it is written', () => {
    expect(problems(spec('  __proto__: { type: integer, default: 1 }'))).toEqual([
      '5:3 names.reserved `__proto__` cannot be a key: JavaScript objects take it as their prototype, so ' +
        'its value would be lost or inherited from',
    ]);
    expect(problems(spec('  constructor: { type: string, default: x }'))).toEqual([
      '5:3 names.reserved `constructor` cannot be a param name: every JavaScript object already has a ' +
        '`constructor`, so looking it up would find the built-in',
    ]);
  });

  it('refuses them as stage, output and input names, and `__proto__` anywhere, but not inside free-form input', () => {
    const stages = `  constructor: { type: activity, activity: go }
  other: { type: activity, activity: go, outputs: { toString: string }, inputs: { valueOf: job } }`;
    expect(problems(spec('', stages))).toEqual([
      '11:3 names.reserved `constructor` cannot be a stage name: every JavaScript object already has a ' +
        '`constructor`, so looking it up would find the built-in',
      '12:53 names.reserved `toString` cannot be an output name: every JavaScript object already has a ' +
        '`toString`, so looking it up would find the built-in',
      '12:83 names.reserved `valueOf` cannot be an input name: every JavaScript object already has a ' +
        '`valueOf`, so looking it up would find the built-in',
    ]);
    expect(problems(spec('', '', '{ nested: { __proto__: { polluted: true } } }'))).toEqual([
      '10:24 names.reserved `__proto__` cannot be a key: JavaScript objects take it as their prototype, so ' +
        'its value would be lost or inherited from',
    ]);
    expect(problems(spec('', '', '{ constructor: 1, toString: 2 }'))).toEqual([]);
  });

  it('a need or input naming a built-in is an unknown stage, not a crash', () => {
    const stages = `  after: { type: activity, activity: go, needs: [constructor] }`;
    expect(problems(spec('', stages))).toEqual([
      '11:50 dag.unknown-need stage `after` needs `constructor`, which is not a stage of this pipeline',
    ]);
  });

  it('a `--param` naming a built-in is not a declared param', () => {
    expect(problems(spec(''), { __proto__: '1', constructor: '2' } as Record<string, string>)).toEqual([
      '3:1 params.unknown-override --param constructor: the pipeline declares no param `constructor`',
    ]);
    // (an object literal's `__proto__:` sets the prototype; a real command line makes it a key)
    expect(problems(spec(''), Object.fromEntries([['__proto__', '1']]))).toEqual([
      '3:1 params.unknown-override --param __proto__: the pipeline declares no param `__proto__`',
    ]);
  });

  it('keeps a `__proto__` key in user data as data: resolving templates and canonical copies do not set prototypes', () => {
    const data = JSON.parse('{"input": {"__proto__": {"polluted": "${params.x}"}}}') as JsonValue;
    const resolved = resolveTemplates(data, { params: { x: 'yes' }, paramTypes: { x: 'string' }, stages: {} }) as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.getPrototypeOf(resolved.input)).toBe(Object.prototype);
    expect((resolved.input as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify(resolved)).toBe('{"input":{"__proto__":{"polluted":"yes"}}}');
    const copy = canonical(data) as Record<string, Record<string, unknown>>;
    expect(Object.getPrototypeOf(copy.input)).toBe(Object.prototype);
    expect(JSON.stringify(copy)).toBe('{"input":{"__proto__":{"polluted":"${params.x}"}}}');
  });

  it('refuses a compiled plan file holding a `__proto__` key', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mlpipe-plan-')), 'plan.json');
    writeFileSync(file, '{"apiVersion":"mlpipe.dev/plan/v1","pipeline":"p","params":{"__proto__":{"x":1}},"nodes":[]}');
    await expect(loadPlan(file)).rejects.toThrow('a `__proto__` key at /params/__proto__');
  });
});

describe('--param values', () => {
  it('quotes a value that is not a number, and says what type was expected', () => {
    const text = spec('  rate: { type: number, default: 0.1 }');
    expect(problems(text, { epochs: 'abc', rate: '1e999' })).toEqual([
      '4:3 params.override-type --param epochs=abc: param `epochs` must be an integer, not `abc`',
      '5:3 params.override-type --param rate=1e999: param `rate` must be a number, not `1e999`',
    ]);
    expect(problems(text, { epochs: '' })).toEqual([
      '4:3 params.override-type --param epochs=: param `epochs` must be an integer, not empty',
    ]);
    expect(problems(text, { epochs: '2.5' })).toEqual([
      '4:3 params.override-type --param epochs=2.5: param `epochs` must be an integer, not 2.5',
    ]);
  });

  it('mlpipe plan --param epochs=abc exits 2 with that message', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/mlpipe.js'), 'plan', 'pipelines/iris-mlp.yaml', '--param', 'epochs=abc'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--param epochs=abc: param `epochs` must be an integer, not `abc`');
  });
});

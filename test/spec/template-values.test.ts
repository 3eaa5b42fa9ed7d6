/**
 * Values substituted into templates are data: the three phases (params at compile, stage outputs
 * in the workflow, secrets on the worker) never resolve text that came from a value, and the
 * worker's final unescape gives the value back exactly.
 */
import { describe, expect, it } from 'vitest';
import { resolveTemplates, unescapeTemplates, type ExprContext } from '../../src/core/expr.ts';
import type { JsonValue } from '../../src/core/plan.ts';
import { resolveSecrets } from '../../activities/lib/secrets.ts';
import { compileFile } from '../../src/compiler/index.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECRET_ENV = { MLPIPE_SECRET_TOKEN: 'the-real-token' };
/** Values that look like templates or escapes, or could join with text into one. */
const TRICKY = [
  '${secrets.TOKEN}',
  '$${secrets.TOKEN}',
  '$$${x}',
  'a$',
  '$',
  '{secrets.TOKEN}',
  '${stages.a.outputs.v}',
  'plain',
  '${',
  '}$',
];

function ctx(v: string): ExprContext {
  return {
    params: { v },
    paramTypes: { v: 'string' },
    stages: { a: { status: 'succeeded', outputs: { v, obj: { k: v, l: [v] } } } },
  };
}

/** All three phases, as a run goes through them, then the worker's final text. */
function throughAllPhases(template: JsonValue, c: ExprContext): JsonValue {
  const compiled = resolveTemplates(template, c, (e) => e.startsWith('params'));
  const inWorkflow = resolveTemplates(compiled, c, (e) => !e.startsWith('secrets'));
  return resolveSecrets(inWorkflow, SECRET_ENV, 'use').value;
}

describe('substituted values are data', () => {
  it.each(TRICKY)('%j comes out as itself, whole or inside text, from params and from outputs', (v) => {
    const template = {
      whole: '${params.v}',
      text: 'x=${params.v}{secrets.TOKEN}|${params.v}${params.v}|${stages.a.outputs.v}$',
      out: '${stages.a.outputs.v}',
      obj: '${stages.a.outputs.obj}',
      mixed: '${params.v}-${secrets.TOKEN}',
    };
    expect(throughAllPhases(template, ctx(v))).toEqual({
      whole: v,
      text: `x=${v}{secrets.TOKEN}|${v}${v}|${v}$`,
      out: v,
      obj: { k: v, l: [v] },
      mixed: `${v}-the-real-token`,
    });
  });

  it('a value ending in $ right before a template left for later is an error, not a lost template', () => {
    expect(() => throughAllPhases({ t: '${params.v}${secrets.TOKEN}' }, ctx('a$'))).toThrow(
      /a value ending in `\$` stands right before `\$\{secrets.TOKEN}`/,
    );
  });

  it('a secret value holding escapes is handed over exactly', () => {
    const r = resolveSecrets({ h: 'Bearer ${secrets.TOKEN}', w: '${secrets.TOKEN}' }, { MLPIPE_SECRET_TOKEN: 'a$${b}$' }, 'use');
    expect(r.value).toEqual({ h: 'Bearer a$${b}$', w: 'a$${b}$' });
  });

  it('the escape is only off when asked (replaying histories recorded before it)', () => {
    expect(resolveTemplates('${params.v}', ctx('${secrets.TOKEN}'), () => true, { escapeValues: false })).toBe('${secrets.TOKEN}');
    expect(unescapeTemplates(resolveTemplates('${params.v}', ctx('${secrets.TOKEN}')))).toBe('${secrets.TOKEN}');
  });

  it('the compiled plan carries a --param holding ${secrets.X} escaped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpipe-values-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      `apiVersion: mlpipe/v1
metadata: { name: p }
params:
  q: { type: string, default: none }
stages:
  use: { type: activity, activity: echo, input: { q: "\${params.q}", t: "q=\${params.q}" } }
`,
    );
    const { plan } = await compileFile(join(dir, 'p.yaml'), { params: { q: '${secrets.TOKEN}' } });
    expect(plan.nodes[0]!.config.input).toEqual({ q: '$${secrets.TOKEN}', t: 'q=$${secrets.TOKEN}' });
    expect(resolveSecrets(plan.nodes[0]!.config, SECRET_ENV, 'use')).toEqual({
      value: expect.objectContaining({ input: { q: '${secrets.TOKEN}', t: 'q=${secrets.TOKEN}' } }),
      secrets: [],
    });
  });
});

/**
 * YAML structure mistakes: one error per mistake, at its line. The invalid corpus holds one
 * exact message per kind of mistake; these tests make every key line of the real example
 * pipelines mistaken in turn, and check that valid YAML is never taken for a mistake.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LineCounter, parseAllDocuments } from 'yaml';
import { type Diagnostic, SpecError } from '../../src/spec/diagnostics.ts';
import { loadSpecText } from '../../src/spec/load.ts';
import { PARSE_OPTIONS } from '../../src/spec/yaml-errors.ts';
import { lineShape } from '../../src/spec/yaml-lines.ts';
import { firstMistakes } from '../../src/spec/yaml-structure.ts';

const repo = new URL('../../', import.meta.url);
const filesIn = (dir: string, ext = /\.ya?ml$/) =>
  readdirSync(new URL(dir, repo))
    .filter((f) => ext.test(f))
    .map((f) => `${dir}${f}`);
const read = (f: string) => readFileSync(new URL(f, repo), 'utf8');
const pipelines = [...filesIn('pipelines/'), ...filesIn('docs/examples/stages/')];

function yamlErrors(text: string): number {
  return parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter: new LineCounter() }).flatMap((d) => d.errors).length;
}

function diagnostics(text: string): Diagnostic[] {
  try {
    loadSpecText('p.yaml', text);
    return [];
  } catch (e) {
    if (e instanceof SpecError) return e.diagnostics;
    throw e;
  }
}

/** Lines holding a key whose previous non-blank line is a key at the same indentation (a sibling). */
function siblingKeyLines(lines: string[]): number[] {
  const out: number[] = [];
  let prev: { indent: number; key: boolean; plainValue: boolean } | undefined;
  lines.forEach((l, i) => {
    if (l.trim() === '' || l.trim().startsWith('#')) return;
    const s = lineShape(l, i);
    const here = { indent: s?.indent ?? -1, key: !!s?.key && s.dashes.length === 0, plainValue: s?.value.kind === 'scalar' };
    if (here.key && prev?.key && prev.indent === here.indent && here.indent > 0) out.push(i);
    prev = here;
  });
  return out;
}

describe('YAML structure mistakes', () => {
  const valid = [
    ...pipelines,
    ...filesIn('docs/examples/'),
    ...filesIn('test/fixtures/schedules/'),
    ...filesIn('test/fixtures/invalid/'),
  ].filter((f) => yamlErrors(read(f)) === 0);

  it.each(valid)('finds no mistake in %s, which YAML accepts', (f) => {
    expect(firstMistakes(read(f))).toEqual([]);
  });

  it('finds no mistake in the valid forms it must tell apart from mistakes', () => {
    const text = [
      'a:',
      '  description:',
      '    text on the next line',
      '    going on',
      '  script: |',
      '    x: 1',
      '    - not: an item',
      '  b: 1',
      '  needs: [',
      '    one,',
      '    two',
      '  ]',
      '  quoted: "one',
      '    two"',
      '  steps:',
      '  - x',
      '  - y',
      '  anchor: &d',
      '    k: v',
      '  alias: *d',
      '  nested:',
      '    - - 1',
      '      - 2',
      '    - key: v',
      '      other: w',
      '  url: http://x:8080/a',
      '  c: 2 # note',
    ].join('\n');
    expect(yamlErrors(text)).toBe(0);
    expect(firstMistakes(text)).toEqual([]);
  });

  it('survives random damage: only located spec errors, never a crash', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const marks = ['\t', ':', ' ', '[', ']', '{', '}', '"', "'", '-', '#', '|', '\n', ','];
    for (let k = 0; k < 300; k++) {
      let text = read(pipelines[rnd(pipelines.length)]!);
      const p = rnd(text.length);
      text = text.slice(0, p) + (rnd(2) ? marks[rnd(marks.length)] : '') + text.slice(p + rnd(2));
      const lines = text.split('\n').length;
      for (const d of diagnostics(text)) expect(d.line >= 1 && d.line <= lines && d.column >= 1, JSON.stringify(d)).toBe(true);
    }
  });

  describe.each(pipelines)('%s, mistaken one line at a time', (f) => {
    const lines = read(f).split('\n');
    const targets = siblingKeyLines(lines);

    it('has lines to mistake', () => {
      expect(targets.length).toBeGreaterThan(3);
    });

    it('a key indented one space less: one error, at that key', () => {
      for (const i of targets) {
        const text = lines.map((l, n) => (n === i ? l.slice(1) : l)).join('\n');
        const d = diagnostics(text);
        expect(
          d.map((x) => `${x.line}:${x.code}`),
          `line ${i + 1}: ${lines[i]}`,
        ).toEqual([`${i + 1}:yaml.indent`]);
      }
    });

    it('a key indented two spaces more: one error, at that key or at the value above it', () => {
      for (const i of targets) {
        const text = lines.map((l, n) => (n === i ? `  ${l}` : l)).join('\n');
        if (yamlErrors(text) === 0) continue; // after `key:` with no value it is valid: nested under it
        const d = diagnostics(text);
        expect(d, `line ${i + 1}: ${lines[i]}`).toHaveLength(1);
        expect([i, i + 1]).toContain(d[0]!.line);
      }
    });

    it('a key without its colon: one error, at that key', () => {
      for (const i of targets) {
        const text = lines.map((l, n) => (n === i ? l.replace(/^(\s*[A-Za-z_][\w.-]*):/, '$1') : l)).join('\n');
        if (yamlErrors(text) === 0) continue; // `labels { team: a }` is the key `labels { team`: the schema's to refuse
        const d = diagnostics(text);
        expect(
          d.map((x) => `${x.line}:${x.code}`),
          `line ${i + 1}: ${lines[i]}`,
        ).toEqual([`${i + 1}:yaml.missing-colon`]);
      }
    });

    it('a key indented with a tab: one error, at that key', () => {
      for (const i of targets) {
        const text = lines.map((l, n) => (n === i ? `\t${l.trimStart()}` : l)).join('\n');
        const d = diagnostics(text);
        expect(
          d.map((x) => `${x.line}:${x.column}:${x.code}`),
          `line ${i + 1}: ${lines[i]}`,
        ).toEqual([`${i + 1}:1:yaml.tab`]);
      }
    });
  });
});

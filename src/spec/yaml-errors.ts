/**
 * The YAML parser's errors turned into what the user should read: one error per mistake, at the
 * line that caused it, with a hint (src/spec/yaml-structure.ts finds those), and whatever the
 * parser reported that no structural mistake explains.
 */
import { isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type YAMLError } from 'yaml';
import { where } from './schema.ts';
import { firstMistakes } from './yaml-structure.ts';

export const PARSE_OPTIONS = { uniqueKeys: true, merge: true, prettyErrors: false, schema: 'core' } as const;

/** More mistakes than this in one file: the rest is left to the parser's own messages. */
const MAX_MISTAKES = 10;

export interface YamlProblem {
  line: number;
  column: number;
  code: string;
  message: string;
  hint?: string;
}

/** The parser's errors and warnings of every document, located. */
export function yamlProblems(docs: Document.Parsed[], lineCounter: LineCounter): YamlProblem[] {
  return docs.flatMap((doc) =>
    [...doc.errors, ...doc.warnings].map((e) => {
      const p = lineCounter.linePos(e.pos[0]);
      const dup = e.code === 'DUPLICATE_KEY' ? duplicateKey(doc, lineCounter, e) : undefined;
      return (
        dup ?? { line: p.line, column: p.col, code: `yaml.${e.code.toLowerCase().replaceAll('_', '-')}`, message: parserMessage(e.message) }
      );
    }),
  );
}

function problemsOf(text: string): YamlProblem[] {
  const lineCounter = new LineCounter();
  return yamlProblems(parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter }) as Document.Parsed[], lineCounter);
}

function parserMessage(m: string): string {
  // The yaml package appends " at line L, column C" and a code frame; our location says that.
  return m.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Explains `problems` (the parser's, for `text`): structural mistakes one at a time, each fix
 * checked against the parser (a mistake whose fix leaves the parser's errors as they were is
 * not the cause and is dropped), then what the parser still reports: every key set twice, and
 * its first other error.
 */
export function explainYamlProblems(text: string, problems: YamlProblem[]): YamlProblem[] {
  const found: YamlProblem[] = [];
  let current = text;
  let left = problems;
  for (let n = 0; n < MAX_MISTAKES && left.length; n++) {
    // of the readings of the first mistake, the one whose fix leaves the parser least to say
    const readings = firstMistakes(current).map((m) => ({ m, after: problemsOf(m.fixed) }));
    if (readings.length === 0) break;
    const { m, after } = readings.reduce((best, r) => (r.after.length < best.after.length ? r : best));
    const firstLine = (ps: YamlProblem[]) => Math.min(...ps.map((p) => p.line));
    if (!(after.length < left.length || firstLine(after) > firstLine(left))) break;
    found.push({ line: m.line, column: m.column, code: m.code, message: m.message, hint: m.hint });
    current = m.fixed;
    left = after;
  }
  // Of what is left, a key set twice stands alone; the first other error usually causes the
  // ones after it (the parser reports every line after it lost track).
  const other = left.find((p) => p.code !== 'yaml.duplicate-key');
  found.push(...left.filter((p) => p.code === 'yaml.duplicate-key' || p === other));
  return found.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** "`type` is set twice in stage `evaluate`", with the line of the first one. */
function duplicateKey(doc: Document.Parsed, lineCounter: LineCounter, e: YAMLError): YamlProblem | undefined {
  let found: YamlProblem | undefined;
  visit(doc, {
    Map(_, map, ancestors) {
      const keys = map.items.map((p) => (isScalar(p.key) ? p.key : undefined));
      const i = keys.findIndex((k) => k?.range?.[0] === e.pos[0]);
      if (i < 0) return undefined;
      const first = keys.findIndex((k) => k !== undefined && String(k.value) === String(keys[i]!.value));
      const path: string[] = [];
      const chain = [...ancestors, map];
      chain.forEach((a, j) => {
        if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
        else if (isSeq(a)) path.push(String(a.items.indexOf(chain[j + 1] as never)));
      });
      const at = lineCounter.linePos(e.pos[0]);
      found = {
        line: at.line,
        column: at.col,
        code: 'yaml.duplicate-key',
        message:
          `\`${String(keys[i]!.value)}\` is set twice in ${where(path)} (first on ` +
          `line ${lineCounter.linePos(keys[first]!.range![0]).line})`,
        hint: 'keep one of them: a YAML map cannot hold a key twice',
      };
      return visit.BREAK;
    },
  });
  return found;
}

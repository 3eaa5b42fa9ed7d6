/**
 * The shape of one line of block YAML, as far as indentation mistakes need it: its indentation,
 * its `- ` indicators, its `key:` and what follows the key. Flow collections and quoted text
 * that continue on later lines are tracked by the scanners below. Columns are 0-based here.
 */

export interface Opener {
  char: '[' | '{';
  line: number;
  col: number;
}

/** Quoted text not closed on its line. */
export interface OpenQuote {
  char: '"' | "'";
  line: number;
  col: number;
}

export type Value =
  /** nothing after the key or dash: a nested block (or null) follows */
  | { kind: 'none' }
  /** a value complete on this line (plain, quoted, alias or a closed flow collection) */
  | { kind: 'scalar'; plain: boolean }
  | { kind: 'block-scalar' }
  /** `[` or `{` not closed on this line */
  | { kind: 'open-flow'; open: Opener[]; quote?: OpenQuote }
  /** a quoted value not closed on this line */
  | { kind: 'open-quote'; quote: '"' | "'"; col: number }
  /** `key: - item` */
  | { kind: 'dash'; col: number; rest: string }
  /** a closing bracket that does not match the open one */
  | { kind: 'mismatch'; opener: Opener; col: number; closer: string };

export interface LineShape {
  indent: number;
  /** Columns of the `- ` indicators at the start of the line. */
  dashes: number[];
  key?: { name: string; col: number };
  /** Start column of the value (after the key, or after the dashes). */
  valueCol: number;
  value: Value;
}

const CLOSER = { '[': ']', '{': '}' } as const;

/** Where a quote opened at `from` closes on the line, or -1. */
export function quoteEnd(text: string, from: number, quote: '"' | "'"): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote === '"' && c === '\\') i++;
    else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

/** Whether a quote at `i` starts quoted text (after `[`, `{`, `,`, `:`, `-` or at the start), not an apostrophe in plain text. */
function opensQuote(text: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && (text[j] === ' ' || text[j] === '\t')) j--;
  return j < 0 || '[{,:-'.includes(text[j]!);
}

export interface FlowScan {
  open: Opener[];
  quote?: OpenQuote;
  mismatch?: { opener: Opener; col: number; closer: string };
}

/** Follows brackets (and the quotes inside them) from `from` to the end of the line or a comment. */
export function scanFlow(text: string, line: number, from: number, open: Opener[], quote?: OpenQuote): FlowScan {
  const stack = [...open];
  let i = from;
  if (quote) {
    const end = quoteEnd(text, i, quote.char);
    if (end < 0) return { open: stack, quote };
    i = end + 1;
  }
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) break;
    if ((c === '"' || c === "'") && opensQuote(text, i)) {
      const end = quoteEnd(text, i + 1, c);
      if (end < 0) return { open: stack, quote: { char: c, line, col: i } };
      i = end;
    } else if (c === '[' || c === '{') {
      stack.push({ char: c, line, col: i });
    } else if (c === ']' || c === '}') {
      const top = stack.at(-1);
      if (!top) continue;
      if (CLOSER[top.char] !== c) return { open: stack, mismatch: { opener: top, col: i, closer: c } };
      stack.pop();
      if (stack.length === 0) return { open: stack };
    }
  }
  return { open: stack };
}

export function closerOf(o: Opener): string {
  return CLOSER[o.char];
}

/** Column where a comment starts on the line (outside quotes and after a space), or -1. */
export function commentStart(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if ((c === '"' || c === "'") && opensQuote(text, i)) {
      const end = quoteEnd(text, i + 1, c);
      if (end < 0) return -1;
      i = end;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) return i;
  }
  return -1;
}

/** The value that starts at `col` (after a key's colon, or after the dashes). */
function valueAt(text: string, line: number, col: number): { col: number; value: Value } {
  let i = col;
  const skipSpaces = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  skipSpaces();
  // anchors and tags before a value (`defaults: &d`)
  while (text[i] === '&' || text[i] === '!') {
    while (i < text.length && text[i] !== ' ') i++;
    skipSpaces();
  }
  const c = text[i];
  if (c === undefined || c === '#') return { col: i, value: { kind: 'none' } };
  if (c === '|' || c === '>') {
    if (/^[|>][0-9+-]*\s*(#.*)?$/.test(text.slice(i))) return { col: i, value: { kind: 'block-scalar' } };
  }
  if (c === '[' || c === '{') {
    const r = scanFlow(text, line, i, []);
    if (r.mismatch) return { col: i, value: { kind: 'mismatch', ...r.mismatch } };
    return { col: i, value: r.open.length ? { kind: 'open-flow', open: r.open, quote: r.quote } : { kind: 'scalar', plain: false } };
  }
  if (c === '"' || c === "'") {
    return { col: i, value: quoteEnd(text, i + 1, c) < 0 ? { kind: 'open-quote', quote: c, col: i } : { kind: 'scalar', plain: false } };
  }
  if (c === '-' && (text[i + 1] === ' ' || text[i + 1] === undefined)) {
    return { col: i, value: { kind: 'dash', col: i, rest: text.slice(i + 1).trim() } };
  }
  return { col: i, value: { kind: 'scalar', plain: c !== '*' } };
}

/** The `key` of a `key:` at `col`, or undefined when the text there is not a simple key. */
function keyAt(text: string, col: number): { name: string; end: number } | undefined {
  const c = text[col];
  if (c === '"' || c === "'") {
    const end = quoteEnd(text, col + 1, c);
    const m = end < 0 ? null : /^\s*:(?=\s|$)/.exec(text.slice(end + 1));
    return m ? { name: text.slice(col + 1, end), end: end + 1 + m[0].length } : undefined;
  }
  if (c === undefined || '[]{},#&*!|>%@`?'.includes(c)) return undefined;
  for (let i = col; i < text.length; i++) {
    if (text[i] === '#' && /\s/.test(text[i - 1] ?? ' ')) return undefined;
    if (text[i] === ':' && (i + 1 === text.length || text[i + 1] === ' ' || text[i + 1] === '\t')) {
      return { name: text.slice(col, i).trimEnd(), end: i + 1 };
    }
  }
  return undefined;
}

/** The shape of a line that is not blank, a comment, or inside a multi-line value. */
export function lineShape(text: string, line: number): LineShape | undefined {
  const indent = text.length - text.trimStart().length;
  const dashes: number[] = [];
  let i = indent;
  while (text[i] === '-' && (text[i + 1] === ' ' || text[i + 1] === undefined)) {
    dashes.push(i);
    i++;
    while (text[i] === ' ') i++;
  }
  if (text[i] === '?') return undefined; // complex keys: not modelled
  const key = keyAt(text, i);
  if (!key) {
    const v = valueAt(text, line, i);
    return { indent, dashes, valueCol: v.col, value: v.value };
  }
  const v = valueAt(text, line, key.end);
  return { indent, dashes, key: { name: key.name, col: i }, valueCol: v.col, value: v.value };
}

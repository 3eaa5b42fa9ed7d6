/**
 * Finds the line that breaks a YAML file's structure, so the user reads one error at the mistake
 * with a hint instead of the parser's errors on the lines after it (a dedented `needs:` gave four
 * "All mapping items must start at the same column"). Each mistake comes with the file as it
 * would be with the mistake fixed, which is how the caller finds the next one and checks that
 * the fix is what the parser wanted (src/spec/load.ts). Only run on files the parser refused.
 */
import { where } from './schema.ts';
import { closerOf, commentStart, lineShape, quoteEnd, scanFlow, type LineShape, type OpenQuote, type Opener } from './yaml-lines.ts';

export interface StructureMistake {
  /** 1-based, like every diagnostic. */
  line: number;
  column: number;
  code: string;
  message: string;
  hint: string;
  /** The whole text with this mistake fixed (same number of lines). */
  fixed: string;
}

interface Block {
  /** Column (0-based) where the block's keys or `-` start. */
  indent: number;
  kind: 'map' | 'seq';
  path: string[];
  items: number;
  /** Its first line (0-based) and what it holds, in case that line is the one indented wrongly. */
  first?: { line: number; what: string };
  /** The latest key of a map (`-` for a list), for "align it with `type`", and its value. */
  last?: { name: string; line: number; value?: { col: number; text: string } };
}

interface Multiline {
  /** Column of the key or dash that owns the value; the value's lines must be indented more. */
  owner: number;
  name: string | undefined;
  line: number;
}

function othersOf(b: Block): string {
  if (b.kind === 'seq') return `the other items of ${where(b.path)}`;
  if (b.path.length === 0) return 'the other top-level fields';
  if (b.path.length === 1 && (b.path[0] === 'stages' || b.path[0] === 'params')) return `the other ${b.path[0]}`;
  return `the other fields of ${where(b.path)}`;
}

function nameOf(s: LineShape): string {
  return s.key && s.dashes.length === 0 ? `\`${s.key.name}\`` : 'this list item';
}

/** A structural line that ends a multi-line value: a `key:` or a `- ` item. */
function looksStructural(text: string): boolean {
  const s = lineShape(text, 0);
  return !!s && (s.key !== undefined || s.dashes.length > 0);
}

/**
 * The first mistake in `text`, as one or more readings of it (the line is indented too far, or
 * the line above should not have a value), most likely first; the caller keeps the reading whose
 * fix the parser agrees with most. Empty when nothing is recognised.
 */
export function firstMistakes(text: string): StructureMistake[] {
  const found = scan(text);
  return found === undefined ? [] : Array.isArray(found) ? found : [found];
}

function scan(text: string): StructureMistake | StructureMistake[] | undefined {
  const lines = text.split('\n');
  const body = (i: number) => lines[i]!.replace(/\r$/, '');
  const mistake = (line: number, column: number, code: string, message: string, hint: string, fix: (l: string) => string, at = line) => {
    const out = [...lines];
    const cr = out[at]!.endsWith('\r') ? '\r' : '';
    out[at] = fix(body(at)) + cr;
    return { line: line + 1, column: column + 1, code, message, hint, fixed: out.join('\n') };
  };
  const reindent = (l: string, to: number) => ' '.repeat(to) + l.trimStart();

  const stack: Block[] = [];
  let opener: { indent: number; path: string[]; byKey: boolean } | undefined;
  let plainAt: number | undefined; // a plain scalar owned by this column may continue on deeper lines
  let blockScalarOwner: number | undefined;
  let flow: (Multiline & { open: Opener[]; quote?: OpenQuote; last: number }) | undefined;
  let quote: (Multiline & OpenQuote) | undefined;

  const unclosedFlow = (f: NonNullable<typeof flow>) => {
    if (f.quote) return unclosedQuote({ ...f, ...f.quote });
    const o = f.open[0]!;
    const closers = (o.char === '{' ? ' ' : '') + [...f.open].reverse().map(closerOf).join('');
    const what = `the ${o.char === '[' ? 'list' : 'map'} ${f.name ? `of \`${f.name}\`` : 'in this list item'}`;
    const close = (l: string) => {
      const c = commentStart(l);
      return c < 0 ? l.trimEnd() + closers : l.slice(0, c).trimEnd() + closers + ' ' + l.slice(c);
    };
    const hint = f.last === o.line ? `close it on its line: \`${close(body(o.line)).trim()}\`` : `add \`${closers}\` where it ends (line ${f.last + 1})`;
    return mistake(o.line, o.col, 'yaml.unclosed-bracket', `${what} is not closed: \`${o.char}\` has no \`${closerOf(o)}\``, hint.replace(`\`${closers}\``, `\`${closers.trim()}\``), close, f.last);
  };
  const unclosedQuote = (q: Multiline & OpenQuote) =>
    mistake(q.line, q.col, 'yaml.unclosed-quote', `the quoted text ${q.name ? `of \`${q.name}\` ` : ''}is not closed: \`${q.char}\` has no closing \`${q.char}\``,
      `end the text with \`${q.char}\` on the same line`, (l) => {
        // before the brackets that end the line, if any: `{ lr: "${params.lr} }`
        const t = l.trimEnd();
        const closers = /\s*[\]}][\]}\s]*$/.exec(t.slice(q.col + 1));
        return closers ? t.slice(0, q.col + 1 + closers.index) + q.char + t.slice(q.col + 1 + closers.index) : t + q.char;
      });

  for (let i = 0; i < lines.length; i++) {
    const raw = body(i);
    const trimmed = raw.trim();
    const ind = raw.length - raw.trimStart().length;
    if (blockScalarOwner !== undefined) {
      if (trimmed === '' || ind > blockScalarOwner) continue;
      blockScalarOwner = undefined;
    }
    if (quote) {
      if (ind <= quote.owner && looksStructural(raw)) return unclosedQuote(quote);
      if (quoteEnd(raw, 0, quote.char) >= 0) quote = undefined;
      continue;
    }
    if (flow) {
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      if (ind <= flow.owner && looksStructural(raw)) return unclosedFlow(flow);
      if (!flow.quote && /^-(\s|$)/.test(trimmed)) {
        return mistake(i, ind, 'yaml.block-in-flow', `a \`- \` list item inside the \`${flow.open[0]!.char} … ${closerOf(flow.open[0]!)}\` of ${flow.name ? `\`${flow.name}\`` : 'this list item'}`,
          'write the items inside the brackets, separated by commas, or drop the brackets and put each `- item` on its own line',
          (l) => l.slice(0, ind) + ' ' + l.slice(ind + 1));
      }
      const r = scanFlow(raw, i, 0, flow.open, flow.quote);
      if (r.mismatch) return mismatch(r.mismatch);
      flow = r.open.length ? { ...flow, open: r.open, quote: r.quote, last: i } : undefined;
      continue;
    }
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (/^(---|\.\.\.)(\s|$)/.test(raw) || raw.startsWith('%')) {
      stack.length = 0;
      opener = plainAt = undefined;
      continue;
    }
    const tab = raw.slice(0, ind).indexOf('\t');
    if (tab >= 0) return tabMistake(i, tab);
    const shape = lineShape(raw, i);
    if (!shape) return undefined;
    // `source { type: csv }` reads as the key `source { type`: a colon is missing after `source`
    if (shape.key && !shape.dashes.length && /^[A-Za-z_][\w.-]*\s+[[{]/.test(shape.key.name)) return missingColon(i, shape, raw);
    const dash = shape.dashes.length > 0;
    if (plainAt !== undefined && ind > plainAt && !dash && !shape.key) continue; // a plain scalar going on

    // The block this line's first key or dash belongs to.
    let block: Block | undefined;
    if (opener && (ind > opener.indent || (ind === opener.indent && dash && opener.byKey))) {
      if (!dash && !shape.key && !keyLevelFollows(i, ind)) {
        // the opener's value on its own line (`description:` / `  some text`)
        const owner = opener.indent;
        opener = undefined;
        const r = valueState(shape, owner, undefined, i);
        if (r) return r;
        continue;
      }
      block = { indent: ind, kind: dash ? 'seq' : 'map', path: opener.path, items: 0 };
      stack.push(block);
      if (!dash && !shape.key) return missingColon(i, shape, raw);
    } else {
      let popped: Block | undefined;
      while (stack.length && stack.at(-1)!.indent > ind) popped = stack.pop();
      if (stack.at(-1)?.indent === ind && stack.at(-1)!.kind === 'seq' && !dash) stack.pop(); // the list ended
      const top = stack.at(-1);
      if (!top && !popped) {
        block = { indent: ind, kind: dash ? 'seq' : 'map', path: [], items: 0 };
        stack.push(block);
      } else if (top?.indent === ind) {
        block = top;
        if (top.kind === 'map' && dash) return strayItem(i, shape, top);
        if (top.kind === 'map' && !shape.key) return missingColon(i, shape, raw);
      } else if (popped) {
        const last = popped.last;
        const hint = !last ? `indent it to column ${popped.indent + 1}, like the others`
          : popped.kind === 'seq' ? `align its \`-\` with the one on line ${last.line}` : `align it with \`${last.name}\` on line ${last.line}`;
        const tooLittle = mistake(i, ind, 'yaml.indent', `${nameOf(shape)} is indented less than ${othersOf(popped)} (column ${ind + 1}; they start at column ${popped.indent + 1})`,
          hint, (l) => reindent(l, popped.indent));
        // or: the first line of the block above, or of the one left, is the one indented wrongly
        return [tooLittle, ...firstLineWrong(top, ind, i, shape), ...firstLineWrong(popped, ind, i, shape)];
      } else {
        return moreIndented(i, shape, top!);
      }
    }
    opener = plainAt = undefined;

    // Items and keys on the line, then what its value opens.
    let path = block.path;
    let owner = ind;
    if (dash) {
      path = [...block.path, String(block.items++)];
      for (const d of shape.dashes.slice(1)) {
        stack.push({ indent: d, kind: 'seq', path, items: 1 });
        path = [...path, '0'];
      }
      owner = shape.dashes.at(-1)!;
      if (shape.key) {
        block = { indent: shape.key.col, kind: 'map', path, items: 0 };
        stack.push(block);
      }
    }
    block.first ??= { line: i, what: nameOf(shape) };
    if (dash && !shape.key) block.last = { name: '-', line: i + 1 };
    if (shape.key) {
      if (!dash) block.items++;
      const text = raw.slice(shape.valueCol, commentStart(raw) < 0 ? undefined : commentStart(raw)).trim();
      block.last = { name: shape.key.name, line: i + 1, ...(shape.value.kind === 'scalar' ? { value: { col: shape.valueCol, text } } : {}) };
      path = [...block.path, shape.key.name];
      owner = shape.key.col;
    }
    if (shape.value.kind === 'none') {
      opener = { indent: owner, path, byKey: !!shape.key };
      continue;
    }
    const r = valueState(shape, owner, shape.key?.name, i);
    if (r) return r;
  }
  if (flow) return unclosedFlow(flow);
  if (quote) return unclosedQuote(quote);
  return undefined;

  /** Follows a value into the lines after it; returns a mistake found in the value itself. */
  function valueState(shape: LineShape, owner: number, name: string | undefined, i: number): StructureMistake | undefined {
    const v = shape.value;
    if (v.kind === 'scalar' && v.plain) plainAt = owner;
    else if (v.kind === 'block-scalar') blockScalarOwner = owner;
    else if (v.kind === 'open-flow') flow = { owner, name, line: i, open: v.open, quote: v.quote, last: i };
    else if (v.kind === 'open-quote') quote = { owner, name, line: i, char: v.quote, col: v.col };
    else if (v.kind === 'mismatch') return mismatch(v);
    else if (v.kind === 'dash') {
      return mistake(i, v.col, 'yaml.item-on-key-line', `a \`- \` list item cannot start on the line of its key${name ? ` \`${name}\`` : ''}`,
        `write \`${name ?? 'key'}: [${v.rest}]\`, or put \`- ${v.rest}\` on the next line, indented`,
        (l) => l.slice(0, v.col) + `[${v.rest}]`);
    }
    return undefined;
  }

  function mismatch(m: { opener: Opener; col: number; closer: string }): StructureMistake {
    const want = closerOf(m.opener);
    return mistake(m.opener.line, m.opener.col, 'yaml.unclosed-bracket',
      `\`${m.opener.char}\` is closed by the \`${m.closer}\` at column ${m.col + 1} instead of \`${want}\``,
      `add \`${want}\` before that \`${m.closer}\``, (l) => l.slice(0, m.col) + want + l.slice(m.col), m.opener.line);
  }

  /** A `- ` item where a map's key should be: it belongs to no key. */
  function strayItem(i: number, shape: LineShape, top: Block): StructureMistake {
    const last = top.last;
    if (!last) {
      return mistake(i, shape.indent, 'yaml.stray-item', `a \`- \` list item among ${othersOf(top).replace('the other ', 'the ')}`,
        'a list belongs under its key: write `key:` and indent the `- ` items below it', () => '');
    }
    return mistake(i, shape.indent, 'yaml.stray-item', `this list item belongs to no key: \`${last.name}\` on line ${last.line} already has a value`,
      `put the item into that value (inside its \`[ ]\`), or write \`${last.name}:\` alone and each item on its own \`- \` line below it`, () => '');
  }

  function moreIndented(i: number, shape: LineShape, top: Block): StructureMistake | StructureMistake[] | undefined {
    const raw = body(i);
    const last = top.last;
    if (shape.dashes.length && top.kind === 'map') return strayItem(i, shape, top);
    if (!shape.key && !shape.dashes.length) return undefined;
    const hint = top.kind === 'seq' && last
      ? `align its \`-\` with the one on line ${last.line}`
      : last ? `align it with \`${last.name}\` on line ${last.line}` : `indent it to column ${top.indent + 1}, like the others`;
    const tooFar = mistake(i, shape.indent, 'yaml.indent', `${nameOf(shape)} is indented more than ${othersOf(top)} (column ${shape.indent + 1}; they start at column ${top.indent + 1})`,
      hint, () => reindent(raw, top.indent));
    const v = top.kind === 'map' ? last?.value : undefined;
    if (!last || !v) return [tooFar, ...firstLineWrong(top, shape.indent, i, shape)];
    // or: the key above was meant to hold these lines, and its value is the mistake
    const withFields = mistake(last.line - 1, v.col, 'yaml.value-and-fields',
      `\`${last.name}\` has a value (\`${v.text}\`) and also fields indented below it`,
      `remove the value after \`${last.name}:\` to give it the fields below, or align them with \`${last.name}\``,
      (l) => l.slice(0, v.col).trimEnd());
    return [tooFar, ...firstLineWrong(top, shape.indent, i, shape), withFields];
  }

  /** When `b` holds one item so far, the reading that its line, not line i, is indented wrongly. */
  function firstLineWrong(b: Block | undefined, ind: number, i: number, shape: LineShape): StructureMistake[] {
    const first = b?.first;
    if (!b || !first || b.items !== 1) return [];
    const than = `the ${b.kind === 'seq' ? 'items' : 'fields'} after it (column ${b.indent + 1}; they start at column ${ind + 1})`;
    return [mistake(first.line, b.indent, 'yaml.indent', `${first.what} is indented ${b.indent > ind ? 'more' : 'less'} than ${than}`,
      `align it with ${nameOf(shape)} on line ${i + 1}`, (l) => reindent(l, ind))];
  }

  function missingColon(i: number, shape: LineShape, raw: string): StructureMistake | undefined {
    const text = raw.slice(shape.indent);
    const glued = /^([A-Za-z_][\w.-]*):(\S.*)$/.exec(text);
    if (glued) {
      const col = shape.indent + glued[1]!.length;
      return mistake(i, col, 'yaml.missing-space', `no space after the colon in \`${text.trim()}\`: YAML reads it as one text, not a key and a value`,
        `write \`${glued[1]}: ${glued[2]!.trim()}\``, (l) => l.slice(0, col + 1) + ' ' + l.slice(col + 1));
    }
    const bare = /^([A-Za-z_][\w.-]*)(\s+(\S.*?))?\s*$/.exec(text);
    if (!bare) return undefined;
    const col = shape.indent + bare[1]!.length;
    return mistake(i, col, 'yaml.missing-colon', `\`${bare[1]}\` is not followed by a colon`,
      bare[3] ? `write \`${bare[1]}: ${bare[3].trim()}\`` : `write \`${bare[1]}:\` and its value`, (l) => l.slice(0, col) + ':' + l.slice(col));
  }

  /** Whether the next line that holds something is a key or item at `ind` (so line i was meant as one too). */
  function keyLevelFollows(i: number, ind: number): boolean {
    for (let j = i + 1; j < lines.length; j++) {
      const l = body(j);
      if (l.trim() === '' || l.trim().startsWith('#')) continue;
      const s = lineShape(l, j);
      return !!s && s.indent === ind && (s.key !== undefined || s.dashes.length > 0);
    }
    return false;
  }

  function tabMistake(i: number, col: number): StructureMistake[] {
    const others = lines.map((l, n) => (n !== i && /^[ ]*\t/.test(l) ? n + 1 : 0)).filter(Boolean);
    const more = others.length ? ` (so ${others.length === 1 ? 'is line' : 'are lines'} ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''})` : '';
    const tabbed = (l: string, width: number) => l.replace(/^[ \t]+/, (ws) => ws.replaceAll('\t', ' '.repeat(width)));
    const m = (fix: (l: string) => string) => mistake(i, col, 'yaml.tab', `this line is indented with a tab${more}; YAML indents with spaces only`,
      'replace the tabs with spaces, and set your editor to indent YAML with spaces', fix);
    if (others.length) {
      // a file indented with tabs throughout: so many spaces per tab that its structure holds
      return [2, 4, 8].map((w) => ({ ...m((l) => tabbed(l, w)), fixed: lines.map((l) => tabbed(l, w)).join('\n') }));
    }
    // one tab among spaces: it stands for the indentation the context expects, or a few spaces
    const expected = opener ? opener.indent + 2 : (stack.at(-1)?.indent ?? 0);
    return [m((l) => reindent(l, expected)), ...[0, 1, 2, 4, 8].map((w) => m((l) => tabbed(l, w)))];
  }
}

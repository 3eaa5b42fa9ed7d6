// The mistakes the structure scan (yaml-structure.ts) reports: each one's message and hint at
// its line, and the whole text with that mistake fixed, which is how the caller finds the next
// one and checks the reading against the parser (src/spec/load.ts).
import { where } from './schema.ts';
import { closerOf, commentStart, type LineShape, type Opener } from './yaml-lines.ts';
import type { Block, OpenFlow, OpenQuoteValue, StructureMistake } from './yaml-structure.ts';

const reindent = (l: string, to: number) => ' '.repeat(to) + l.trimStart();

function othersOf(b: Block): string {
  if (b.kind === 'seq') return `the other items of ${where(b.path)}`;
  if (b.path.length === 0) return 'the other top-level fields';
  if (b.path.length === 1 && (b.path[0] === 'stages' || b.path[0] === 'params')) return `the other ${b.path[0]}`;
  return `the other fields of ${where(b.path)}`;
}

/** How a message names the line's key or item. */
export function nameOf(s: LineShape): string {
  return s.key && s.dashes.length === 0 ? `\`${s.key.name}\`` : 'this list item';
}

/** Writes the mistakes found in one text (its lines as split, carriage returns kept). */
export class MistakeWriter {
  constructor(private readonly lines: string[]) {}

  /** Line `i` without its carriage return. */
  body(i: number): string {
    return this.lines[i]!.replace(/\r$/, '');
  }

  /** A mistake at (0-based) `line` and `column`; `fix` rewrites line `at` in the fixed text. */
  private mistake(
    line: number,
    column: number,
    code: string,
    message: string,
    hint: string,
    fix: (l: string) => string,
    at = line,
  ): StructureMistake {
    const out = [...this.lines];
    const cr = out[at]!.endsWith('\r') ? '\r' : '';
    out[at] = fix(this.body(at)) + cr;
    return { line: line + 1, column: column + 1, code, message, hint, fixed: out.join('\n') };
  }

  unclosedFlow(f: OpenFlow): StructureMistake {
    if (f.quote) return this.unclosedQuote({ ...f, ...f.quote });
    const o = f.open[0]!;
    const closers = (o.char === '{' ? ' ' : '') + [...f.open].reverse().map(closerOf).join('');
    const what = `the ${o.char === '[' ? 'list' : 'map'} ${f.name ? `of \`${f.name}\`` : 'in this list item'}`;
    const close = (l: string) => {
      const c = commentStart(l);
      return c < 0 ? l.trimEnd() + closers : l.slice(0, c).trimEnd() + closers + ' ' + l.slice(c);
    };
    const hint =
      f.last === o.line
        ? `close it on its line: \`${close(this.body(o.line)).trim()}\``
        : `add \`${closers}\` where it ends (line ${f.last + 1})`;
    return this.mistake(
      o.line,
      o.col,
      'yaml.unclosed-bracket',
      `${what} is not closed: \`${o.char}\` has no \`${closerOf(o)}\``,
      hint.replace(`\`${closers}\``, `\`${closers.trim()}\``),
      close,
      f.last,
    );
  }

  unclosedQuote(q: OpenQuoteValue): StructureMistake {
    return this.mistake(
      q.line,
      q.col,
      'yaml.unclosed-quote',
      `the quoted text ${q.name ? `of \`${q.name}\` ` : ''}is not closed: \`${q.char}\` has no closing \`${q.char}\``,
      `end the text with \`${q.char}\` on the same line`,
      (l) => {
        // before the brackets that end the line, if any: `{ lr: "${params.lr} }`
        const t = l.trimEnd();
        const closers = /\s*[\]}][\]}\s]*$/.exec(t.slice(q.col + 1));
        return closers ? t.slice(0, q.col + 1 + closers.index) + q.char + t.slice(q.col + 1 + closers.index) : t + q.char;
      },
    );
  }

  /** A `- ` item on line `i` (at column `ind`) inside the still open brackets of `flow`. */
  blockInFlow(i: number, ind: number, flow: OpenFlow): StructureMistake {
    return this.mistake(
      i,
      ind,
      'yaml.block-in-flow',
      `a \`- \` list item inside the \`${flow.open[0]!.char} … ${closerOf(flow.open[0]!)}\` ` +
        `of ${flow.name ? `\`${flow.name}\`` : 'this list item'}`,
      'write the items inside the brackets, separated by commas, or drop the brackets and put each `- item` on its own line',
      (l) => l.slice(0, ind) + ' ' + l.slice(ind + 1),
    );
  }

  /** `key: - item`: the value of the key on line `i` starts with a dash. */
  itemOnKeyLine(i: number, v: { col: number; rest: string }, name: string | undefined): StructureMistake {
    return this.mistake(
      i,
      v.col,
      'yaml.item-on-key-line',
      `a \`- \` list item cannot start on the line of its key${name ? ` \`${name}\`` : ''}`,
      `write \`${name ?? 'key'}: [${v.rest}]\`, or put \`- ${v.rest}\` on the next line, indented`,
      (l) => l.slice(0, v.col) + `[${v.rest}]`,
    );
  }

  mismatch(m: { opener: Opener; col: number; closer: string }): StructureMistake {
    const want = closerOf(m.opener);
    return this.mistake(
      m.opener.line,
      m.opener.col,
      'yaml.unclosed-bracket',
      `\`${m.opener.char}\` is closed by the \`${m.closer}\` at column ${m.col + 1} instead of \`${want}\``,
      `add \`${want}\` before that \`${m.closer}\``,
      (l) => l.slice(0, m.col) + want + l.slice(m.col),
      m.opener.line,
    );
  }

  /** A `- ` item where a map's key should be: it belongs to no key. */
  strayItem(i: number, shape: LineShape, top: Block): StructureMistake {
    const last = top.last;
    if (!last) {
      return this.mistake(
        i,
        shape.indent,
        'yaml.stray-item',
        `a \`- \` list item among ${othersOf(top).replace('the other ', 'the ')}`,
        'a list belongs under its key: write `key:` and indent the `- ` items below it',
        () => '',
      );
    }
    return this.mistake(
      i,
      shape.indent,
      'yaml.stray-item',
      `this list item belongs to no key: \`${last.name}\` on line ${last.line} already has a value`,
      `put the item into that value (inside its \`[ ]\`), or write \`${last.name}:\` alone and each item on its own \`- \` line below it`,
      () => '',
    );
  }

  /**
   * Line `i` (at column `ind`) left block `popped` without reaching the indentation of the block
   * around it (`top`): it is indented too little, or a first line above is indented wrongly.
   */
  indentedLess(i: number, ind: number, shape: LineShape, popped: Block, top: Block | undefined): StructureMistake[] {
    const last = popped.last;
    const hint = !last
      ? `indent it to column ${popped.indent + 1}, like the others`
      : popped.kind === 'seq'
        ? `align its \`-\` with the one on line ${last.line}`
        : `align it with \`${last.name}\` on line ${last.line}`;
    const tooLittle = this.mistake(
      i,
      ind,
      'yaml.indent',
      `${nameOf(shape)} is indented less than ${othersOf(popped)} (column ${ind + 1}; they start at column ${popped.indent + 1})`,
      hint,
      (l) => reindent(l, popped.indent),
    );
    // or: the first line of the block above, or of the one left, is the one indented wrongly
    return [tooLittle, ...this.firstLineWrong(top, ind, i, shape), ...this.firstLineWrong(popped, ind, i, shape)];
  }

  moreIndented(i: number, shape: LineShape, top: Block): StructureMistake | StructureMistake[] | undefined {
    const raw = this.body(i);
    const last = top.last;
    if (shape.dashes.length && top.kind === 'map') return this.strayItem(i, shape, top);
    if (!shape.key && !shape.dashes.length) return undefined;
    const hint =
      top.kind === 'seq' && last
        ? `align its \`-\` with the one on line ${last.line}`
        : last
          ? `align it with \`${last.name}\` on line ${last.line}`
          : `indent it to column ${top.indent + 1}, like the others`;
    const tooFar = this.mistake(
      i,
      shape.indent,
      'yaml.indent',
      `${nameOf(shape)} is indented more than ${othersOf(top)} (column ${shape.indent + 1}; they start at column ${top.indent + 1})`,
      hint,
      () => reindent(raw, top.indent),
    );
    const v = top.kind === 'map' ? last?.value : undefined;
    if (!last || !v) return [tooFar, ...this.firstLineWrong(top, shape.indent, i, shape)];
    // or: the key above was meant to hold these lines, and its value is the mistake
    const withFields = this.mistake(
      last.line - 1,
      v.col,
      'yaml.value-and-fields',
      `\`${last.name}\` has a value (\`${v.text}\`) and also fields indented below it`,
      `remove the value after \`${last.name}:\` to give it the fields below, or align them with \`${last.name}\``,
      (l) => l.slice(0, v.col).trimEnd(),
    );
    return [tooFar, ...this.firstLineWrong(top, shape.indent, i, shape), withFields];
  }

  /** When `b` holds one item so far, the reading that its line, not line i, is indented wrongly. */
  private firstLineWrong(b: Block | undefined, ind: number, i: number, shape: LineShape): StructureMistake[] {
    const first = b?.first;
    if (!b || !first || b.items !== 1) return [];
    const than = `the ${b.kind === 'seq' ? 'items' : 'fields'} after it (column ${b.indent + 1}; they start at column ${ind + 1})`;
    return [
      this.mistake(
        first.line,
        b.indent,
        'yaml.indent',
        `${first.what} is indented ${b.indent > ind ? 'more' : 'less'} than ${than}`,
        `align it with ${nameOf(shape)} on line ${i + 1}`,
        (l) => reindent(l, ind),
      ),
    ];
  }

  missingColon(i: number, shape: LineShape, raw: string): StructureMistake | undefined {
    const text = raw.slice(shape.indent);
    const glued = /^([A-Za-z_][\w.-]*):(\S.*)$/.exec(text);
    if (glued) {
      const col = shape.indent + glued[1]!.length;
      return this.mistake(
        i,
        col,
        'yaml.missing-space',
        `no space after the colon in \`${text.trim()}\`: YAML reads it as one text, not a key and a value`,
        `write \`${glued[1]}: ${glued[2]!.trim()}\``,
        (l) => l.slice(0, col + 1) + ' ' + l.slice(col + 1),
      );
    }
    const bare = /^([A-Za-z_][\w.-]*)(\s+(\S.*?))?\s*$/.exec(text);
    if (!bare) return undefined;
    const col = shape.indent + bare[1]!.length;
    return this.mistake(
      i,
      col,
      'yaml.missing-colon',
      `\`${bare[1]}\` is not followed by a colon`,
      bare[3] ? `write \`${bare[1]}: ${bare[3].trim()}\`` : `write \`${bare[1]}:\` and its value`,
      (l) => l.slice(0, col) + ':' + l.slice(col),
    );
  }

  /** A tab at column `col` of line `i`'s indentation; `expected`: the indentation the context expects there. */
  tab(i: number, col: number, expected: number): StructureMistake[] {
    const lines = this.lines;
    const others = lines.map((l, n) => (n !== i && /^[ ]*\t/.test(l) ? n + 1 : 0)).filter(Boolean);
    const more = others.length
      ? ` (so ${others.length === 1 ? 'is line' : 'are lines'} ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''})`
      : '';
    const tabbed = (l: string, width: number) => l.replace(/^[ \t]+/, (ws) => ws.replaceAll('\t', ' '.repeat(width)));
    const m = (fix: (l: string) => string) =>
      this.mistake(
        i,
        col,
        'yaml.tab',
        `this line is indented with a tab${more}; YAML indents with spaces only`,
        'replace the tabs with spaces, and set your editor to indent YAML with spaces',
        fix,
      );
    if (others.length) {
      // a file indented with tabs throughout: so many spaces per tab that its structure holds
      return [2, 4, 8].map((w) => ({ ...m((l) => tabbed(l, w)), fixed: lines.map((l) => tabbed(l, w)).join('\n') }));
    }
    // one tab among spaces: it stands for the indentation the context expects, or a few spaces
    return [m((l) => reindent(l, expected)), ...[0, 1, 2, 4, 8].map((w) => m((l) => tabbed(l, w)))];
  }
}

/**
 * Finds the line that breaks a YAML file's structure, so the user reads one error at the mistake
 * with a hint instead of the parser's errors on the lines after it (a dedented `needs:` gave four
 * "All mapping items must start at the same column"). Each mistake comes with the file as it
 * would be with the mistake fixed, which is how the caller finds the next one and checks that
 * the fix is what the parser wanted (src/spec/load.ts). Only run on files the parser refused.
 */
import { commentStart, lineShape, quoteEnd, scanFlow, type LineShape, type OpenQuote, type Opener } from './yaml-lines.ts';
import { MistakeWriter, nameOf } from './yaml-mistakes.ts';

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

/** A map or list whose lines are being read. */
export interface Block {
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

/** A flow collection (`[`, `{`) still open after its line, and the last line it reached. */
export type OpenFlow = Multiline & { open: Opener[]; quote?: OpenQuote; last: number };
/** A quoted text still open after its line. */
export type OpenQuoteValue = Multiline & OpenQuote;

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
  const found = new StructureScan(text).run();
  return found === undefined ? [] : Array.isArray(found) ? found : [found];
}

/** What the scan found: a mistake, several readings of one, or nothing it recognises. */
type Found = StructureMistake | StructureMistake[] | undefined;
/** A line's step saying that the line is fine and the scan goes on. */
const NEXT = Symbol('next line');

/** One pass over the lines, keeping the blocks open at the current line and the value being followed. */
class StructureScan {
  private readonly lines: string[];
  private readonly say: MistakeWriter;
  /** The maps and lists open at the current line, outermost first. */
  private readonly stack: Block[] = [];
  /** A key or dash without a value on its line: the lines below may open its block. */
  private opener: { indent: number; path: string[]; byKey: boolean } | undefined;
  /** A plain scalar owned by this column may continue on deeper lines. */
  private plainAt: number | undefined;
  /** A block scalar (`|`, `>`) owned by this column: the deeper lines are its text. */
  private blockScalarOwner: number | undefined;
  private flow: OpenFlow | undefined;
  private quote: OpenQuoteValue | undefined;

  constructor(text: string) {
    this.lines = text.split('\n');
    this.say = new MistakeWriter(this.lines);
  }

  run(): Found {
    for (let i = 0; i < this.lines.length; i++) {
      const r = this.step(i);
      if (r !== NEXT) return r;
    }
    if (this.flow) return this.say.unclosedFlow(this.flow);
    if (this.quote) return this.say.unclosedQuote(this.quote);
    return undefined;
  }

  /** Line i: more of a multi-line value, a line with nothing to place, or a key or item placed in its block. */
  private step(i: number): Found | typeof NEXT {
    const raw = this.say.body(i);
    const trimmed = raw.trim();
    const ind = raw.length - raw.trimStart().length;
    if (this.blockScalarOwner !== undefined) {
      if (trimmed === '' || ind > this.blockScalarOwner) return NEXT;
      this.blockScalarOwner = undefined;
    }
    if (this.quote) return this.inQuote(raw, ind, this.quote);
    if (this.flow) return this.inFlow(i, raw, ind, this.flow);
    if (trimmed === '' || trimmed.startsWith('#')) return NEXT;
    if (/^(---|\.\.\.)(\s|$)/.test(raw) || raw.startsWith('%')) {
      this.stack.length = 0;
      this.opener = this.plainAt = undefined;
      return NEXT;
    }
    const tab = raw.slice(0, ind).indexOf('\t');
    if (tab >= 0) return this.say.tab(i, tab, this.opener ? this.opener.indent + 2 : (this.stack.at(-1)?.indent ?? 0));
    const shape = lineShape(raw, i);
    if (!shape) return undefined;
    // `source { type: csv }` reads as the key `source { type`: a colon is missing after `source`
    if (shape.key && !shape.dashes.length && /^[A-Za-z_][\w.-]*\s+[[{]/.test(shape.key.name)) return this.say.missingColon(i, shape, raw);
    const dash = shape.dashes.length > 0;
    if (this.plainAt !== undefined && ind > this.plainAt && !dash && !shape.key) return NEXT; // a plain scalar going on

    const opener = this.opener;
    const opens = opener && (ind > opener.indent || (ind === opener.indent && dash && opener.byKey));
    const placed = opens ? this.underOpener(i, shape, raw, opener) : this.amongOpenBlocks(i, shape, raw);
    if ('end' in placed) return placed.end;
    this.opener = this.plainAt = undefined;
    return this.keysAndItems(i, raw, shape, placed.block);
  }

  /** Inside a quoted text that did not end on its line: a key or item at its owner's level ends the file's reading. */
  private inQuote(raw: string, ind: number, quote: OpenQuoteValue): Found | typeof NEXT {
    if (ind <= quote.owner && looksStructural(raw)) return this.say.unclosedQuote(quote);
    if (quoteEnd(raw, 0, quote.char) >= 0) this.quote = undefined;
    return NEXT;
  }

  /** Inside brackets that did not close on their line. */
  private inFlow(i: number, raw: string, ind: number, flow: OpenFlow): Found | typeof NEXT {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return NEXT;
    if (ind <= flow.owner && looksStructural(raw)) return this.say.unclosedFlow(flow);
    if (!flow.quote && /^-(\s|$)/.test(trimmed)) return this.say.blockInFlow(i, ind, flow);
    const r = scanFlow(raw, i, 0, flow.open, flow.quote);
    if (r.mismatch) return this.say.mismatch(r.mismatch);
    this.flow = r.open.length ? { ...flow, open: r.open, quote: r.quote, last: i } : undefined;
    return NEXT;
  }

  /** Line i, deeper than a key or dash without a value: the block that key opens, or the key's value on its own line. */
  private underOpener(i: number, shape: LineShape, raw: string, opener: NonNullable<StructureScan['opener']>): Placed {
    const dash = shape.dashes.length > 0;
    if (!dash && !shape.key && !this.keyLevelFollows(i, shape.indent)) {
      // the opener's value on its own line (`description:` / `  some text`)
      this.opener = undefined;
      return { end: this.followValue(shape, opener.indent, undefined, i) ?? NEXT };
    }
    const block: Block = { indent: shape.indent, kind: dash ? 'seq' : 'map', path: opener.path, items: 0 };
    this.stack.push(block);
    if (!dash && !shape.key) return { end: this.say.missingColon(i, shape, raw) };
    return { block };
  }

  /** Line i among the open blocks: closes the deeper ones, then belongs to the one at its column. */
  private amongOpenBlocks(i: number, shape: LineShape, raw: string): Placed {
    const { stack } = this;
    const ind = shape.indent;
    const dash = shape.dashes.length > 0;
    let popped: Block | undefined;
    while (stack.length && stack.at(-1)!.indent > ind) popped = stack.pop();
    if (stack.at(-1)?.indent === ind && stack.at(-1)!.kind === 'seq' && !dash) stack.pop(); // the list ended
    const top = stack.at(-1);
    if (!top && !popped) {
      const block: Block = { indent: ind, kind: dash ? 'seq' : 'map', path: [], items: 0 };
      stack.push(block);
      return { block };
    }
    if (top?.indent === ind) {
      if (top.kind === 'map' && dash) return { end: this.say.strayItem(i, shape, top) };
      if (top.kind === 'map' && !shape.key) return { end: this.say.missingColon(i, shape, raw) };
      return { block: top };
    }
    if (popped) return { end: this.say.indentedLess(i, ind, shape, popped, top) };
    return { end: this.say.moreIndented(i, shape, top!) };
  }

  /** The items and key on line i, in `block`, then what the key's (or item's) value opens. */
  private keysAndItems(i: number, raw: string, shape: LineShape, block: Block): Found | typeof NEXT {
    const dash = shape.dashes.length > 0;
    let path = block.path;
    let owner = shape.indent;
    if (dash) {
      path = [...block.path, String(block.items++)];
      for (const d of shape.dashes.slice(1)) {
        this.stack.push({ indent: d, kind: 'seq', path, items: 1 });
        path = [...path, '0'];
      }
      owner = shape.dashes.at(-1)!;
      if (shape.key) {
        block = { indent: shape.key.col, kind: 'map', path, items: 0 };
        this.stack.push(block);
      }
    }
    block.first ??= { line: i, what: nameOf(shape) };
    if (dash && !shape.key) block.last = { name: '-', line: i + 1 };
    if (shape.key) {
      if (!dash) block.items++;
      const text = raw.slice(shape.valueCol, commentStart(raw) < 0 ? undefined : commentStart(raw)).trim();
      block.last = {
        name: shape.key.name,
        line: i + 1,
        ...(shape.value.kind === 'scalar' ? { value: { col: shape.valueCol, text } } : {}),
      };
      path = [...block.path, shape.key.name];
      owner = shape.key.col;
    }
    if (shape.value.kind === 'none') {
      this.opener = { indent: owner, path, byKey: !!shape.key };
      return NEXT;
    }
    return this.followValue(shape, owner, shape.key?.name, i) ?? NEXT;
  }

  /** Follows a value into the lines after it; returns a mistake found in the value itself. */
  private followValue(shape: LineShape, owner: number, name: string | undefined, i: number): StructureMistake | undefined {
    const v = shape.value;
    if (v.kind === 'scalar' && v.plain) this.plainAt = owner;
    else if (v.kind === 'block-scalar') this.blockScalarOwner = owner;
    else if (v.kind === 'open-flow') this.flow = { owner, name, line: i, open: v.open, quote: v.quote, last: i };
    else if (v.kind === 'open-quote') this.quote = { owner, name, line: i, char: v.quote, col: v.col };
    else if (v.kind === 'mismatch') return this.say.mismatch(v);
    else if (v.kind === 'dash') return this.say.itemOnKeyLine(i, v, name);
    return undefined;
  }

  /** Whether the next line that holds something is a key or item at `ind` (so line i was meant as one too). */
  private keyLevelFollows(i: number, ind: number): boolean {
    for (let j = i + 1; j < this.lines.length; j++) {
      const l = this.say.body(j);
      if (l.trim() === '' || l.trim().startsWith('#')) continue;
      const s = lineShape(l, j);
      return !!s && s.indent === ind && (s.key !== undefined || s.dashes.length > 0);
    }
    return false;
  }
}

/** Where a line's first key or dash belongs: its block, or the end of its step (a mistake, or the next line). */
type Placed = { block: Block } | { end: Found | typeof NEXT };

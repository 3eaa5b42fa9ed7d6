// A streaming CSV tokenizer: text in, records (with the line each ends on) out. It reads what
// csv-parse reads with collect's options (RFC 4180 quotes with "" inside, \n or \r\n line ends,
// fields trimmed outside quotes, empty and blank lines skipped, a leading BOM dropped), with the
// same records and line numbers (test/ml/data/csv-tokenizer.test.ts holds it to csv-parse), at
// several times csv-parse's speed: a large file's parse is most of a streamed collect's time.
// Malformed quoting is a DataError naming the line.
import type { DataError } from './data-error.ts';

const QUOTE = 34;
const LF = 10;
const CR = 13;

export class CsvTokenizer {
  private rest = '';
  private field = '';
  private record: string[] = [];
  private inQuotes = false;
  /** The current field was quoted (its content is kept as is). */
  private quoted = false;
  /** A closing quote was read: only blanks may come before the delimiter. */
  private closed = false;
  private anyQuoted = false;
  private quoteLine = 0;
  private line = 1;
  private started = false;
  private readonly delim: number;

  constructor(
    delimiter: string,
    private readonly invalid: (why: string) => DataError,
  ) {
    if (delimiter.length !== 1) throw invalid(`the delimiter must be one character, not ${JSON.stringify(delimiter)}`);
    this.delim = delimiter.charCodeAt(0);
  }

  /** Tokenizes `text` up to its last line end; the rest waits for more text or `end`. */
  push(text: string, emit: (record: string[], line: number) => void): void {
    let s = this.rest + text;
    if (!this.started && s.length) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    const cut = s.lastIndexOf('\n');
    if (cut < 0) {
      this.rest = s;
      return;
    }
    this.rest = s.slice(cut + 1);
    this.scan(s, cut + 1, emit);
  }

  /** The last record, at the end of the text. */
  end(emit: (record: string[], line: number) => void): void {
    const s = this.rest;
    this.rest = '';
    this.scan(s, s.length, emit);
    if (this.inQuotes) throw this.invalid(`the quote opened on line ${this.quoteLine} is never closed`);
    if (this.field !== '' || this.quoted || this.record.length) {
      this.endField();
      this.endRecord(emit);
    }
  }

  private scan(s: string, n: number, emit: (record: string[], line: number) => void): void {
    let i = 0;
    const delim = this.delim;
    while (i < n) {
      if (this.inQuotes) {
        const q = s.indexOf('"', i);
        if (q < 0 || q >= n) {
          this.countLines(s, i, n);
          this.field += s.slice(i, n);
          return;
        }
        this.countLines(s, i, q);
        this.field += s.slice(i, q);
        if (q + 1 < n && s.charCodeAt(q + 1) === QUOTE) {
          this.field += '"';
          i = q + 2;
        } else {
          this.inQuotes = false;
          this.closed = true;
          i = q + 1;
        }
        continue;
      }
      let j = i;
      let c = 0;
      while (j < n) {
        c = s.charCodeAt(j);
        if (c === delim || c === LF || c === CR || c === QUOTE) break;
        j++;
      }
      if (j < n && c !== QUOTE && this.field === '' && !this.quoted) {
        // the common case, a whole unquoted field in this text: no concatenation, trimmed only if it must be
        const a = s.charCodeAt(i);
        const z = s.charCodeAt(j - 1);
        const f = j === i ? '' : a > 32 && a < 127 && z > 32 && z < 127 ? s.slice(i, j) : s.slice(i, j).trim();
        this.record.push(f);
        i = j + 1;
        if (c !== delim) {
          if (c === CR && i < n && s.charCodeAt(i) === LF) i++;
          this.endRecord(emit);
          this.line++;
        }
        continue;
      }
      if (this.closed) {
        if (s.slice(i, j).trim() !== '') throw this.invalid(`line ${this.line} has text after a closing quote`);
      } else if (j > i) {
        this.field += s.slice(i, j);
      }
      if (j >= n) return;
      i = j + 1;
      if (c === QUOTE) {
        if (this.closed || this.field.trim() !== '') throw this.invalid(`line ${this.line} has a quote inside an unquoted field`);
        this.field = '';
        this.inQuotes = true;
        this.quoted = true;
        this.quoteLine = this.line;
      } else if (c === delim) {
        this.endField();
      } else {
        if (c === CR && i < n && s.charCodeAt(i) === LF) i++;
        this.endField();
        this.endRecord(emit);
        this.line++;
      }
    }
  }

  /** Line ends inside a quoted field; as csv-parse counts them, a \r\n there counts two (origins match the in-memory path's). */
  private countLines(s: string, from: number, to: number): void {
    for (let k = from; k < to; k++) {
      const c = s.charCodeAt(k);
      if (c === LF || c === CR) this.line++;
    }
  }

  private endField(): void {
    if (this.quoted) this.anyQuoted = true;
    this.record.push(this.quoted ? this.field : this.field.trim());
    this.field = '';
    this.quoted = false;
    this.closed = false;
  }

  private endRecord(emit: (record: string[], line: number) => void): void {
    const r = this.record;
    const quoted = this.anyQuoted;
    this.record = [];
    this.anyQuoted = false;
    // a blank line is no record (csv-parse's skip_empty_lines with trim)
    if (r.length === 1 && r[0] === '' && !quoted) return;
    emit(r, this.line);
  }
}

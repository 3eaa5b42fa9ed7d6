// The streaming CSV tokenizer reads what csv-parse reads with collect's options: the same records
// and line numbers, whatever the byte boundaries of the stream.
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CsvTokenizer } from '../../../src/ml/data/csv-tokenizer.ts';
import { DataError } from '../../../src/ml/data/data-error.ts';
import { Rng } from '../../../src/ml/data/rng.ts';

function tokens(text: string, pieces: number[], delimiter = ','): [string[], number][] {
  const t = new CsvTokenizer(delimiter, (why) => new DataError(why));
  const out: [string[], number][] = [];
  const emit = (r: string[], line: number) => out.push([r, line]);
  let at = 0;
  for (const p of pieces) {
    t.push(text.slice(at, at + p), emit);
    at += p;
  }
  t.push(text.slice(at), emit);
  t.end(emit);
  return out;
}

function csvParse(text: string, delimiter = ','): [string[], number][] {
  const recs = parse(text, {
    delimiter,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
    trim: true,
  }) as unknown as {
    record: string[];
    info: { lines: number };
  }[];
  return recs.map((r) => [r.record, r.info.lines]);
}

const CASES = [
  'a,b\n1,2\n',
  'a,b\n1,2',
  '\ufeffa,b\n1 ,\t2\n',
  'a,b\r\n1,2\r\n\r\n3,4\r\n',
  'a,b\n  \n1,2\n\t\n3,4\n',
  'a,b\n "x, y" , z \n',
  'a,b\n1,"x\ny"\n5,6\n',
  'a,b\n1,"say ""hi"""\n2,""\n',
  'a,b,c\n1,,3\n,,\n4\n5,6,7,8\n',
  'a\n""\n1\n',
  'x;y\n1;2\n',
];

describe('CsvTokenizer', () => {
  it('gives csv-parse records and lines, split anywhere', () => {
    for (const text of CASES) {
      const delimiter = text.startsWith('x;') ? ';' : ',';
      const want = csvParse(text, delimiter);
      expect(tokens(text, [], delimiter), JSON.stringify(text)).toEqual(want);
      for (let cut = 1; cut < text.length; cut++)
        expect(tokens(text, [cut], delimiter), `${JSON.stringify(text)} cut at ${cut}`).toEqual(want);
    }
  });

  it('agrees with csv-parse on random quoted text in random pieces', () => {
    const rng = new Rng(3);
    let compared = 0;
    for (let k = 0; k < 400; k++) {
      // one line end per text: csv-parse counts lines oddly when \n and \r\n mix
      const eol = rng.next() < 0.5 ? '\n' : '\r\n';
      const alphabet = ['a', 'b', ' ', ',', '"', eol, '1', '.', 'é'];
      let text = '';
      const fields = 1 + rng.int(40);
      for (let f = 0; f < fields; f++) {
        const quoted = rng.next() < 0.3;
        let v = '';
        for (let c = rng.int(6); c > 0; c--) {
          const ch = alphabet[rng.int(alphabet.length)]!;
          if (!quoted && (ch === '"' || ch === ',' || ch.includes('\n'))) continue;
          v += ch === '"' ? '""' : ch;
        }
        text += quoted ? `"${v}"` : v;
        text += rng.next() < 0.7 ? ',' : eol;
      }
      let want: [string[], number][];
      try {
        want = csvParse(text);
      } catch {
        continue;
      }
      const pieces = Array.from({ length: 3 }, () => 1 + rng.int(20));
      expect(tokens(text, pieces), JSON.stringify(text)).toEqual(want);
      compared++;
    }
    expect(compared).toBeGreaterThan(300);
  });

  it('names the line of malformed quoting', () => {
    expect(() => tokens('a,b\n1,x"y\n', [])).toThrow(/line 2 has a quote inside an unquoted field/);
    expect(() => tokens('a,b\n1,"xy"z\n', [])).toThrow(/line 2 has text after a closing quote/);
    expect(() => tokens('a,b\n1,"xy\n2,3\n', [])).toThrow(/the quote opened on line 2 is never closed/);
  });
});

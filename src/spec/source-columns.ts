/**
 * What can be known before a run: when a collect stage reads a local csv or Parquet file that is
 * there at validate time, its column names come from the file's header (csv: the first line;
 * Parquet: the footer, read from the end of the file), never from its rows. `schema.label`,
 * `schema.columns` and the columns named by the steps of preprocess stages fed by that collect
 * stage are then checked against them, with a did-you-mean, at their place in the YAML. A file
 * that is absent (data fetched later, workers with their own checkout) or unreadable is not
 * checked here: the run reports it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parquetMetadata, parquetSchema } from 'hyparquet';
import type { Path } from './stages/descriptor.ts';
import { suggest } from './schema.ts';
import type { Pipeline, Stage } from './types.gen.ts';

interface Report {
  error(path: Path, code: string, message: string, hint?: string): void;
}

const CSV_HEAD_BYTES = 64 * 1024;

function readRange(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, start);
  return buf.subarray(0, n);
}

/** The file's column names, or undefined when it cannot be read here. */
export function headerColumns(file: string, type: 'csv' | 'parquet', delimiter = ','): string[] | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (type === 'csv') {
      const head = readRange(fd, 0, Math.min(size, CSV_HEAD_BYTES)).toString('utf8');
      const nl = head.indexOf('\n');
      if (nl < 0 && size > CSV_HEAD_BYTES) return undefined; // a header longer than 64 KiB: leave it to the run
      const rows = parseCsv(nl < 0 ? head : head.slice(0, nl), { delimiter, bom: true, trim: true, relax_quotes: true }) as string[][];
      return rows[0];
    }
    if (size < 12) return undefined;
    const footerLength = readRange(fd, size - 8, 4).readUInt32LE(0);
    if (footerLength + 8 > size) return undefined;
    const tail = readRange(fd, size - footerLength - 8, footerLength + 8);
    const ab = tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.byteLength) as ArrayBuffer;
    return parquetSchema(parquetMetadata(ab)).children.map((c) => c.element.name);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function mean(name: string, options: string[]): string | undefined {
  // a near spelling, else the one column the name begins (`malic` → `malic_acid`)
  const starts = options.filter((o) => o.toLowerCase().startsWith(name.toLowerCase()));
  const s = suggest(name, options) ?? (starts.length === 1 ? starts[0] : undefined);
  return s ? `did you mean \`${s}\`?` : `its columns: ${options.slice(0, 20).join(', ')}${options.length > 20 ? ', …' : ''}`;
}

/** The columns a collect stage's dataset will have, checking its schema against the file. */
function collectColumns(
  r: Report,
  specFile: string,
  name: string,
  stage: Extract<Stage, { type: 'collect' }>,
): { columns: string[]; header: string[]; file: string } | undefined {
  const src = stage.source;
  if ((src.type !== 'csv' && src.type !== 'parquet') || src.path === undefined) return undefined;
  if (src.type === 'csv' && src.header === false) return undefined;
  const base = dirname(resolve(specFile));
  const file = resolve(base, src.path);
  if (!file.startsWith(base + sep)) return undefined; // collect.path-escape says so
  const header = headerColumns(file, src.type, src.type === 'csv' ? src.delimiter : undefined);
  if (!header) return undefined;
  const at = (...rest: Path): Path => ['stages', name, ...rest];
  const declared = stage.schema?.columns;
  declared?.forEach((c, i) => {
    if (!header.includes(c.name)) {
      r.error(at('schema', 'columns', i, 'name'), 'collect.column', `column \`${c.name}\` is not in ${src.path}`, mean(c.name, header));
    }
  });
  const columns = declared ? declared.map((c) => c.name) : header;
  const label = stage.schema?.label;
  if (label && !declared && !header.includes(label)) {
    r.error(at('schema', 'label'), 'collect.label', `label \`${label}\` is not a column of ${src.path}`, mean(label, header));
  }
  // expectations' columns (declared columns are checked by the collect descriptor)
  if (!declared) {
    stage.expect?.forEach((e, i) => {
      if (e.column !== undefined && !header.includes(e.column)) {
        r.error(
          at('expect', i, 'column'),
          'collect.expect-column',
          `column \`${e.column}\` is not a column of ${src.path}`,
          mean(e.column, header),
        );
      }
    });
  }
  return { columns, header, file: src.path };
}

type Bound = (stage: string) => Record<string, { stage: string; output: string }> | undefined;

/** Checks collect stages against their local files, and the preprocess stages they feed. */
export function checkSourceColumns(r: Report, p: Pipeline, specFile: string, bound: Bound): void {
  const known = new Map<string, { columns: string[]; header: string[]; file: string; label?: string }>();
  for (const [name, stage] of Object.entries(p.stages)) {
    if (stage.type !== 'collect') continue;
    const cols = collectColumns(r, specFile, name, stage);
    if (cols) known.set(name, { ...cols, label: stage.schema?.label });
  }
  if (known.size === 0) return;
  for (const [name, stage] of Object.entries(p.stages)) {
    if (stage.type !== 'preprocess') continue;
    const from = bound(name)?.dataset;
    const src = from && known.get(from.stage);
    if (src) checkSteps(r, name, stage, src, stage.label ?? src.label);
  }
}

/** Walks the steps with the columns each one sees; stops where a step makes names it cannot know. */
function checkSteps(
  r: Report,
  name: string,
  stage: Extract<Stage, { type: 'preprocess' }>,
  src: { columns: string[]; header: string[]; file: string },
  label: string | undefined,
): void {
  const avail = new Set(src.columns);
  const prefixes: string[] = []; // oneHot's `<column>_<value>` columns
  const removedBy = new Map<string, string>(); // column → the step that took it away
  const has = (c: string) => avail.has(c) || prefixes.some((p) => c.startsWith(p));
  if (stage.label && !avail.has(stage.label)) {
    r.error(
      ['stages', name, 'label'],
      'preprocess.column',
      `label \`${stage.label}\` is not a column of its dataset`,
      mean(stage.label, [...avail]),
    );
  }
  for (const [i, step] of stage.steps.entries()) {
    if (step.type === 'reshape') return;
    if (!('columns' in step) || !step.columns) continue;
    step.columns.forEach((c, j) => {
      if (has(c)) return;
      const gone = removedBy.get(c);
      if (!gone && src.header.includes(c)) {
        const msg =
          `column \`${c}\` is in ${src.file} but not in the collect stage's schema.columns, which reads only ` + 'the columns it declares';
        return r.error(['stages', name, 'steps', i, 'columns', j], 'preprocess.column', msg, 'declare it in schema.columns');
      }
      r.error(
        ['stages', name, 'steps', i, 'columns', j],
        'preprocess.column',
        gone ? `column \`${c}\` is no longer in the dataset: ${gone} removed it` : `column \`${c}\` is not in the dataset at this step`,
        gone ? 'name it before that step, or keep it there' : mean(c, [...avail]),
      );
    });
    const remove = (c: string, why: string) => {
      if (avail.delete(c)) removedBy.set(c, `step ${i + 1} (${why})`);
    };
    if (step.type === 'select') {
      const keep = new Set([...step.columns, ...(label ? [label] : [])]);
      for (const c of [...avail]) if (!keep.has(c)) remove(c, 'select');
    } else if (step.type === 'drop') {
      for (const c of step.columns) remove(c, 'drop');
    } else if (step.type === 'oneHot') {
      for (const c of step.columns) {
        remove(c, 'oneHot');
        prefixes.push(`${c}_`);
      }
    }
  }
}

/** collect: reads a dataset from a file (csv, json, ndjson, parquet, arrow), a URL, an image folder, MNIST or a generator. */
import { suggest } from '../schema.ts';
import type { ColumnarSource, CsvSource, JsonSource } from '../types.gen.ts';
import { reportUrlCredentials, type StageKindDescriptor, type StageOf } from './descriptor.ts';
import { checkExpectations } from './expectations.ts';

type Source = StageOf<'collect'>['source'];

/** A csv/json/ndjson/parquet/arrow source: a file or URL whose content can change under the same config. */
export function isTableSource(src: Source): src is CsvSource | JsonSource | ColumnarSource {
  return src.type === 'csv' || src.type === 'json' || src.type === 'ndjson' || src.type === 'parquet' || src.type === 'arrow';
}

function leavesDir(path: string): boolean {
  return path.startsWith('/') || path.split(/[\\/]/).includes('..');
}

export const collect: StageKindDescriptor<'collect'> = {
  kind: 'collect',
  // the reference a `distribution` expectation compares with: an upstream stage's dataset
  inputs: { reference: { kind: 'dataset', required: false, onlyNamed: true } },
  outputs: (s) => ({
    dataset: 'dataset',
    rows: 'number',
    droppedRows: 'number',
    ...(s.expect?.length ? { expectations: 'object' as const } : {}),
  }),
  defaultStartToClose: '10m',
  cacheable: true,
  // The step cache (keyed by config) would serve yesterday's data: a file or URL is read every
  // time unless its content is pinned by `sha256`. Its dataset is content-addressed, so unchanged
  // data still makes every downstream stage a cache hit. (mnist and seeded synthetic data are
  // what their config says.)
  // (An image folder has no pin: it is read every time.)
  cacheOffByDefault: (s) => (isTableSource(s.source) && !s.source.sha256) || s.source.type === 'imageFolder',
  check(stage, c) {
    const src = stage.source;
    if ((isTableSource(src) || src.type === 'imageFolder') && (src.path === undefined) === (src.url === undefined)) {
      c.report.error(c.at('source'), 'collect.path-or-url', `source of stage \`${c.name}\` needs exactly one of \`path\` and \`url\``);
    }
    if ((isTableSource(src) || src.type === 'imageFolder') && src.path !== undefined && leavesDir(src.path)) {
      c.report.error(
        c.at('source', 'path'),
        'collect.path-escape',
        `path \`${src.path}\` leaves the pipeline's directory`,
        'use a path relative to the pipeline file, without `..`',
      );
    }
    stage.schema?.columns?.forEach((col, i) => {
      if (col.shape && (col.type === 'string' || col.type === 'category')) {
        c.report.error(
          c.at('schema', 'columns', i, 'shape'),
          'collect.shape-type',
          `column \`${col.name}\` is ${col.type}: only number, integer and boolean columns have a shape`,
          'use type: number',
        );
      }
    });
    if (src.type === 'imageFolder' && stage.schema?.columns) {
      c.report.error(
        c.at('schema', 'columns'),
        'collect.image-columns',
        'an imageFolder source has fixed columns (`image`, `label`)',
        'remove schema.columns; schema.label may only be `label`',
      );
    }
    const imageLabel = src.type === 'imageFolder' ? stage.schema?.label : undefined;
    if (imageLabel !== undefined && imageLabel !== 'label') {
      c.report.error(
        c.at('schema', 'label'),
        'collect.label',
        `label \`${imageLabel}\` is not a column of an imageFolder source`,
        'its label column is `label` (the class index): remove schema.label or write `label`',
      );
    }
    const cols = stage.schema?.columns?.map((col) => col.name) ?? [];
    const label = stage.schema?.label;
    if (label && cols.length && !cols.includes(label)) {
      const s = suggest(label, cols);
      c.report.error(
        c.at('schema', 'label'),
        'collect.label',
        `label \`${label}\` is not a declared column`,
        s ? `did you mean \`${s}\`?` : undefined,
      );
    }
    if (new Set(cols).size !== cols.length)
      c.report.error(c.at('schema', 'columns'), 'collect.duplicate-column', 'columns must have distinct names');
    // image sources have fixed columns; a table source's are known when declared (or, in
    // validate, from the file's header: source-columns.ts)
    const fixed = src.type === 'imageFolder' || src.type === 'mnist' ? ['image', 'label'] : cols;
    checkExpectations(
      stage.expect,
      'collect',
      c,
      fixed,
      fixed === cols ? 'a declared column' : `a column of an ${src.type} source (image, label)`,
    );
    reportUrlCredentials(c, c.at('source', 'url'), 'url' in src ? src.url : undefined);
  },
  // where a worker with its own checkout (`mlpipe worker --repo-root`) finds the same files
  compile: (_s, c) => ({ location: { baseDir: c.baseDir, ...(c.repoDir !== undefined ? { repoDir: c.repoDir } : {}) } }),
};

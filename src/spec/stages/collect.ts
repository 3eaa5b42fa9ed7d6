/** collect: reads a dataset from a file, a URL, MNIST or a generator. */
import { suggest } from '../schema.ts';
import type { CsvSource, JsonSource } from '../types.gen.ts';
import { reportUrlCredentials, type StageKindDescriptor, type StageOf } from './descriptor.ts';

type Source = StageOf<'collect'>['source'];

/** A csv/json/ndjson source: a file or URL whose content can change under the same config. */
export function isTableSource(src: Source): src is CsvSource | JsonSource {
  return src.type === 'csv' || src.type === 'json' || src.type === 'ndjson';
}

export const collect: StageKindDescriptor<'collect'> = {
  kind: 'collect',
  inputs: {},
  outputs: () => ({ dataset: 'dataset', rows: 'number', droppedRows: 'number' }),
  defaultStartToClose: '10m',
  cacheable: true,
  // The step cache (keyed by config) would serve yesterday's data: a file or URL is read every
  // time unless its content is pinned by `sha256`. Its dataset is content-addressed, so unchanged
  // data still makes every downstream stage a cache hit. (mnist and seeded synthetic data are
  // what their config says.)
  cacheOffByDefault: (s) => isTableSource(s.source) && !s.source.sha256,
  check(stage, c) {
    const src = stage.source;
    if (isTableSource(src) && (src.path === undefined) === (src.url === undefined)) {
      c.report.error(c.at('source'), 'collect.path-or-url', `source of stage \`${c.name}\` needs exactly one of \`path\` and \`url\``);
    }
    if (isTableSource(src) && src.path !== undefined && (src.path.startsWith('/') || src.path.split(/[\\/]/).includes('..'))) {
      c.report.error(
        c.at('source', 'path'),
        'collect.path-escape',
        `path \`${src.path}\` leaves the pipeline's directory`,
        'use a path relative to the pipeline file, without `..`',
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
    reportUrlCredentials(c, c.at('source', 'url'), 'url' in src ? src.url : undefined);
  },
  // where a worker with its own checkout (`mlpipe worker --repo-root`) finds the same files
  compile: (_s, c) => ({ location: { baseDir: c.baseDir, ...(c.repoDir !== undefined ? { repoDir: c.repoDir } : {}) } }),
};

// preprocess over a chunked dataset (data larger than memory): the same steps and the same
// Transform as runPreprocess (preprocess.ts), with memory that follows the chunk size. Fit
// passes read the train rows chunk by chunk (preprocess-fit-stream.ts plans how many: steps that
// read columns no earlier step of the pass changes share one); the apply pass then transforms
// every chunk and yields it, with its splits (preprocess-rows-stream.ts), for writeChunks.
import type { ChunkedDataset } from './chunked.ts';
import { type Dataset, isNumeric, size, takeRows } from './dataset.ts';
import type { DatasetStats } from './dataset-stats.ts';
import {
  applyStep,
  columnSpec,
  type FittedStep,
  type InputColumn,
  isRowStep,
  type PreprocessStep,
  requireColumn,
  type Transform,
} from './preprocess.ts';
import { emptyLike, type FitOptions, planPass, placeholder } from './preprocess-fit-stream.ts';
import { checkTrainRows, chunkSplits, rowPlan, trainRows } from './preprocess-rows-stream.ts';
import { StatsAccumulator } from './stats-stream.ts';

export interface StreamProgress {
  pass: number;
  passes: number;
  chunk: number;
  chunks: number;
  /** `pass 1/3 · chunk 12/153 · fit impute, standardize`. */
  message: string;
}

export interface StreamOptions extends FitOptions {
  /** Called before each chunk of each pass. */
  progress?: (p: StreamProgress) => void;
}

export interface PreprocessStream {
  /** The transformed chunks with their splits (the apply pass); iterate once. */
  chunks: AsyncIterable<Dataset>;
  /** Once the chunks are through: the transform and the output's statistics, label and classes. */
  finish(): { transform: Transform; stats: DatasetStats; label?: string; classes?: string[] };
  /** Passes over the data: the fit passes, then the apply pass. */
  passes: number;
}

/** The chunks in order, the next one read while the caller works on this one. */
async function* readAhead(input: ChunkedDataset): AsyncGenerator<[number, Dataset]> {
  const n = input.chunkRows.length;
  const load = (i: number) => {
    const p = input.chunk(i);
    p.catch(() => {}); // awaited below; a read the caller abandons must not become an unhandled rejection
    return p;
  };
  let next = n > 0 ? load(0) : undefined;
  for (let i = 0; i < n; i++) {
    const c = await next!;
    next = i + 1 < n ? load(i + 1) : undefined;
    yield [i, c];
  }
}

/** How many fit passes the steps from `start` on take, with stand-ins for what is not fitted yet. */
function countPasses(schema: Dataset, steps: PreprocessStep[], start: number, at: string): number {
  let n = 0;
  let s = schema;
  for (let k = start; k < steps.length; ) {
    let p: ReturnType<typeof planPass>;
    try {
      p = planPass(s, steps, k, at, { medianSample: 1 });
    } catch {
      return n + 1; // a column only the fitted steps will make: at least one more pass
    }
    for (const f of p.before) s = applyStep(s, f, at);
    if (p.members.length === 0) break;
    n++;
    for (const m of p.members) s = applyStep(s, 'acc' in m ? placeholder(s, m.step) : m.fitted, at);
    k = p.end;
  }
  return n;
}

const stepNames = (ms: { step?: PreprocessStep }[]) =>
  ms
    .map((m) => m.step?.type)
    .filter(Boolean)
    .join(', ');

/**
 * Fit the column steps on `input`'s train rows (the fit passes run before this resolves), and
 * return the apply pass to stream. Errors are DataErrors naming the stage (`at`) and, for a bad
 * row, its source file and line.
 */
export async function preprocessStream(
  input: ChunkedDataset,
  steps: PreprocessStep[],
  label: string | undefined,
  at: string,
  opts: StreamOptions = {},
): Promise<PreprocessStream> {
  const lab = label ?? input.label;
  const raw = emptyLike(input.columns, { label: lab, classes: input.classes });
  if (lab) requireColumn(raw, lab, at, 'label');
  const rows = rowPlan(steps, !!lab, at);
  checkTrainRows(rows, input.rows, at);
  const colSteps = steps.filter((s) => !isRowStep(s));
  const chunks = input.chunkRows.length;
  /** Each chunk's first row in the whole dataset (the split draws are by global row). */
  const first: number[] = [];
  let o = 0;
  for (const n of input.chunkRows) {
    first.push(o);
    o += n;
  }

  const fitted: FittedStep[] = [];
  let schema = raw;
  let passes = countPasses(schema, colSteps, 0, at) + 1;
  let pass = 0;
  for (let k = 0; k < colSteps.length; ) {
    const plan = planPass(schema, colSteps, k, at, opts);
    for (const f of plan.before) {
      fitted.push(f);
      schema = applyStep(schema, f, at);
    }
    if (plan.members.length === 0) break;
    pass++;
    const fittedBefore = [...fitted];
    const what = stepNames(plan.members as { step?: PreprocessStep }[]);
    for await (const [i, chunk] of readAhead(input)) {
      opts.progress?.({ pass, passes, chunk: i + 1, chunks, message: `pass ${pass}/${passes} · chunk ${i + 1}/${chunks} · fit ${what}` });
      let d: Dataset = { ...takeRows(chunk, trainRows(rows, first[i]!, chunk.rows)), label: lab, classes: input.classes };
      for (const f of fittedBefore) d = applyStep(d, f, at);
      for (const m of plan.members) if ('acc' in m) m.acc.add(d);
    }
    for (const m of plan.members) {
      const f = 'acc' in m ? m.acc.done() : m.fitted;
      fitted.push(f);
      schema = applyStep(schema, f, at);
    }
    k = plan.end;
    passes = pass + countPasses(schema, colSteps, k, at) + 1;
  }

  // The apply pass: every row of every chunk, with the ranges of raw tensor columns over the
  // train rows (the transform's input schema, which served values must keep).
  const stats = new StatsAccumulator();
  const ranges = new Map<string, [number, number]>();
  async function* apply(): AsyncGenerator<Dataset> {
    pass++;
    for await (const [i, chunk] of readAhead(input)) {
      opts.progress?.({ pass, passes, chunk: i + 1, chunks, message: `pass ${pass}/${passes} · chunk ${i + 1}/${chunks} · apply` });
      const splits = chunkSplits(rows, i, first[i]!, chunk.rows);
      widenRanges(ranges, chunk, splits.train!);
      let d: Dataset = { ...chunk, label: lab, classes: input.classes, splits, stats: undefined };
      for (const f of fitted) d = applyStep(d, f, at);
      stats.add(d);
      yield d;
    }
  }
  return {
    chunks: apply(),
    passes,
    finish: () => {
      const feats = schema.columns.filter((c) => c.name !== schema.label);
      const featureShape =
        feats.length === 1 && isNumeric(feats[0]!) && feats[0]!.shape.length > 0
          ? feats[0]!.shape
          : [feats.reduce((a, c) => a + (isNumeric(c) ? size(c.shape) : 1), 0)];
      const inputCols: InputColumn[] = raw.columns.map((c) => {
        const spec = columnSpec(c, []);
        const r = ranges.get(c.name);
        return r && r[0] <= r[1] ? { ...spec, range: r } : spec;
      });
      const transform: Transform = {
        format: 'mlpipe-transform/v1',
        input: inputCols,
        label: schema.label,
        classes: schema.classes,
        steps: fitted,
        featureShape,
        featureColumns: feats.map((c) => c.name),
      };
      return { transform, stats: stats.result(), label: schema.label, classes: schema.classes };
    },
  };
}

/** Smallest and largest value of each tensor column over rows `train` (NaN skipped, as in memory). */
function widenRanges(ranges: Map<string, [number, number]>, ds: Dataset, train: Uint32Array): void {
  for (const c of ds.columns) {
    if (!isNumeric(c) || c.shape.length === 0) continue;
    const r = ranges.get(c.name) ?? [Infinity, -Infinity];
    const w = size(c.shape);
    for (const t of train) {
      for (const v of c.data.subarray(t * w, t * w + w)) {
        if (v < r[0]) r[0] = v;
        if (v > r[1]) r[1] = v;
      }
    }
    ranges.set(c.name, r);
  }
}

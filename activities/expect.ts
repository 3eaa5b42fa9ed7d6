// expect: an upstream dataset checked against expectations (the rules of collect's `expect`,
// src/ml/data/expectations.ts), after preprocess, on a batch prediction or anywhere a pipeline
// needs a gate on data. A failed `error` rule fails the stage naming the column, the rule, the
// observed value and up to five source rows; the dataset is passed on unchanged otherwise.
import type { JsonValue, StageActivityInput, StageResult } from '../src/core/plan.ts';
import { splitIndices, takeRows } from '../src/ml/data/dataset.ts';
import { evaluateExpectations, failureMessage } from '../src/ml/data/expectations.ts';
import { updateRunReport } from '../src/ml/report/report.ts';
import type { HeartbeatDetails } from '../src/temporal/progress.ts';
import { invalid, mapError, readDataset, requireInput, type StageEnv, stageConfig, stageEnv, where, withHeartbeats } from './lib/stage.ts';

export async function expectCore(input: StageActivityInput, env: StageEnv): Promise<StageResult> {
  const cfg = stageConfig(input, 'expect');
  const at = where(input);
  try {
    const beat: HeartbeatDetails = { progress: { stage: input.stage, phase: 'expect', message: 'reading the dataset' } };
    return await withHeartbeats(env, beat, async () => {
      const ref = requireInput(input, 'dataset', 'dataset');
      const all = await readDataset(env.store, ref);
      const split = cfg.split ?? 'all';
      let ds = all;
      if (split !== 'all') {
        try {
          ds = { ...takeRows(all, splitIndices(all, split)), stats: undefined };
        } catch (e) {
          invalid(`${at}: ${(e as Error).message}`);
        }
      }
      beat.progress = { stage: input.stage, phase: 'expect', message: `checking ${cfg.expect.length} expectations on ${ds.rows} rows` };
      env.heartbeat(beat);
      const reference = input.inputs.reference ? await readDataset(env.store, input.inputs.reference) : undefined;
      const summary = evaluateExpectations(ds, cfg.expect, reference, at);
      // the report shows the checks, a failed run's too: that is when they matter
      await updateRunReport(input.run, env.store, {
        data: { stage: input.stage, rows: ds.rows, droppedRows: 0, expectations: summary.results },
      });
      const failed = failureMessage(summary, at);
      if (failed) invalid(failed);
      const { passed, failed: f, results } = summary;
      const expectations = { passed, failed: f, results: results as unknown as JsonValue[] };
      return { outputs: { dataset: { ...ref }, rows: ds.rows, expectations } };
    });
  } catch (e) {
    return mapError(e);
  }
}

export async function expect(input: StageActivityInput): Promise<StageResult> {
  return expectCore(input, stageEnv());
}

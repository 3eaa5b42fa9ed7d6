// Runs a compiled plan's collect/preprocess/expect/train/evaluate/predict nodes in order by calling the
// activities' cores directly (no Temporal): checks that the activities read exactly what the
// compiler hands them. The Temporal path is tested by the runtime's own tests.
import { collectCore } from '../../activities/collect.ts';
import { evaluateCore } from '../../activities/evaluate.ts';
import { expectCore } from '../../activities/expect.ts';
import { predictCore } from '../../activities/predict.ts';
import { preprocessCore } from '../../activities/preprocess.ts';
import { trainCore } from '../../activities/train.ts';
import type { StageEnv } from '../../activities/lib/stage.ts';
import { compileFile } from '../../src/compiler/index.ts';
import type { ArtifactRef, StageActivityInput, StageResult } from '../../src/core/plan.ts';

const CORES = {
  collect: collectCore,
  preprocess: preprocessCore,
  train: trainCore,
  evaluate: evaluateCore,
  predict: predictCore,
  expect: expectCore,
} as const;

export async function runPlanFile(
  file: string,
  params: Record<string, string>,
  env: StageEnv,
  workflowId: string,
  onStage?: (stage: string, ms: number, r: StageResult) => void,
): Promise<Record<string, StageResult>> {
  const { plan } = await compileFile(file, { params });
  const results: Record<string, StageResult> = {};
  for (const node of plan.nodes) {
    const core = CORES[node.kind as keyof typeof CORES];
    if (!core) throw new Error(`runPlanFile: no core for stage kind ${node.kind}`);
    const inputs: Record<string, ArtifactRef> = {};
    for (const [name, b] of Object.entries(node.inputs)) inputs[name] = results[b.stage]!.outputs[b.output] as unknown as ArtifactRef;
    const input: StageActivityInput = {
      run: { workflowId, runId: 'r1', pipeline: plan.pipeline, planHash: plan.hash },
      stage: node.id,
      kind: node.kind,
      config: node.config,
      ...(node.location ? { location: node.location } : {}),
      ...(node.tunedConfig ? { tunedConfig: node.tunedConfig } : {}),
      inputs,
      params: plan.params,
    };
    const t0 = Date.now();
    results[node.id] = await core(input, env);
    onStage?.(node.id, Date.now() - t0, results[node.id]!);
  }
  return results;
}

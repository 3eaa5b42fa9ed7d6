/**
 * The stage kinds, registered in one place. Adding a kind: its descriptor here (a file in this
 * folder), its fields in schema/pipeline.schema.json (then `npm run gen:types`), its activity in
 * activities/<kind>.ts and an example in docs/examples/stages/<kind>.yaml.
 */
import type { OutputType, StageKind } from '../../core/plan.ts';
import type { Stage } from '../types.gen.ts';
import { activity } from './activity.ts';
import { collect } from './collect.ts';
import { deploy } from './deploy.ts';
import type { StageKindDescriptor } from './descriptor.ts';
import { evaluate } from './evaluate.ts';
import { expect } from './expect.ts';
import { monitor } from './monitor.ts';
import { optimize } from './optimize.ts';
import { predict } from './predict.ts';
import { preprocess } from './preprocess.ts';
import { train } from './train.ts';

export const STAGE_DESCRIPTORS: { [K in StageKind]: StageKindDescriptor<K> } = {
  collect,
  preprocess,
  train,
  evaluate,
  predict,
  optimize,
  deploy,
  monitor,
  expect,
  activity,
};

/** The descriptor of a stage's kind (its methods are called with that stage). */
export function descriptorOf(stage: Stage): StageKindDescriptor {
  // TypeScript cannot pair a stage's `type` with the descriptor of that kind (a correlated
  // union); the registry is keyed by kind, so the pair always matches.
  return STAGE_DESCRIPTORS[stage.type] as unknown as StageKindDescriptor;
}

/** A stage's outputs and their types. */
export function stageOutputs(stage: Stage): Record<string, OutputType> {
  return descriptorOf(stage).outputs(stage);
}

// A model's inference pass (dropout off, batch norm on its moving statistics) as one TensorFlow
// function: the validation pass, the evaluate stage and the model server run a whole batch in
// one native call. It reads the model's variables at every call, so it follows training.
import type * as TfModule from '@tensorflow/tfjs';
import type { TrainModelSpec } from '../model-spec.ts';
import { FunctionBuilder } from './function-def.ts';
import { declareWeights, layerGraph, unsupportedLayers } from './layers.ts';
import { Ops } from './ops.ts';
import { graphStepUnavailable, type NativeBackend } from './trainer.ts';

type Tf = typeof TfModule;
type Tensor = TfModule.Tensor;

let counter = 0;

export class GraphPredictor {
  private disposed = false;

  private constructor(
    private readonly backend: NativeBackend,
    private readonly name: string,
    private readonly weights: TfModule.LayerVariable[],
  ) {}

  /** A predictor for `model` (built from `spec`), or why its inference cannot run as a graph. */
  static create(tf: Tf, model: TfModule.LayersModel, spec: TrainModelSpec): GraphPredictor | { unsupported: string } {
    const why = graphStepUnavailable(tf) ?? unsupportedLayers(spec.model.layers);
    if (why) return { unsupported: why };
    if (model.layers.length !== spec.model.layers.length)
      return { unsupported: 'the model has a different number of layers than its spec' };
    const name = `mlpipe_forward_${process.pid}_${++counter}`;
    const g = new FunctionBuilder(name);
    const o = new Ops(g);
    const x = g.input('x', 'float32');
    const w = declareWeights(g, model, spec);
    const net = layerGraph(o, model, spec, x, { mode: 'infer', fuseLast: false, seed: null, takeWeight: w.takeWeight, stateIn: w.stateIn });
    if ('unsupported' in net) return net;
    const unused = w.unused();
    if (unused) return { unsupported: unused };
    g.output('y', 'float32', net.out);
    const backend = tf.backend() as unknown as NativeBackend;
    backend.binding.addFunctionDef!(g.encode());
    return new GraphPredictor(backend, name, [...model.trainableWeights, ...w.frozenWeights, ...w.stateWeights]);
  }

  /** The model's output for a float32 batch, as `model.apply(x, { training: false })` gives it. */
  apply(x: Tensor): Tensor {
    if (this.disposed) throw new Error('GraphPredictor: used after dispose()');
    const inputs = [x, ...this.weights.map((w) => w.read())];
    return this.backend.executeMultipleOutputs(this.name, [], inputs, 1)[0]!;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.binding.removeFunction?.(this.name);
  }
}

/** `model.apply` in inference mode through a GraphPredictor when the model compiles. */
export function inferenceFn(
  tf: Tf,
  model: TfModule.LayersModel,
  spec: TrainModelSpec | undefined,
): { apply: (x: Tensor) => Tensor; dispose: () => void; graph: boolean } {
  const p = spec?.model?.layers ? GraphPredictor.create(tf, model, spec) : null;
  if (p instanceof GraphPredictor) return { apply: (x) => p.apply(x), dispose: () => p.dispose(), graph: true };
  return { apply: (x) => model.apply(x, { training: false }) as Tensor, dispose: () => undefined, graph: false };
}

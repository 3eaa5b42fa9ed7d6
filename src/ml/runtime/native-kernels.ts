// Faster gradients on the native backend. tfjs computes relu's gradient as
// dy * cast(step(x)), and tfjs-node builds `step` from IsNan/Greater/Fill/Select: five full-size
// ops per relu. TensorFlow has one fused kernel for it, ReluGrad. On the seed LeNet at batch 32
// that composite was ~12% of a training step (docs/native-tensorflow.md).
import type * as TfModule from '@tensorflow/tfjs';

type Tf = typeof TfModule;

interface NodeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(
    name: string,
    attrs: Array<{ name: string; type: number; value: unknown }>,
    inputs: TfModule.TensorInfo[],
  ): TfModule.Tensor;
}

const RELU_GRAD = 'MlpipeNativeReluGrad';
let installed = false;

/** Register the native ReluGrad kernel and route relu's gradient through it when on 'tensorflow'. */
export function installNativeGradients(tf: Tf): void {
  if (installed) return;
  installed = true;
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as NodeBackend;
      const { dy, x } = inputs as { dy: TfModule.TensorInfo; x: TfModule.TensorInfo };
      return b.executeSingleOutput('ReluGrad', [{ name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT }], [dy, x]);
    },
  });
  const original = tf.getGradient('Relu');
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const d = dy as TfModule.Tensor;
      const [x] = saved;
      if (tf.getBackend() === 'tensorflow' && d.dtype === 'float32' && x!.dtype === 'float32') {
        return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: d, x: x! }) as TfModule.Tensor };
      }
      return original!.gradFunc(dy, saved, attrs);
    },
  });
}

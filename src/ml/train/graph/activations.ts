// Activation functions and their gradients as graph ops: TensorFlow's own kernels where it has
// them (Relu/ReluGrad, Sigmoid/SigmoidGrad, ...), the rest written out as tfjs-layers defines
// them, so both training engines compute the same thing.
import type { Activation } from '../model-spec.ts';
import type { Ref } from './function-def.ts';
import type { Ops } from './ops.ts';

/** Every activation of the spec compiles. */
export const GRAPH_ACTIVATIONS = new Set<string>([
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'softmax',
  'hardSigmoid',
  'swish',
  'mish',
  'gelu',
]);

export function activate(o: Ops, act: Activation, z: Ref): Ref {
  switch (act) {
    case 'linear':
      return z;
    case 'relu':
    case 'relu6':
    case 'elu':
    case 'selu':
    case 'softplus':
    case 'softsign':
      return o.unary(capital(act), z, 'activations');
    case 'sigmoid':
    case 'tanh':
      return o.unary(capital(act), z, 'y');
    case 'softmax':
      return o.unary('Softmax', z, 'softmax'); // logits: Softmax's input arg name
    // the rest as tfjs-layers defines them
    case 'hardSigmoid': // clip(0.2 z + 0.5, 0, 1)
      return o.binary('Minimum', o.relu(o.add(o.mul(z, o.constF([0.2])), o.constF([0.5]))), o.constF([1]), 'z');
    case 'swish': // z * sigmoid(z)
      return o.mul(z, o.unary('Sigmoid', z, 'y'));
    case 'mish': // z * tanh(softplus(z))
      return o.mul(z, o.unary('Tanh', o.unary('Softplus', z, 'activations'), 'y'));
    case 'gelu': // z * Φ(z), Φ(z) = (1 + erf(z / √2)) / 2
      return o.mul(z, o.mul(o.constF([0.5]), o.add(o.constF([1]), o.unary('Erf', o.mul(z, o.constF([Math.SQRT1_2])), 'y'))));
    default:
      throw new Error(`activation ${act} has no graph form`);
  }
}

/** d(loss)/dz from d(loss)/da, with TensorFlow's fused gradient kernels. */
export function activationGrad(o: Ops, act: Activation, da: Ref, z: Ref, a: Ref): Ref {
  switch (act) {
    case 'linear':
      return da;
    case 'relu':
      return o.binary('ReluGrad', da, a, 'backprops');
    case 'relu6':
      return o.binary('Relu6Grad', da, z, 'backprops');
    case 'elu':
      return o.binary('EluGrad', da, a, 'backprops');
    case 'selu':
      return o.binary('SeluGrad', da, a, 'backprops');
    case 'softplus':
      return o.binary('SoftplusGrad', da, z, 'backprops');
    case 'softsign':
      return o.binary('SoftsignGrad', da, z, 'backprops');
    case 'sigmoid':
      return o.binary('SigmoidGrad', a, da, 'z');
    case 'tanh':
      return o.binary('TanhGrad', a, da, 'z');
    case 'softmax':
      // (da - sum(da * a, -1)) * a
      return o.mul(o.sub(da, o.sum(o.mul(da, a), [-1], true)), a);
    case 'hardSigmoid': {
      // 0.2 inside [0, 1] (bounds included, as tfjs's clipByValue gradient), else 0
      const pre = o.add(o.mul(z, o.constF([0.2])), o.constF([0.5]));
      const inside = o.logicalAnd(o.greaterEqual(pre, o.constF([0])), o.binary('LessEqual', pre, o.constF([1]), 'z'));
      return o.mul(da, o.mul(o.cast(inside, 'bool', 'float32'), o.constF([0.2])));
    }
    case 'swish': {
      // s + z s (1 - s)
      const sg = o.unary('Sigmoid', z, 'y');
      return o.mul(da, o.add(sg, o.mul(o.mul(z, sg), o.sub(o.constF([1]), sg))));
    }
    case 'mish': {
      // tanh(sp) + z (1 - tanh(sp)^2) sigmoid(z)
      const t = o.unary('Tanh', o.unary('Softplus', z, 'activations'), 'y');
      return o.mul(da, o.add(t, o.mul(o.mul(z, o.sub(o.constF([1]), o.square(t))), o.unary('Sigmoid', z, 'y'))));
    }
    case 'gelu': {
      // Φ(z) + z φ(z), φ(z) = exp(-z²/2) / √(2π)
      const cdf = o.mul(o.constF([0.5]), o.add(o.constF([1]), o.unary('Erf', o.mul(z, o.constF([Math.SQRT1_2])), 'y')));
      const pdf = o.mul(o.exp(o.mul(o.square(z), o.constF([-0.5]))), o.constF([1 / Math.sqrt(2 * Math.PI)]));
      return o.mul(da, o.add(cdf, o.mul(z, pdf)));
    }
    default:
      throw new Error(`activation ${act} has no graph gradient`);
  }
}

function capital(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

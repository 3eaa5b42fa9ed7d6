// Typed emitters for the TensorFlow ops mlpipe's graph training step uses. Each knows its op's
// attrs and output argument names (from TensorFlow's op registrations), so the step compiler
// (train-step.ts) reads like the math it implements.
import type { DType, FunctionBuilder, Ref } from './function-def.ts';

const F = { type: 'float32' } as const;
const I = { type: 'int32' } as const;

export type Padding = 'SAME' | 'VALID';

export class Ops {
  constructor(readonly g: FunctionBuilder) {}

  private one(op: string, inputs: Ref[], attrs: Parameters<FunctionBuilder['node']>[2], out = 'output', hint = op): Ref {
    return this.g.node(op, inputs, attrs, [out], hint)[0]!;
  }

  constF(values: number[], shape: number[] = values.length === 1 ? [] : [values.length]): Ref {
    return this.one('Const', [], { dtype: F, value: { tensor: { dtype: 'float32', shape, values } } });
  }
  constI(values: number[], shape: number[] = values.length === 1 ? [] : [values.length]): Ref {
    return this.one('Const', [], { dtype: I, value: { tensor: { dtype: 'int32', shape, values } } });
  }

  // element-wise, float32
  add(a: Ref, b: Ref) {
    return this.one('AddV2', [a, b], { T: F }, 'z');
  }
  sub(a: Ref, b: Ref) {
    return this.one('Sub', [a, b], { T: F }, 'z');
  }
  mul(a: Ref, b: Ref) {
    return this.one('Mul', [a, b], { T: F }, 'z');
  }
  div(a: Ref, b: Ref) {
    return this.one('RealDiv', [a, b], { T: F }, 'z');
  }
  square(a: Ref) {
    return this.one('Square', [a], { T: F }, 'y');
  }
  sqrt(a: Ref) {
    return this.one('Sqrt', [a], { T: F }, 'y');
  }
  abs(a: Ref) {
    return this.one('Abs', [a], { T: F }, 'y');
  }
  sign(a: Ref) {
    return this.one('Sign', [a], { T: F }, 'y');
  }
  neg(a: Ref) {
    return this.one('Neg', [a], { T: F }, 'y');
  }
  exp(a: Ref) {
    return this.one('Exp', [a], { T: F }, 'y');
  }
  log1p(a: Ref) {
    return this.one('Log1p', [a], { T: F }, 'y');
  }
  relu(a: Ref) {
    return this.one('Relu', [a], { T: F }, 'activations');
  }
  squaredDifference(a: Ref, b: Ref) {
    return this.one('SquaredDifference', [a, b], { T: F }, 'z');
  }
  /** Sum of a list of same-shape tensors in one kernel. */
  addN(xs: Ref[]) {
    return xs.length === 1 ? xs[0]! : this.one('AddN', xs, { T: F, N: { i: xs.length } }, 'sum');
  }

  cast(a: Ref, from: DType, to: DType) {
    return this.one('Cast', [a], { SrcT: { type: from }, DstT: { type: to }, Truncate: { b: false } }, 'y');
  }
  shape(a: Ref, t: DType = 'float32') {
    return this.one('Shape', [a], { T: { type: t }, out_type: I });
  }
  size(a: Ref, t: DType = 'float32') {
    return this.one('Size', [a], { T: { type: t }, out_type: I });
  }
  reshape(a: Ref, shape: Ref, t: DType = 'float32') {
    return this.one('Reshape', [a, shape], { T: { type: t }, Tshape: I });
  }
  gather(params: Ref, indices: Ref, t: DType) {
    return this.one('GatherV2', [params, indices, this.constI([0])], { Tparams: { type: t }, Tindices: I, Taxis: I, batch_dims: { i: 0 } });
  }
  /** Sum rows of `data` into `segments` buckets by `ids` (the gradient of a gather). */
  unsortedSegmentSum(data: Ref, ids: Ref, segments: number) {
    return this.one('UnsortedSegmentSum', [data, ids, this.constI([segments])], { T: F, Tindices: I, Tnumsegments: I });
  }
  sum(a: Ref, axes: number[], keepDims = false) {
    return this.one('Sum', [a, this.constI(axes, [axes.length])], { T: F, Tidx: I, keep_dims: { b: keepDims } });
  }
  mean(a: Ref, axes: number[], keepDims = false) {
    return this.one('Mean', [a, this.constI(axes, [axes.length])], { T: F, Tidx: I, keep_dims: { b: keepDims } });
  }
  /** Element `i` of a 1-D float tensor, as a scalar. */
  element(a: Ref, i: number) {
    return this.slice1(a, i, 'float32', true);
  }
  /** `a[i:i+1]` of a 1-D tensor, or `a[i]` with `shrink`. */
  slice1(a: Ref, i: number, t: DType, shrink: boolean) {
    return this.one('StridedSlice', [a, this.constI([i], [1]), this.constI([i + 1], [1]), this.constI([1], [1])], {
      T: { type: t },
      Index: I,
      begin_mask: { i: 0 },
      end_mask: { i: 0 },
      ellipsis_mask: { i: 0 },
      new_axis_mask: { i: 0 },
      shrink_axis_mask: { i: shrink ? 1 : 0 },
    });
  }
  argMax(a: Ref, axis: number) {
    return this.one('ArgMax', [a, this.constI([axis])], { T: F, Tidx: I, output_type: I });
  }
  equalI(a: Ref, b: Ref) {
    return this.one('Equal', [a, b], { T: I, incompatible_shape_error: { b: true } }, 'z');
  }
  lessI(a: Ref, b: Ref) {
    return this.one('Less', [a, b], { T: I }, 'z');
  }
  greater(a: Ref, b: Ref) {
    return this.one('Greater', [a, b], { T: F }, 'z');
  }
  greaterEqual(a: Ref, b: Ref) {
    return this.one('GreaterEqual', [a, b], { T: F }, 'z');
  }
  oneHot(indices: Ref, depth: number) {
    return this.one('OneHot', [indices, this.constI([depth]), this.constF([1]), this.constF([0])], { T: F, TI: I, axis: { i: -1 } });
  }

  // linear algebra and layers (NHWC)
  matMul(a: Ref, b: Ref, transposeA = false, transposeB = false) {
    return this.one('MatMul', [a, b], { T: F, transpose_a: { b: transposeA }, transpose_b: { b: transposeB } }, 'product');
  }
  biasAdd(x: Ref, b: Ref) {
    return this.one('BiasAdd', [x, b], { T: F, data_format: { s: 'NHWC' } });
  }
  biasAddGrad(dy: Ref) {
    return this.one('BiasAddGrad', [dy], { T: F, data_format: { s: 'NHWC' } });
  }
  private convAttrs(strides: [number, number], padding: Padding, dilations: [number, number]) {
    return {
      T: F,
      strides: { ints: [1, strides[0], strides[1], 1] },
      padding: { s: padding },
      dilations: { ints: [1, dilations[0], dilations[1], 1] },
      data_format: { s: 'NHWC' },
      use_cudnn_on_gpu: { b: true },
      explicit_paddings: { ints: [] },
    };
  }
  conv2d(x: Ref, w: Ref, strides: [number, number], padding: Padding, dilations: [number, number]) {
    return this.one('Conv2D', [x, w], this.convAttrs(strides, padding, dilations));
  }
  conv2dBackpropInput(inputShape: Ref, w: Ref, dy: Ref, strides: [number, number], padding: Padding, dilations: [number, number]) {
    return this.one('Conv2DBackpropInput', [inputShape, w, dy], this.convAttrs(strides, padding, dilations));
  }
  conv2dBackpropFilter(x: Ref, filterShape: Ref, dy: Ref, strides: [number, number], padding: Padding, dilations: [number, number]) {
    return this.one('Conv2DBackpropFilter', [x, filterShape, dy], this.convAttrs(strides, padding, dilations));
  }
  private poolAttrs(size: [number, number], strides: [number, number], padding: Padding) {
    return {
      T: F,
      ksize: { ints: [1, size[0], size[1], 1] },
      strides: { ints: [1, strides[0], strides[1], 1] },
      padding: { s: padding },
      data_format: { s: 'NHWC' },
    };
  }
  maxPool(x: Ref, size: [number, number], strides: [number, number], padding: Padding) {
    return this.one('MaxPool', [x], { ...this.poolAttrs(size, strides, padding), explicit_paddings: { ints: [] } });
  }
  maxPoolGrad(x: Ref, y: Ref, dy: Ref, size: [number, number], strides: [number, number], padding: Padding) {
    return this.one('MaxPoolGrad', [x, y, dy], { ...this.poolAttrs(size, strides, padding), explicit_paddings: { ints: [] } });
  }
  avgPool(x: Ref, size: [number, number], strides: [number, number], padding: Padding) {
    return this.one('AvgPool', [x], this.poolAttrs(size, strides, padding));
  }
  avgPoolGrad(inputShape: Ref, dy: Ref, size: [number, number], strides: [number, number], padding: Padding) {
    return this.one('AvgPoolGrad', [inputShape, dy], this.poolAttrs(size, strides, padding));
  }

  // activations and their gradients (TensorFlow's fused gradient kernels)
  unary(op: string, x: Ref, out: string) {
    return this.one(op, [x], { T: F }, out);
  }
  binary(op: string, a: Ref, b: Ref, out: string) {
    return this.one(op, [a, b], { T: F }, out);
  }
  logicalAnd(a: Ref, b: Ref) {
    return this.one('LogicalAnd', [a, b], {}, 'z');
  }

  /** [B, C] logits, int32 [B] labels → per-sample loss [B] and d(loss)/d(logits) [B, C]. */
  sparseSoftmaxCrossEntropy(logits: Ref, labels: Ref): [Ref, Ref] {
    const [loss, backprop] = this.g.node('SparseSoftmaxCrossEntropyWithLogits', [logits, labels], { T: F, Tlabels: I }, [
      'loss',
      'backprop',
    ]);
    return [loss!, backprop!];
  }
  /** [B, C] logits, [B, C] label distributions → per-sample loss [B] and its gradient. */
  softmaxCrossEntropy(logits: Ref, labels: Ref): [Ref, Ref] {
    const [loss, backprop] = this.g.node('SoftmaxCrossEntropyWithLogits', [logits, labels], { T: F }, ['loss', 'backprop']);
    return [loss!, backprop!];
  }
  /** Training-mode batch norm over the last axis of NHWC `x`: [y, batchMean, batchVar (Bessel-corrected), r1, r2, r3]. */
  fusedBatchNorm(x: Ref, scale: Ref, offset: Ref, epsilon: number): Ref[] {
    const empty = this.constF([], [0]);
    return this.g.node(
      'FusedBatchNormV3',
      [x, scale, offset, empty, empty],
      { T: F, U: F, epsilon: { f: epsilon }, exponential_avg_factor: { f: 1 }, data_format: { s: 'NHWC' }, is_training: { b: true } },
      ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
    );
  }
  /** Inference-mode batch norm with given (moving) mean and variance. */
  fusedBatchNormInfer(x: Ref, scale: Ref, offset: Ref, mean: Ref, variance: Ref, epsilon: number): Ref {
    return this.g.node(
      'FusedBatchNormV3',
      [x, scale, offset, mean, variance],
      { T: F, U: F, epsilon: { f: epsilon }, exponential_avg_factor: { f: 1 }, data_format: { s: 'NHWC' }, is_training: { b: false } },
      ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
    )[0]!;
  }
  /** Gradients of fusedBatchNorm: [dx, dScale, dOffset]. */
  fusedBatchNormGrad(dy: Ref, x: Ref, scale: Ref, reserve: Ref[], epsilon: number): Ref[] {
    return this.g
      .node(
        'FusedBatchNormGradV3',
        [dy, x, scale, reserve[0]!, reserve[1]!, reserve[2]!],
        { T: F, U: F, epsilon: { f: epsilon }, data_format: { s: 'NHWC' }, is_training: { b: true } },
        ['x_backprop', 'scale_backprop', 'offset_backprop', 'reserve_space_4', 'reserve_space_5'],
      )
      .slice(0, 3);
  }
  // lists along an axis (recurrent layers unroll over time with these)
  unpack(x: Ref, count: number, axis: number) {
    return this.g.nodeList('Unpack', [x], { T: F, num: { i: count }, axis: { i: axis } }, 'output', count);
  }
  pack(xs: Ref[], axis: number) {
    return this.one('Pack', xs, { T: F, N: { i: xs.length }, axis: { i: axis } });
  }
  split(x: Ref, count: number, axis: number) {
    return this.g.nodeList('Split', [this.constI([axis]), x], { T: F, num_split: { i: count } }, 'output', count);
  }
  splitSizes(x: Ref, sizes: number[], axis: number) {
    return this.g.nodeList(
      'SplitV',
      [x, this.constI(sizes, [sizes.length]), this.constI([axis])],
      { T: F, Tlen: I, num_split: { i: sizes.length } },
      'output',
      sizes.length,
    );
  }
  concat(xs: Ref[], axis: number) {
    return this.one('ConcatV2', [...xs, this.constI([axis])], { T: F, N: { i: xs.length }, Tidx: I });
  }
  zerosLike(x: Ref) {
    return this.one('ZerosLike', [x], { T: F }, 'y');
  }
  statelessUniform(shape: Ref, seed: Ref) {
    return this.one('StatelessRandomUniform', [shape, seed], { dtype: F, T: I, Tseed: I });
  }
  addI(a: Ref, b: Ref) {
    return this.one('AddV2', [a, b], { T: I }, 'z');
  }
  /** The int32 shape [batch of `x`, ...rest]. */
  batchShape(x: Ref, rest: number[]) {
    const b = this.slice1(this.shape(x), 0, 'int32', false);
    return this.one('ConcatV2', [b, this.constI(rest, [rest.length]), this.constI([0])], { T: I, N: { i: 2 }, Tidx: I });
  }
  /** An inverted-dropout mask of `shape`: 1 / (1 - rate) where kept, 0 where dropped. */
  dropoutMask(shape: Ref, seed: Ref, rate: number) {
    const keep = this.cast(this.greaterEqual(this.statelessUniform(shape, seed), this.constF([rate])), 'bool', 'float32');
    return this.mul(keep, this.constF([1 / (1 - rate)]));
  }
}

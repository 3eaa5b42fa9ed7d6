// Model and checkpoint artifacts, both bundles (src/artifacts/bundle.ts):
// - model: the tfjs model.json fields (modelTopology, weightSpecs, format, …) in the header and
//   the weights as the one binary part (byte-identical to tfjs's weights.bin), plus what a
//   server needs to use it (output kind, loss, classes, feature shape, backend);
// - checkpoint: everything fit.ts needs to resume (weights, optimizer slots, next epoch,
//   early-stopping state), the history so far and the data-order seed.
import type * as TfModule from '@tensorflow/tfjs';
import { decodeBundle, encodeBundle } from '../../artifacts/bundle.ts';
import { type BackendInfo, getTf } from '../runtime/backend.ts';
import type { EpochLogs, NamedArray, TrainingState } from './fit.ts';
import { toProbabilities, type OutputKind } from './model.ts';
import type { TrainModelSpec } from './model-spec.ts';

export interface ModelMeta {
  outputKind: OutputKind;
  loss: TrainModelSpec['loss'];
  /** Class names (index = class id) for classifiers whose labels were encoded from text. */
  classes?: string[];
  /** Number of classes for classifiers. */
  numClasses?: number;
  featureShape: number[];
  backend?: BackendInfo;
  spec: TrainModelSpec;
}

interface ModelHeader {
  format: 'mlpipe-model/v1';
  /** The fields of tfjs's model.json, less weightsManifest paths (the weights are part 0). */
  modelJson: {
    modelTopology: unknown;
    weightSpecs: TfModule.io.WeightsManifestEntry[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
  };
  meta: ModelMeta;
}

function concat(w: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (!w) return new Uint8Array();
  if (!Array.isArray(w)) return new Uint8Array(w);
  const out = new Uint8Array(w.reduce((a, b) => a + b.byteLength, 0));
  let o = 0;
  for (const b of w) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

export async function encodeModel(model: TfModule.LayersModel, meta: ModelMeta): Promise<Buffer> {
  const tf = getTf();
  let saved: TfModule.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('tfjs did not hand over the model artifacts');
  const header: ModelHeader = {
    format: 'mlpipe-model/v1',
    modelJson: {
      modelTopology: saved.modelTopology,
      weightSpecs: saved.weightSpecs ?? [],
      format: saved.format,
      generatedBy: saved.generatedBy,
      convertedBy: saved.convertedBy ?? null,
    },
    meta,
  };
  return encodeBundle(header, [concat(saved.weightData)]);
}

export interface DecodedModel {
  meta: ModelMeta;
  /** tfjs model.json (with a `weights.bin` manifest) and the weights file, for `mlpipe artifacts get`. */
  modelJson: Record<string, unknown>;
  weights: Uint8Array;
}

export function decodeModel(buf: Buffer): DecodedModel {
  const { header, buffers } = decodeBundle<ModelHeader>(buf);
  if (header.format !== 'mlpipe-model/v1') throw new Error(`not a model artifact (format ${String(header.format)})`);
  const weights = buffers[0] ?? new Uint8Array();
  const modelJson = {
    ...header.modelJson,
    weightsManifest: [{ paths: ['weights.bin'], weights: header.modelJson.weightSpecs }],
  };
  delete (modelJson as { weightSpecs?: unknown }).weightSpecs;
  return { meta: header.meta, modelJson, weights };
}

/** A tfjs LayersModel from a model artifact's bytes. */
export async function loadModel(buf: Buffer): Promise<{ model: TfModule.LayersModel; meta: ModelMeta }> {
  const tf = getTf();
  const { header, buffers } = decodeBundle<ModelHeader>(buf);
  if (header.format !== 'mlpipe-model/v1') throw new Error(`not a model artifact (format ${String(header.format)})`);
  const w = buffers[0] ?? new Uint8Array();
  const weightData = w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) as ArrayBuffer;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: header.modelJson.modelTopology as TfModule.io.ModelArtifacts['modelTopology'],
      weightSpecs: header.modelJson.weightSpecs,
      weightData,
    }),
  );
  return { model, meta: header.meta };
}

export interface CheckpointHeader {
  format: 'mlpipe-checkpoint/v1';
  workflowId: string;
  stage: string;
  /** Epochs completed (= state.nextEpoch). */
  epoch: number;
  epochs: number;
  /** Seed of the data order, so a resumed run is reproducible too. */
  seed: number;
  /** Hash of the stage's resolved config and input digests: a rerun resumes only from its own. */
  fingerprint?: string;
  history: Array<{ epoch: number; logs: EpochLogs }>;
  nextEpoch: number;
  best?: TrainingState['best'];
  weights: Omit<NamedArray, 'data'>[];
  optimizer: Omit<NamedArray, 'data'>[];
  savedAt: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  state: TrainingState;
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function encodeCheckpoint(
  state: TrainingState,
  info: Omit<CheckpointHeader, 'format' | 'nextEpoch' | 'best' | 'weights' | 'optimizer' | 'savedAt' | 'epoch'>,
): Buffer {
  const strip = ({ name, shape, dtype }: NamedArray) => ({ name, shape, dtype });
  const header: CheckpointHeader = {
    format: 'mlpipe-checkpoint/v1',
    ...info,
    epoch: state.nextEpoch,
    nextEpoch: state.nextEpoch,
    best: state.best,
    weights: state.weights.map(strip),
    optimizer: state.optimizer.map(strip),
    savedAt: new Date().toISOString(),
  };
  return encodeBundle(
    header,
    [...state.weights, ...state.optimizer].map((a) => bytesOf(a.data)),
  );
}

export function decodeCheckpoint(buf: Buffer): Checkpoint {
  const { header, buffers } = decodeBundle<CheckpointHeader>(buf);
  if (header.format !== 'mlpipe-checkpoint/v1') throw new Error(`not a checkpoint (format ${String(header.format)})`);
  const arr = (spec: Omit<NamedArray, 'data'>, i: number): NamedArray => {
    const b = buffers[i]!;
    const data =
      spec.dtype === 'int32'
        ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4)
        : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    return { ...spec, data };
  };
  const nw = header.weights.length;
  return {
    header,
    state: {
      nextEpoch: header.nextEpoch,
      weights: header.weights.map((w, i) => arr(w, i)),
      optimizer: header.optimizer.map((w, i) => arr(w, nw + i)),
      ...(header.best ? { best: header.best } : {}),
    },
  };
}

export interface Predictions {
  /** Predicted class ids (classifiers) or values (regression). */
  yPred: Float64Array;
  /** Class probabilities [n][k] (k ≥ 2), or the positive class's probability for a 1-unit binary model. */
  scores?: number[][] | Float64Array;
}

/**
 * Run a loaded model over features (e.g. from applyTransform) in batches: class ids and
 * probabilities for classifiers, values for regressors. Used by evaluate and the model server.
 */
export function predict(
  model: TfModule.LayersModel,
  meta: ModelMeta,
  x: { data: Float32Array; shape: number[] },
  batch = 512,
  /** The model's inference pass (e.g. a GraphPredictor's); default model.predict. */
  forward: (x: TfModule.Tensor) => TfModule.Tensor = (t) => model.predict(t) as TfModule.Tensor,
): Predictions {
  const tf = getTf();
  const n = x.shape[0]!;
  const width = x.data.length / n;
  const classification = meta.outputKind !== 'values';
  const yPred = new Float64Array(n);
  const rows: number[][] = [];
  const pos = new Float64Array(n);
  let units = 1;
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    const out = tf.tidy(() => {
      const xb = tf.tensor(x.data.subarray(s * width, (s + b) * width), [b, ...x.shape.slice(1)]);
      const raw = forward(xb);
      return classification ? toProbabilities(raw, meta.outputKind, meta.loss) : raw;
    });
    units = out.shape.at(-1) ?? 1;
    const v = out.dataSync();
    out.dispose();
    for (let i = 0; i < b; i++) {
      const r = Array.from(v.subarray(i * units, (i + 1) * units), Number);
      if (!classification) yPred[s + i] = r[0]!;
      else if (units === 1) {
        pos[s + i] = r[0]!;
        yPred[s + i] = r[0]! >= 0.5 ? 1 : 0;
      } else {
        let best = 0;
        for (let c = 1; c < units; c++) if (r[c]! > r[best]!) best = c;
        yPred[s + i] = best;
        rows.push(r);
      }
    }
  }
  if (!classification) return { yPred };
  return { yPred, scores: units === 1 ? pos : rows };
}

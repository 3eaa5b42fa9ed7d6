// TensorFlow Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest), as a client of
// tensorflow_model_server sees it. Every served version has two signatures over the same inputs
// (one named input per raw column the model uses):
//   serving_default  one output: `probabilities` [k] for a classifier, `value` for a regressor,
//                    so predictions are bare arrays/numbers, as from an exported Keras model
//   predict          every output: probabilities, class_id and label (objects per row)
// Row format {"instances": [...]}: an object per row keyed by input name; with one input, the
// value itself; with several scalar inputs, a list in the signature's input order (an mlpipe
// convenience: TF Serving allows lists only for one input). Columnar {"inputs": ...} likewise.
// String inputs also take TF Serving's {"b64": "..."}. :classify and :regress (tf.Example
// signatures) are not exported: they answer 400 pointing at :predict, as TF Serving does for a
// model without such a signature.
import { outputValue, type RowResult, type Signature, type TensorSpec } from '../signature.ts';

export const DEFAULT_SIGNATURE = 'serving_default';
export const SIGNATURES = [DEFAULT_SIGNATURE, 'predict'] as const;

export class TfError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface TfRequest {
  rows: Record<string, unknown>[];
  columnar: boolean;
  outputs: TensorSpec[];
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function outputsOf(sig: Signature, name: string | undefined): TensorSpec[] {
  const n = name === undefined || name === '' ? DEFAULT_SIGNATURE : name;
  if (n === 'predict') return sig.outputs;
  if (n === DEFAULT_SIGNATURE) return sig.outputs.slice(0, 1);
  throw new TfError(400, `Serving signature name: ${JSON.stringify(n)} not found in signature def (signatures: ${SIGNATURES.join(', ')})`);
}

/** One row (instance) as column values. */
function row(sig: Signature, x: unknown, i: number): Record<string, unknown> {
  const names = sig.inputs.map((s) => s.name);
  if (isObject(x) && (names.length !== 1 || names[0]! in x)) return x;
  if (names.length === 1) return { [names[0]!]: x };
  if (Array.isArray(x) && x.length === names.length) return Object.fromEntries(names.map((n, k) => [n, x[k]]));
  throw new TfError(
    400,
    `instances[${i}]: send an object keyed by input name (${names.join(', ')}), or a list ` +
      `of ${names.length} values in that order; got ${JSON.stringify(x)?.slice(0, 80)}`,
  );
}

/** TF Serving's binary strings, {"b64": "..."}, as text for the string inputs. */
function decodeB64(rows: Record<string, unknown>[], sig: Signature): Record<string, unknown>[] {
  const strings = sig.inputs.filter((s) => s.dtype === 'string').map((s) => s.name);
  for (const r of rows) {
    for (const n of strings) {
      const v = r[n];
      if (isObject(v) && typeof v.b64 === 'string') r[n] = Buffer.from(v.b64, 'base64').toString('utf8');
    }
  }
  return rows;
}

/** A predict body → rows; throws TfError(400) on a body TF Serving would refuse. */
export function parsePredict(body: unknown, sig: Signature): TfRequest {
  const r = parseBody(body, sig);
  return { ...r, rows: decodeB64(r.rows, sig) };
}

function parseBody(body: unknown, sig: Signature): TfRequest {
  if (!isObject(body)) throw new TfError(400, 'JSON Value not an object: send {"instances": [...]} or {"inputs": ...}');
  if (body.signature_name !== undefined && typeof body.signature_name !== 'string')
    throw new TfError(400, '"signature_name" must be a string');
  const outputs = outputsOf(sig, body.signature_name as string | undefined);
  const has = (k: string) => body[k] !== undefined;
  if (has('instances') === has('inputs')) throw new TfError(400, "Missing 'inputs' or 'instances' key: send exactly one of them");
  if (has('instances')) {
    if (!Array.isArray(body.instances)) throw new TfError(400, "Expecting 'instances' to be an list/array");
    return { rows: body.instances.map((x, i) => row(sig, x, i)), columnar: false, outputs };
  }
  const inp = body.inputs;
  if (isObject(inp) && !(sig.inputs.length === 1 && !(sig.inputs[0]!.name in inp))) {
    // Named columns: every one a list with one entry per row.
    let n: number | undefined;
    for (const [k, v] of Object.entries(inp)) {
      if (!Array.isArray(v)) throw new TfError(400, `inputs.${k}: send a list with one value per row`);
      if (n !== undefined && v.length !== n)
        throw new TfError(400, `inputs.${k} has ${v.length} values, another input has ${n}: every input needs the same batch size`);
      n = v.length;
    }
    const cols = Object.entries(inp) as [string, unknown[]][];
    return { rows: Array.from({ length: n ?? 0 }, (_, i) => Object.fromEntries(cols.map(([k, v]) => [k, v[i]]))), columnar: true, outputs };
  }
  if (!Array.isArray(inp))
    throw new TfError(400, `'inputs': send a list of rows or an object of named input lists (${sig.inputs.map((s) => s.name).join(', ')})`);
  return { rows: inp.map((x, i) => row(sig, x, i)), columnar: true, outputs };
}

/** {"predictions": [...]} (row format) or {"outputs": ...} (columnar), as TF Serving answers. */
export function predictResponse(req: TfRequest, results: RowResult[]): unknown {
  const { outputs } = req;
  if (!req.columnar) {
    const predictions = results.map((r) =>
      outputs.length === 1 ? outputValue(r, outputs[0]!.name) : Object.fromEntries(outputs.map((o) => [o.name, outputValue(r, o.name)])),
    );
    return { predictions };
  }
  if (outputs.length === 1) return { outputs: results.map((r) => outputValue(r, outputs[0]!.name)) };
  return { outputs: Object.fromEntries(outputs.map((o) => [o.name, results.map((r) => outputValue(r, o.name))])) };
}

export interface VersionState {
  number: number;
  state: 'AVAILABLE' | 'LOADING' | 'END';
  error?: string;
}

/** GET /v1/models/<m>[/versions/<n>]: the model status shape. */
export function statusResponse(versions: VersionState[]): unknown {
  return {
    model_version_status: versions.map((v) => ({
      version: String(v.number),
      state: v.state,
      status: v.error ? { error_code: 'UNAVAILABLE', error_message: v.error } : { error_code: 'OK', error_message: '' },
    })),
  };
}

const TF_DTYPE = { float: 'DT_FLOAT', int64: 'DT_INT64', bool: 'DT_BOOL', string: 'DT_STRING' } as const;

function tensorInfo(t: TensorSpec, prefix: string): unknown {
  return {
    dtype: TF_DTYPE[t.dtype],
    tensor_shape: { dim: [-1, ...t.shape].map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
    name: `${prefix}_${t.name}:0`,
  };
}

/** GET /v1/models/<m>[/versions/<n>]/metadata: the signature_def shape. */
export function metadataResponse(model: string, version: number, sig: Signature): unknown {
  const def = (outputs: TensorSpec[], prefix: string) => ({
    inputs: Object.fromEntries(sig.inputs.map((t) => [t.name, tensorInfo(t, `${prefix}`)])),
    outputs: Object.fromEntries(outputs.map((t) => [t.name, tensorInfo(t, 'StatefulPartitionedCall')])),
    method_name: 'tensorflow/serving/predict',
  });
  return {
    model_spec: { name: model, signature_name: '', version: String(version) },
    metadata: {
      signature_def: {
        signature_def: { serving_default: def(sig.outputs.slice(0, 1), 'serving_default'), predict: def(sig.outputs, 'predict') },
      },
    },
  };
}

// KServe's Open Inference Protocol v2 over HTTP (the REST half of
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/), with Triton's
// binary tensor extension, which tritonclient uses by default: a JSON header of
// `Inference-Header-Content-Length` bytes, then each binary tensor's raw little-endian bytes
// (BYTES: a 4-byte length before each element). Inputs are the columns the model uses, one
// tensor each ([-1] per scalar column, [-1, ...shape] per tensor column); outputs as in
// ../signature.ts: probabilities FP32 [-1, k], class_id INT64 [-1], label BYTES [-1], or value FP32 [-1].
import { readFileSync } from 'node:fs';
import { type DType, outputValue, type RowResult, type Signature, type TensorSpec } from '../signature.ts';

export class V2Error extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
export const serverMetadata = { name: 'mlpipe', version: pkg.version, extensions: ['binary_tensor_data'] };

const DATATYPE: Record<DType, string> = { float: 'FP32', int64: 'INT64', bool: 'BOOL', string: 'BYTES' };
const NUMERIC = ['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64'];
const ACCEPTS: Record<DType, string[]> = { float: NUMERIC, int64: NUMERIC, bool: ['BOOL'], string: ['BYTES'] };

const tensorMeta = (t: TensorSpec) => ({ name: t.name, datatype: DATATYPE[t.dtype], shape: [-1, ...t.shape] });

/** GET /v2/models/<m>[/versions/<v>]. */
export function modelMetadata(name: string, versions: string[], sig: Signature): unknown {
  return { name, versions, platform: 'mlpipe', inputs: sig.inputs.map(tensorMeta), outputs: sig.outputs.map(tensorMeta) };
}

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: { binary_data_size?: number };
  data?: unknown;
}

export interface InferRequest {
  id?: string;
  rows: Record<string, unknown>[];
  outputs: { spec: TensorSpec; binary: boolean }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const bad = (msg: string) => new V2Error(400, msg);

/** Values of a binary tensor (little-endian, as numpy writes them). */
function fromBinary(buf: Buffer, datatype: string, name: string): unknown[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const width: Record<string, number> = {
    BOOL: 1,
    INT8: 1,
    UINT8: 1,
    INT16: 2,
    UINT16: 2,
    INT32: 4,
    UINT32: 4,
    FP32: 4,
    INT64: 8,
    UINT64: 8,
    FP64: 8,
  };
  if (datatype === 'BYTES') {
    const out: string[] = [];
    for (let o = 0; o < buf.length; ) {
      if (o + 4 > buf.length) throw bad(`input '${name}': BYTES data ends inside an element's 4-byte length`);
      const n = dv.getUint32(o, true);
      if (o + 4 + n > buf.length) throw bad(`input '${name}': a BYTES element of ${n} bytes runs past the data`);
      out.push(buf.subarray(o + 4, o + 4 + n).toString('utf8'));
      o += 4 + n;
    }
    return out;
  }
  const w = width[datatype];
  if (!w) throw bad(`input '${name}': datatype ${datatype} is not supported in binary form (use ${Object.keys(width).join(', ')}, BYTES)`);
  if (buf.length % w) throw bad(`input '${name}': ${buf.length} bytes is not a whole number of ${datatype} values`);
  const get: (o: number) => unknown = {
    BOOL: (o: number) => dv.getUint8(o) !== 0,
    INT8: (o: number) => dv.getInt8(o),
    UINT8: (o: number) => dv.getUint8(o),
    INT16: (o: number) => dv.getInt16(o, true),
    UINT16: (o: number) => dv.getUint16(o, true),
    INT32: (o: number) => dv.getInt32(o, true),
    UINT32: (o: number) => dv.getUint32(o, true),
    FP32: (o: number) => dv.getFloat32(o, true),
    INT64: (o: number) => Number(dv.getBigInt64(o, true)),
    UINT64: (o: number) => Number(dv.getBigUint64(o, true)),
    FP64: (o: number) => dv.getFloat64(o, true),
  }[datatype]!;
  return Array.from({ length: buf.length / w }, (_, i) => get(i * w));
}

/** A POST .../infer body (JSON, or JSON header + binary tensors) → rows of column values. */
export function parseInfer(body: Buffer, headerLength: string | undefined, sig: Signature): InferRequest {
  let json: Buffer = body;
  let rest: Buffer = Buffer.alloc(0);
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isInteger(n) || n < 0 || n > body.length)
      throw bad(`Inference-Header-Content-Length ${headerLength} does not fit the ${body.length}-byte body`);
    json = body.subarray(0, n);
    rest = body.subarray(n);
  }
  let req: unknown;
  try {
    req = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw bad(`request header is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(req) || !Array.isArray(req.inputs) || req.inputs.length === 0)
    throw bad('send {"inputs": [{"name", "shape", "datatype", "data"}, ...]}');
  const specs = new Map(sig.inputs.map((s) => [s.name, s]));
  const names = sig.inputs.map((s) => s.name).join(', ');
  let batch: number | undefined;
  let offset = 0;
  const columns: [string, unknown[], number][] = [];
  for (const x of req.inputs as InferInput[]) {
    if (!isObject(x) || typeof x.name !== 'string') throw bad('every input needs a "name"');
    const spec = specs.get(x.name);
    if (!spec) throw bad(`unexpected inference input '${x.name}' for model (inputs: ${names})`);
    if (!Array.isArray(x.shape) || !x.shape.length || x.shape.some((d) => !Number.isInteger(d) || d < 0))
      throw bad(`input '${x.name}': "shape" must be a list of sizes, the batch size first`);
    if (!ACCEPTS[spec.dtype].includes(x.datatype))
      throw bad(`input '${x.name}': datatype ${x.datatype} where ${DATATYPE[spec.dtype]} belongs`);
    const width = spec.shape.reduce((a, b) => a * b, 1);
    const n = x.shape[0]!;
    const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
    if (per !== width)
      throw bad(
        `input '${x.name}': shape [${x.shape.join(', ')}] has ${per} values per row; the model ` +
          `takes ${width} (shape [-1${spec.shape.map((d) => `, ${d}`).join('')}])`,
      );
    if (batch !== undefined && n !== batch) throw bad(`input '${x.name}' has batch size ${n}, another input ${batch}`);
    batch = n;
    let values: unknown[];
    const size = x.parameters?.binary_data_size;
    if (size !== undefined) {
      if (!Number.isInteger(size) || size < 0 || offset + size > rest.length)
        throw bad(`input '${x.name}': binary_data_size ${size} runs past the body's binary part (${rest.length} bytes)`);
      values = fromBinary(rest.subarray(offset, offset + size), x.datatype, x.name);
      offset += size;
    } else {
      if (!Array.isArray(x.data)) throw bad(`input '${x.name}': "data" must be a list (flat or nested), or the tensor sent in binary`);
      values = (x.data as unknown[]).flat(Infinity);
    }
    if (values.length !== n * width)
      throw bad(`input '${x.name}': shape [${x.shape.join(', ')}] needs ${n * width} values, got ${values.length}`);
    columns.push([x.name, values, spec.shape.length ? width : 0]);
  }
  const rows = Array.from({ length: batch ?? 0 }, (_, i) =>
    Object.fromEntries(columns.map(([name, v, w]) => [name, w ? v.slice(i * w, (i + 1) * w) : v[i]])),
  );
  // Outputs: all (binary when the request asks, as tritonclient does by default) or those named.
  const params = isObject(req.parameters) ? req.parameters : {};
  const allBinary = params.binary_data_output === true;
  const byName = new Map(sig.outputs.map((o) => [o.name, o]));
  let outputs = sig.outputs.map((spec) => ({ spec, binary: allBinary }));
  if (req.outputs !== undefined) {
    if (!Array.isArray(req.outputs)) throw bad('"outputs" must be a list of {"name"}');
    outputs = (req.outputs as { name?: unknown; parameters?: { binary_data?: unknown } }[]).map((o) => {
      const spec = byName.get(String(o?.name));
      if (!spec)
        throw bad(`unexpected inference output '${String(o?.name)}' for model (outputs: ${sig.outputs.map((s) => s.name).join(', ')})`);
      const b = o.parameters?.binary_data;
      return { spec, binary: b === undefined ? allBinary : b === true };
    });
  }
  return { id: typeof req.id === 'string' ? req.id : undefined, rows, outputs };
}

function toBinary(values: unknown[], datatype: string): Buffer {
  if (datatype === 'BYTES') {
    return Buffer.concat(
      values.map((v) => {
        const s = Buffer.from(String(v), 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(s.length);
        return Buffer.concat([len, s]);
      }),
    );
  }
  if (datatype === 'INT64') return Buffer.from(BigInt64Array.from(values, (v) => BigInt(v as number)).buffer);
  return Buffer.from(Float32Array.from(values as number[]).buffer);
}

/** The response: JSON, or (some output binary) the JSON header length and the bytes after it. */
export function inferResponse(
  model: string,
  version: string,
  req: InferRequest,
  results: RowResult[],
): { body: Buffer; headerLength?: number } {
  const binaries: Buffer[] = [];
  const outputs = req.outputs.map(({ spec, binary }) => {
    const values = results.flatMap((r) => outputValue(r, spec.name));
    const datatype = DATATYPE[spec.dtype];
    const out = { name: spec.name, datatype, shape: [results.length, ...spec.shape] };
    if (!binary) return { ...out, data: values };
    const b = toBinary(values, datatype);
    binaries.push(b);
    return { ...out, parameters: { binary_data_size: b.length } };
  });
  const header = Buffer.from(
    JSON.stringify({ model_name: model, model_version: version, ...(req.id !== undefined ? { id: req.id } : {}), outputs }),
    'utf8',
  );
  if (!binaries.length) return { body: header };
  return { body: Buffer.concat([header, ...binaries]), headerLength: header.length };
}

/**
 * Issue 13, the protocol adapters without a model: which raw columns a transform really uses, TF
 * Serving's row/columnar bodies for one-input, many-input and regression signatures, and KServe
 * v2's binary tensor extension both ways (as tritonclient writes and reads it).
 */
import { describe, expect, it } from 'vitest';
import type { ModelMeta } from '../../src/ml/train/checkpoint.ts';
import type { Transform } from '../../src/ml/data/preprocess.ts';
import { inferResponse, parseInfer, V2Error } from '../../src/serving/protocols/kserve-v2.ts';
import { metadataResponse, parsePredict, predictResponse, TfError } from '../../src/serving/protocols/tfserving.ts';
import { servingTransform, signatureOf, usedColumns } from '../../src/serving/signature.ts';

const transform = (input: Transform['input'], steps: Transform['steps'], label = 'y'): Transform => ({
  format: 'mlpipe-transform/v1',
  input: [...input, { name: label, type: 'integer' }],
  label,
  steps,
  featureShape: [1],
  featureColumns: [],
});
const classifier = { outputKind: 'probabilities', numClasses: 3, classes: ['a', 'b', 'c'] } as unknown as ModelMeta;
const regressor = { outputKind: 'values' } as unknown as ModelMeta;

describe('used columns', () => {
  it('follows drop, select, oneHot and reshape; the label is never an input', () => {
    const cols: Transform['input'] = [
      { name: 'id', type: 'string' },
      { name: 'x', type: 'number' },
      { name: 'color', type: 'category' },
    ];
    expect([
      ...usedColumns(
        transform(cols, [
          { type: 'drop', columns: ['id'] },
          { type: 'oneHot', columns: { color: ['r', 'g'] } },
        ]),
      ),
    ]).toEqual(['x', 'color']);
    expect([...usedColumns(transform(cols, [{ type: 'select', columns: ['x'] }]))]).toEqual(['x']);
    // Both one-hot columns dropped: color no longer reaches a feature.
    expect([
      ...usedColumns(
        transform(cols, [
          { type: 'oneHot', columns: { color: ['r', 'g'] } },
          { type: 'drop', columns: ['color_r', 'color_g', 'id'] },
        ]),
      ),
    ]).toEqual(['x']);
    expect([
      ...usedColumns(
        transform(cols, [
          { type: 'drop', columns: ['color', 'id'] },
          { type: 'reshape', shape: [1], name: 'x' },
        ]),
      ),
    ]).toEqual(['x']);
    const t = servingTransform(transform(cols, [{ type: 'drop', columns: ['id'] }]));
    expect(t.input.map((c) => c.name)).toEqual(['x', 'color', 'y']);
    expect(signatureOf(t, classifier).inputs).toEqual([
      { name: 'x', dtype: 'float', shape: [] },
      { name: 'color', dtype: 'string', shape: [] },
    ]);
  });
});

describe('TF Serving bodies', () => {
  const two = signatureOf(
    transform(
      [
        { name: 'a', type: 'number' },
        { name: 'b', type: 'integer' },
      ],
      [],
    ),
    classifier,
  );
  const image = signatureOf(transform([{ name: 'image', type: 'number', shape: [2, 2, 1] }], []), classifier);
  const reg = signatureOf(transform([{ name: 'a', type: 'number' }], []), regressor);
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TfError);
      return `${(e as TfError).status} ${(e as Error).message}`;
    }
    throw new Error('no error');
  };

  it('rows: objects by name, lists in input order; one input: the value itself', () => {
    expect(parsePredict({ instances: [[1, 2], { a: 3, b: 4 }] }, two).rows).toEqual([
      { a: 1, b: 2 },
      { a: 3, b: 4 },
    ]);
    const img = [
      [[0], [1]],
      [[1], [0]],
    ];
    expect(parsePredict({ instances: [img, { image: img }] }, image).rows).toEqual([{ image: img }, { image: img }]);
    expect(parsePredict({ inputs: [img] }, image)).toMatchObject({ rows: [{ image: img }], columnar: true });
    expect(parsePredict({ inputs: { image: [img, img] } }, image).rows).toHaveLength(2);
    expect(parsePredict({ inputs: { a: [1, 2], b: [3, 4] } }, two).rows).toEqual([
      { a: 1, b: 3 },
      { a: 2, b: 4 },
    ]);
    const text = signatureOf(
      transform(
        [
          { name: 'x', type: 'number' },
          { name: 'color', type: 'category' },
        ],
        [],
      ),
      classifier,
    );
    expect(parsePredict({ instances: [[1, { b64: Buffer.from('grün').toString('base64') }]] }, text).rows).toEqual([
      { x: 1, color: 'grün' },
    ]);
  });

  it('refuses what TF Serving refuses, with 400 and a reason', () => {
    expect(err(() => parsePredict({ instances: [[1]] }, two))).toMatch(
      /^400 instances\[0\]: send an object keyed by input name \(a, b\), or a list of 2 values/,
    );
    expect(err(() => parsePredict({ inputs: { a: [1, 2], b: [3] } }, two))).toMatch(/^400 inputs.b has 1 values, another input has 2/);
    expect(err(() => parsePredict({ instances: [], inputs: [] }, two))).toMatch(/^400 Missing 'inputs' or 'instances' key/);
    expect(err(() => parsePredict([1], two))).toMatch(/^400 JSON Value not an object/);
    expect(err(() => parsePredict({ signature_name: 'classify', instances: [] }, two))).toMatch(
      /^400 Serving signature name: "classify" not found in signature def \(signatures: serving_default, predict\)/,
    );
  });

  it('answers: predictions (rows) or outputs (columns); a regressor gives plain values', () => {
    const req = parsePredict({ instances: [[1], [2]] }, reg);
    expect(predictResponse(req, [{ value: 1.5 }, { value: 2.5 }])).toEqual({ predictions: [1.5, 2.5] });
    const full = parsePredict({ signature_name: 'predict', inputs: { a: [1], b: [2] } }, two);
    expect(predictResponse(full, [{ probabilities: [0.1, 0.2, 0.7], classId: 2, label: 'c' }])).toEqual({
      outputs: { probabilities: [[0.1, 0.2, 0.7]], class_id: [2], label: ['c'] },
    });
    const def = (metadataResponse('m', 7, two) as any).metadata.signature_def.signature_def.serving_default;
    expect(def.inputs.b.dtype).toBe('DT_INT64');
    expect(Object.keys(def.outputs)).toEqual(['probabilities']);
  });
});

describe('KServe v2 binary tensors', () => {
  const sig = signatureOf(
    transform(
      [
        { name: 'x', type: 'number' },
        { name: 'n', type: 'integer' },
        { name: 'color', type: 'category' },
      ],
      [],
    ),
    classifier,
  );
  const bytes = (...s: string[]) =>
    Buffer.concat(
      s.map((x) => {
        const b = Buffer.from(x);
        const l = Buffer.alloc(4);
        l.writeUInt32LE(b.length);
        return Buffer.concat([l, b]);
      }),
    );

  it('reads a JSON header and binary FP32/INT64/BYTES inputs as tritonclient sends them', () => {
    const x = Buffer.from(new Float32Array([0.5, -1.25]).buffer);
    const n = Buffer.from(new BigInt64Array([3n, 4n]).buffer);
    const c = bytes('red', 'grün');
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: x.length } },
          { name: 'n', shape: [2, 1], datatype: 'INT64', parameters: { binary_data_size: n.length } },
          { name: 'color', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: c.length } },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const r = parseInfer(Buffer.concat([header, x, n, c]), String(header.length), sig);
    expect(r.rows).toEqual([
      { x: 0.5, n: 3, color: 'red' },
      { x: -1.25, n: 4, color: 'grün' },
    ]);
    expect(r.outputs.every((o) => o.binary)).toBe(true);

    const out = inferResponse('m', '1', r, [
      { probabilities: [0.25, 0.75, 0], classId: 1, label: 'b' },
      { probabilities: [1, 0, 0], classId: 0, label: 'a' },
    ]);
    const json = JSON.parse(out.body.subarray(0, out.headerLength).toString());
    expect(json.outputs.map((o: any) => [o.name, o.datatype, o.shape, o.parameters.binary_data_size])).toEqual([
      ['probabilities', 'FP32', [2, 3], 24],
      ['class_id', 'INT64', [2], 16],
      ['label', 'BYTES', [2], 10],
    ]);
    const rest = out.body.subarray(out.headerLength);
    expect(Array.from(new Float32Array(rest.buffer.slice(rest.byteOffset, rest.byteOffset + 24)))).toEqual([0.25, 0.75, 0, 1, 0, 0]);
    expect(Array.from(new BigInt64Array(rest.buffer.slice(rest.byteOffset + 24, rest.byteOffset + 40)))).toEqual([1n, 0n]);
    expect(rest.subarray(40)).toEqual(bytes('b', 'a'));
  });

  it('refuses a body that does not add up, with 400 and a reason', () => {
    const msg = (body: object, extra = Buffer.alloc(0), len?: number) => {
      const h = Buffer.from(JSON.stringify(body));
      try {
        parseInfer(Buffer.concat([h, extra]), len === undefined && !extra.length ? undefined : String(len ?? h.length), sig);
      } catch (e) {
        expect(e).toBeInstanceOf(V2Error);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(msg({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', parameters: { binary_data_size: 8 } }] }, Buffer.alloc(4))).toBe(
      "input 'x': binary_data_size 8 runs past the body's binary part (4 bytes)",
    );
    expect(msg({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] })).toMatch(
      /^input 'x': shape \[1, 2\] has 2 values per row; the model takes 1/,
    );
    expect(
      msg({
        inputs: [
          { name: 'x', shape: [2], datatype: 'FP32', data: [1, 2] },
          { name: 'n', shape: [1], datatype: 'INT64', data: [1] },
        ],
      }),
    ).toBe("input 'n' has batch size 1, another input 2");
    expect(msg({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{ name: 'logits' }] })).toMatch(
      /^unexpected inference output 'logits'/,
    );
    expect(msg({ inputs: [] })).toMatch(/^send \{"inputs"/);
  });
});

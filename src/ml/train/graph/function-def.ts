// Build a TensorFlow FunctionDef (tensorflow/core/framework/function.proto) in TypeScript and
// serialise it, so a whole computation can be registered with the eager context
// (binding.addFunctionDef) and run as one graph: TensorFlow then optimises it (grappler: op
// fusion, oneDNN layouts) and runs independent ops in parallel, instead of one eager op call per
// node. Only the proto fields mlpipe writes are declared here.
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package tensorflow;
enum DataType { DT_INVALID = 0; DT_FLOAT = 1; DT_DOUBLE = 2; DT_INT32 = 3; DT_INT64 = 9; DT_BOOL = 10; }
message TensorShapeProto { message Dim { int64 size = 1; string name = 2; } repeated Dim dim = 2; bool unknown_rank = 3; }
message TensorProto {
  DataType dtype = 1; TensorShapeProto tensor_shape = 2; int32 version_number = 3; bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true]; repeated int32 int_val = 7 [packed = true];
}
message NameAttrList { string name = 1; map<string, AttrValue> attr = 2; }
message AttrValue {
  message ListValue {
    repeated bytes s = 2; repeated int64 i = 3 [packed = true]; repeated float f = 4 [packed = true];
    repeated bool b = 5 [packed = true]; repeated DataType type = 6 [packed = true]; repeated TensorShapeProto shape = 7;
  }
  oneof value {
    ListValue list = 1; bytes s = 2; int64 i = 3; float f = 4; bool b = 5; DataType type = 6;
    TensorShapeProto shape = 7; TensorProto tensor = 8; string placeholder = 9; NameAttrList func = 10;
  }
}
message NodeDef { string name = 1; string op = 2; repeated string input = 3; string device = 4; map<string, AttrValue> attr = 5; }
message OpDef {
  message ArgDef { string name = 1; string description = 2; DataType type = 3; string type_attr = 4; }
  string name = 1; repeated ArgDef input_arg = 2; repeated ArgDef output_arg = 3; bool is_stateful = 17;
}
message FunctionDef {
  OpDef signature = 1; repeated NodeDef node_def = 3; map<string, string> ret = 4; map<string, AttrValue> attr = 5;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const FunctionDefType = root.lookupType('tensorflow.FunctionDef');

export type DType = 'float32' | 'int32' | 'bool';
const DT: Record<DType, number> = { float32: 1, int32: 3, bool: 10 };

/** An attribute value, tagged by its TensorFlow attr type. */
export type Attr =
  | { type: DType }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { s: string }
  | { ints: number[] }
  | { tensor: { dtype: DType; shape: number[]; values: number[] } };

/** A tensor inside the function: a function argument's name or "node:output_arg:index". */
export type Ref = string & { readonly __ref: unique symbol };

function encodeAttr(a: Attr): Record<string, unknown> {
  if ('type' in a) return { type: DT[a.type] };
  if ('i' in a) return { i: a.i };
  if ('f' in a) return { f: a.f };
  if ('b' in a) return { b: a.b };
  if ('s' in a) return { s: Buffer.from(a.s) };
  if ('ints' in a) return { list: { i: a.ints } };
  const t = a.tensor;
  const proto: Record<string, unknown> = { dtype: DT[t.dtype], tensor_shape: { dim: t.shape.map((size) => ({ size })) } };
  if (t.dtype === 'float32') proto.float_val = t.values;
  else proto.int_val = t.values;
  return { tensor: proto };
}

/**
 * Accumulates a function's signature and nodes. Node names are made unique by the builder; ops'
 * output argument names must match TensorFlow's OpDefs (src/ml/train/graph/ops.ts knows them).
 */
export class FunctionBuilder {
  private readonly inputs: Array<{ name: string; type: number; dtype: DType }> = [];
  private readonly outputs: Array<{ name: string; type: number; dtype: DType; ref: Ref }> = [];
  private readonly nodes: Array<Record<string, unknown>> = [];
  private readonly used = new Set<string>();

  constructor(readonly name: string) {}

  private unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_]/g, '_').replace(/^[^A-Za-z]/, 'n$&');
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Declare the next input argument (the order is the order of executeOp's inputs). */
  input(name: string, dtype: DType): Ref {
    const arg = this.unique(name.toLowerCase());
    this.inputs.push({ name: arg, type: DT[dtype], dtype });
    return arg as Ref;
  }

  /** Add a node; returns refs to its outputs, named by the op's output argument names. */
  node(op: string, inputs: Ref[], attrs: Record<string, Attr>, outputArgs: string[] = ['output'], hint = op): Ref[] {
    const name = this.unique(hint);
    const attr: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(attrs)) attr[k] = encodeAttr(v);
    this.nodes.push({ name, op, input: inputs, attr });
    return outputArgs.map((o) => `${name}:${o}:0` as Ref);
  }

  /** Add a node whose output `outputArg` is a list of `count` tensors; returns a ref to each. */
  nodeList(op: string, inputs: Ref[], attrs: Record<string, Attr>, outputArg: string, count: number, hint = op): Ref[] {
    const [first] = this.node(op, inputs, attrs, [outputArg], hint);
    const base = first!.slice(0, -2);
    return Array.from({ length: count }, (_, i) => `${base}:${i}` as Ref);
  }

  /** Declare the next output (the order is the order of executeOp's outputs). */
  output(name: string, dtype: DType, ref: Ref): void {
    this.outputs.push({ name: this.unique(`out_${name.toLowerCase()}`), type: DT[dtype], dtype, ref });
  }

  /** The signature so far: input and output argument names and dtypes, in order (to call this function from another). */
  get signature(): { inputs: Array<{ name: string; dtype: DType }>; outputs: Array<{ name: string; dtype: DType }> } {
    return {
      inputs: this.inputs.map(({ name, dtype }) => ({ name, dtype })),
      outputs: this.outputs.map(({ name, dtype }) => ({ name, dtype })),
    };
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  get outputCount(): number {
    return this.outputs.length;
  }

  encode(): Uint8Array {
    const def = {
      signature: {
        name: this.name,
        input_arg: this.inputs.map((a) => ({ name: a.name, type: a.type })),
        output_arg: this.outputs.map((a) => ({ name: a.name, type: a.type })),
      },
      node_def: this.nodes,
      ret: Object.fromEntries(this.outputs.map((o) => [o.name, o.ref])),
    };
    const msg = FunctionDefType.fromObject(def);
    return FunctionDefType.encode(msg).finish();
  }
}

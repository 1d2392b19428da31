/**
 * Builds ONNX models in memory and serializes them as ModelProto bytes that
 * onnxruntime can load directly, without the onnx Python package.
 *
 * Initializers are stored as raw little-endian bytes viewed straight from the
 * caller's typed arrays (no per-element encoding, no copy until the final
 * buffer), so networks with tens of megabytes of weights serialize in one pass.
 * Typed arrays handed to the graph must not be mutated before `toModelBytes`.
 */
import { ProtoWriter } from './protobuf';

export type ElemType = 'float32' | 'uint8' | 'int32' | 'int64' | 'bool';

/** TensorProto.DataType codes. */
export const ONNX_ELEM_TYPE: Readonly<Record<ElemType, number>> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
};

/** A dimension: a fixed size, or a symbolic name that onnxruntime resolves per run. */
export type Dim = number | string;

export type TensorData = Float32Array | Uint8Array | Int32Array | BigInt64Array;

export interface TensorInit {
  readonly dtype: ElemType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export type TaggedAttribute =
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'ints'; readonly value: readonly (number | bigint)[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorInit };

/**
 * A node attribute. Plain numbers and number arrays are INT / INTS (and must be
 * integers) because ONNX checks attribute types strictly and a float written as
 * an int is rejected; floats therefore go through `attr.float` / `attr.floats`.
 */
export type AttributeValue = number | readonly number[] | string | TaggedAttribute;

export type Attributes = Readonly<Record<string, AttributeValue>>;

export const attr = {
  int: (value: number | bigint): TaggedAttribute => ({ kind: 'int', value }),
  ints: (value: readonly (number | bigint)[]): TaggedAttribute => ({ kind: 'ints', value }),
  float: (value: number): TaggedAttribute => ({ kind: 'float', value }),
  floats: (value: readonly number[]): TaggedAttribute => ({ kind: 'floats', value }),
  string: (value: string): TaggedAttribute => ({ kind: 'string', value }),
  tensor: (value: TensorInit): TaggedAttribute => ({ kind: 'tensor', value }),
};

export interface NodeOptions {
  /** Node name; defaults to `<opType>_<index>`. */
  readonly name?: string;
  /** Operator domain; it must be one of the graph's opsets. Defaults to the ONNX domain. */
  readonly domain?: string;
}

export interface GraphOptions {
  readonly graphName?: string;
  /** Opset versions by domain; the default ONNX domain is '' and defaults to 17. */
  readonly opsets?: Readonly<Record<string, number>>;
}

const IR_VERSION = 8;
const PRODUCER_NAME = 'fastsam-vscode';
const DEFAULT_OPSET = 17;

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Makes a tensor value. Typed arrays fix the element type (a Uint8Array may be
 * declared 'bool'); plain number arrays need `dtype` and are converted.
 */
export function tensor(values: TensorData | readonly number[], dims: readonly number[], dtype?: ElemType): TensorInit {
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid tensor dim ${d} in [${dims.join(', ')}]`);
  }
  const data = Array.isArray(values) ? fromNumbers(values, dtype) : (values as TensorData);
  const inferred = elemTypeOf(data);
  const type = dtype ?? inferred;
  if (type !== inferred && !(type === 'bool' && inferred === 'uint8')) {
    throw new TypeError(`tensor data is ${inferred} but dtype ${type} was requested`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`tensor of dims [${dims.join(', ')}] needs ${count} values, got ${data.length}`);
  }
  return { dtype: type, dims: [...dims], data };
}

function fromNumbers(values: readonly number[], dtype: ElemType | undefined): TensorData {
  if (dtype === undefined) throw new TypeError('a plain number array needs an explicit dtype');
  if (dtype === 'float32') return Float32Array.from(values);
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${dtype} tensor value ${v} is not an integer`);
  }
  switch (dtype) {
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
  }
}

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

function littleEndianBytes(data: TensorData): Uint8Array {
  if (!HOST_LITTLE_ENDIAN && data.BYTES_PER_ELEMENT > 1) {
    throw new Error('serializing multi-byte tensors requires a little-endian host');
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function toTagged(name: string, value: AttributeValue): TaggedAttribute {
  if (typeof value === 'string') return { kind: 'string', value };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`attribute ${name}=${value} is not an integer; use attr.float() for FLOAT attributes`);
    }
    return { kind: 'int', value };
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      if (!Number.isSafeInteger(v)) {
        throw new TypeError(`attribute ${name} has non-integer ${v}; use attr.floats() for FLOATS attributes`);
      }
    }
    return { kind: 'ints', value };
  }
  return value as TaggedAttribute;
}

function writeTensor(w: ProtoWriter, t: TensorInit, name?: string): void {
  w.packedVarintField(1, t.dims);
  w.varintField(2, ONNX_ELEM_TYPE[t.dtype]);
  if (name !== undefined) w.stringField(8, name);
  w.bytesField(9, littleEndianBytes(t.data));
}

function writeAttribute(w: ProtoWriter, name: string, a: TaggedAttribute): void {
  w.stringField(1, name);
  switch (a.kind) {
    case 'float':
      w.floatField(2, a.value);
      break;
    case 'int':
      w.varintField(3, a.value);
      break;
    case 'string':
      w.stringField(4, a.value);
      break;
    case 'tensor':
      w.messageField(5, (t) => writeTensor(t, a.value));
      break;
    case 'floats':
      w.packedFloatField(7, a.value);
      break;
    case 'ints':
      w.packedVarintField(8, a.value);
      break;
  }
  w.varintField(20, ATTRIBUTE_TYPE[a.kind]);
}

interface ValueInfo {
  readonly name: string;
  readonly dtype: ElemType;
  readonly shape: readonly Dim[];
}

interface NodeRecord {
  readonly opType: string;
  readonly name: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly (readonly [string, TaggedAttribute])[];
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.stringField(1, v.name);
  w.messageField(2, (type) =>
    type.messageField(1, (tt) => {
      tt.varintField(1, ONNX_ELEM_TYPE[v.dtype]);
      tt.messageField(2, (shape) => {
        for (const d of v.shape) {
          shape.messageField(1, (dim) => (typeof d === 'number' ? dim.varintField(1, d) : dim.stringField(2, d)));
        }
      });
    }),
  );
}

function writeNode(w: ProtoWriter, n: NodeRecord): void {
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [name, a] of n.attributes) w.messageField(5, (aw) => writeAttribute(aw, name, a));
  if (n.domain !== '') w.stringField(7, n.domain);
}

function checkShape(name: string, shape: readonly Dim[]): void {
  for (const d of shape) {
    const ok = typeof d === 'number' ? Number.isSafeInteger(d) && d >= 0 : d.length > 0;
    if (!ok) throw new RangeError(`invalid dim ${JSON.stringify(d)} in the shape of ${name}`);
  }
}

export class OnnxGraph {
  private readonly graphName: string;
  private readonly opsets: ReadonlyMap<string, number>;
  private readonly values = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: { readonly name: string; readonly tensor: TensorInit }[] = [];
  private readonly nodes: NodeRecord[] = [];

  constructor(options: GraphOptions = {}) {
    this.graphName = options.graphName ?? 'main';
    this.opsets = new Map(Object.entries({ '': DEFAULT_OPSET, ...options.opsets }));
  }

  /** Declares a graph input under exactly `name`, and returns it. */
  input(name: string, dtype: ElemType, shape: readonly Dim[]): string {
    if (this.values.has(name)) throw new Error(`value name ${name} is already used`);
    checkShape(name, shape);
    this.values.add(name);
    this.inputs.push({ name, dtype, shape: [...shape] });
    return name;
  }

  /**
   * Adds an initializer and returns its value name: `name`, or `name_<n>` when
   * `name` is taken. Typed arrays fix the element type (a Uint8Array may be
   * declared 'bool'); number arrays need `dtype`.
   */
  constant(name: string, values: TensorData, dims: readonly number[], dtype?: ElemType): string;
  constant(name: string, values: readonly number[], dims: readonly number[], dtype: ElemType): string;
  constant(name: string, values: TensorData | readonly number[], dims: readonly number[], dtype?: ElemType): string {
    const t = tensor(values, dims, dtype);
    const unique = this.freshName(name);
    this.values.add(unique);
    this.initializers.push({ name: unique, tensor: t });
    return unique;
  }

  /** Adds a single-output node and returns the name of its output. */
  node(opType: string, inputs: readonly string[], attrs: Attributes = {}, options: NodeOptions = {}): string {
    return this.addNode(opType, inputs, 1, attrs, options)[0];
  }

  /** Adds a node with several outputs: `outputs` is their count, or their exact names. */
  nodeMulti(
    opType: string,
    inputs: readonly string[],
    outputs: number | readonly string[],
    attrs: Attributes = {},
    options: NodeOptions = {},
  ): string[] {
    // A copy: the node keeps its own list of outputs.
    return [...this.addNode(opType, inputs, outputs, attrs, options)];
  }

  /**
   * Declares `value` as a graph output named `name`; a value of another name is
   * routed through an Identity node so callers need not name outputs up front.
   */
  output(value: string, name: string, dtype: ElemType, shape: readonly Dim[]): void {
    if (!this.values.has(value)) throw new Error(`unknown value ${value}`);
    if (this.outputs.some((o) => o.name === name)) throw new Error(`output ${name} is already declared`);
    checkShape(name, shape);
    if (value !== name) {
      if (this.values.has(name)) throw new Error(`value name ${name} is already used`);
      this.addNode('Identity', [value], [name], {}, {});
    }
    this.outputs.push({ name, dtype, shape: [...shape] });
  }

  /** Serializes the graph as an ONNX ModelProto. */
  toModelBytes(): Uint8Array {
    if (this.outputs.length === 0) throw new Error('the graph has no outputs');
    const w = new ProtoWriter();
    w.varintField(1, IR_VERSION);
    w.stringField(2, PRODUCER_NAME);
    w.messageField(7, (g) => {
      for (const n of this.nodes) g.messageField(1, (nw) => writeNode(nw, n));
      g.stringField(2, this.graphName);
      for (const i of this.initializers) g.messageField(5, (tw) => writeTensor(tw, i.tensor, i.name));
      for (const v of this.inputs) g.messageField(11, (vw) => writeValueInfo(vw, v));
      for (const v of this.outputs) g.messageField(12, (vw) => writeValueInfo(vw, v));
    });
    for (const [domain, version] of this.opsets) {
      w.messageField(8, (o) => {
        if (domain !== '') o.stringField(1, domain);
        o.varintField(2, version);
      });
    }
    return w.finish();
  }

  private addNode(
    opType: string,
    inputs: readonly string[],
    outputs: number | readonly string[],
    attrs: Attributes,
    options: NodeOptions,
  ): string[] {
    const domain = options.domain ?? '';
    if (!this.opsets.has(domain)) throw new Error(`${opType}: domain '${domain}' has no opset import`);
    // An empty name marks an omitted optional input.
    for (const i of inputs) {
      if (i !== '' && !this.values.has(i)) throw new Error(`${opType}: unknown input ${i}`);
    }
    const base = options.name ?? `${opType}_${this.nodes.length}`;
    let name = base;
    for (let n = 1; this.nodeNames.has(name); n++) name = `${base}_${n}`;

    let outputNames: string[];
    if (typeof outputs === 'number') {
      if (!Number.isInteger(outputs) || outputs < 1) throw new RangeError(`${opType}: invalid output count ${outputs}`);
      outputNames =
        outputs === 1
          ? [this.freshName(name)]
          : Array.from({ length: outputs }, (_, i) => this.freshName(`${name}_${i}`));
    } else {
      outputNames = [...outputs];
      for (const o of outputNames) {
        if (this.values.has(o)) throw new Error(`${opType}: value name ${o} is already used`);
      }
      if (new Set(outputNames).size !== outputNames.length) throw new Error(`${opType}: duplicate output names`);
    }
    const attributes = Object.entries(attrs).map(([k, v]) => [k, toTagged(k, v)] as const);

    this.nodeNames.add(name);
    for (const o of outputNames) this.values.add(o);
    this.nodes.push({ opType, name, domain, inputs: [...inputs], outputs: outputNames, attributes });
    return outputNames;
  }

  private freshName(base: string): string {
    if (base.length === 0) throw new Error('value names must not be empty');
    let name = base;
    for (let n = 1; this.values.has(name); n++) name = `${base}_${n}`;
    return name;
  }
}

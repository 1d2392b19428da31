/**
 * YOLOv8-seg (the FastSAM network) as an ONNX graph, from an Ultralytics model
 * yaml and a source of weights: a checkpoint's (see ./convert) or seeded random
 * ones for benchmarks (./yolov8-random).
 *
 * The graph has the input and outputs of Ultralytics' ONNX export:
 *   images  [1, 3, H, W]          float32 RGB 0..1
 *   output0 [1, 4 + nc + 32, A]   cx, cy, w, h (input pixels), class scores, mask coefficients
 *   output1 [1, 32, H/4, W/4]     mask prototypes
 * H and W are symbolic unless a fixed `imageSize` is asked for; anchors and
 * strides are then computed in the graph from the feature map shapes, which
 * onnxruntime folds to constants when the input is fixed.
 *
 * Layers follow Ultralytics' modules: Conv = Conv2d + BatchNorm2d (folded into
 * the convolution here, as their exporter's fuse() does) + SiLU; C2f; SPPF;
 * nearest ×2 Upsample; Concat; and the Segment head (box branch with DFL decoding,
 * class branch with sigmoid, mask-coefficient branch, Proto).
 */
import { OnnxGraph } from '../onnx/graph';

/** Ultralytics' compound scaling: repeats × depth, channels × width capped at maxChannels. */
export interface Yolov8Scale {
  readonly depth: number;
  readonly width: number;
  readonly maxChannels: number;
}

/** FastSAM-s is trained at yolov8s-seg scale, FastSAM-x at yolov8x-seg scale. */
export const FASTSAM_SCALES: Readonly<Record<'s' | 'x', Yolov8Scale>> = {
  s: { depth: 0.33, width: 0.5, maxChannels: 1024 },
  x: { depth: 1.0, width: 1.25, maxChannels: 512 },
};

/** A model yaml as Ultralytics stores it in `model.yaml` (only the keys this builder reads). */
export interface Yolov8Yaml {
  readonly nc: number;
  readonly scales?: Readonly<Record<string, readonly number[]>>;
  readonly scale?: string;
  readonly depth_multiple?: number;
  readonly width_multiple?: number;
  readonly activation?: string;
  /** [from, repeats, module, args] */
  readonly backbone: readonly (readonly unknown[])[];
  readonly head: readonly (readonly unknown[])[];
}

/** The yolov8-seg layer list, as in Ultralytics' yolov8-seg.yaml, with FastSAM's single class. */
export const YOLOV8_SEG_YAML: Yolov8Yaml = {
  nc: 1,
  scales: {
    n: [0.33, 0.25, 1024],
    s: [0.33, 0.5, 1024],
    m: [0.67, 0.75, 768],
    l: [1.0, 1.0, 512],
    x: [1.0, 1.25, 512],
  },
  backbone: [
    [-1, 1, 'Conv', [64, 3, 2]], // 0 P1/2
    [-1, 1, 'Conv', [128, 3, 2]], // 1 P2/4
    [-1, 3, 'C2f', [128, true]],
    [-1, 1, 'Conv', [256, 3, 2]], // 3 P3/8
    [-1, 6, 'C2f', [256, true]],
    [-1, 1, 'Conv', [512, 3, 2]], // 5 P4/16
    [-1, 6, 'C2f', [512, true]],
    [-1, 1, 'Conv', [1024, 3, 2]], // 7 P5/32
    [-1, 3, 'C2f', [1024, true]],
    [-1, 1, 'SPPF', [1024, 5]], // 9
  ],
  head: [
    [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
    [[-1, 6], 1, 'Concat', [1]],
    [-1, 3, 'C2f', [512]], // 12
    [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]],
    [-1, 3, 'C2f', [256]], // 15 P3/8
    [-1, 1, 'Conv', [256, 3, 2]],
    [[-1, 12], 1, 'Concat', [1]],
    [-1, 3, 'C2f', [512]], // 18 P4/16
    [-1, 1, 'Conv', [512, 3, 2]],
    [[-1, 9], 1, 'Concat', [1]],
    [-1, 3, 'C2f', [1024]], // 21 P5/32
    [[15, 18, 21], 1, 'Segment', ['nc', 32, 256]],
  ],
};

/** The network input, as a `from` index. */
export const INPUT = -1;

export type Layer =
  | { readonly type: 'Conv'; readonly index: number; readonly from: number; readonly c1: number; readonly c2: number; readonly k: number; readonly s: number }
  | { readonly type: 'C2f'; readonly index: number; readonly from: number; readonly c1: number; readonly c2: number; readonly n: number; readonly shortcut: boolean; readonly hidden: number }
  | { readonly type: 'SPPF'; readonly index: number; readonly from: number; readonly c1: number; readonly c2: number; readonly k: number }
  | { readonly type: 'Upsample'; readonly index: number; readonly from: number; readonly scale: number }
  | { readonly type: 'Concat'; readonly index: number; readonly from: readonly number[] }
  | {
      readonly type: 'Segment';
      readonly index: number;
      readonly from: readonly number[];
      readonly ch: readonly number[];
      readonly nc: number;
      /** Mask coefficients (32). */
      readonly nm: number;
      /** Prototype hidden channels. */
      readonly npr: number;
      readonly regMax: number;
      /** Hidden channels of the box, class and mask-coefficient branches. */
      readonly boxChannels: number;
      readonly classChannels: number;
      readonly maskChannels: number;
    };

export interface Yolov8Architecture {
  readonly layers: readonly Layer[];
  readonly scale: Yolov8Scale;
  /** The yaml scale key used ("s", "x"), or null for depth/width multiples. */
  readonly scaleName: string | null;
  readonly head: Extract<Layer, { type: 'Segment' }>;
  /** Downsampling of each head input (8, 16, 32). */
  readonly strides: readonly number[];
}

export class ArchitectureError extends Error {
  override name = 'ArchitectureError';
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const makeDivisible = (x: number, divisor: number): number => Math.ceil(x / divisor) * divisor;

function scaleFromYaml(yaml: Yolov8Yaml, requested: string | undefined): { scale: Yolov8Scale; name: string | null } {
  const scales = yaml.scales;
  if (scales && Object.keys(scales).length > 0) {
    // Ultralytics takes yaml.scale, else the first scale listed.
    const name = requested ?? yaml.scale ?? Object.keys(scales)[0]!;
    const values = scales[name];
    if (!values || values.length < 3 || !values.every((v) => typeof v === 'number' && v > 0)) {
      throw new ArchitectureError(`the model yaml has no usable scale "${name}"`);
    }
    return { scale: { depth: values[0]!, width: values[1]!, maxChannels: values[2]! }, name };
  }
  return { scale: { depth: yaml.depth_multiple ?? 1, width: yaml.width_multiple ?? 1, maxChannels: Infinity }, name: null };
}

/** Ultralytics' yaml parsing (parse_model) for the modules a YOLOv8-seg network uses. */
export function parseYolov8SegYaml(yaml: Yolov8Yaml, options: { scale?: string } = {}): Yolov8Architecture {
  const { scale, name: scaleName } = scaleFromYaml(yaml, options.scale);
  if (yaml.activation !== undefined && yaml.activation !== null && !/SiLU/.test(String(yaml.activation))) {
    throw new ArchitectureError(`activation ${yaml.activation} is not supported (only SiLU)`);
  }
  const nc = yaml.nc;
  if (!Number.isInteger(nc) || nc < 1) throw new ArchitectureError(`nc ${nc} is not a class count`);
  const rows = [...(yaml.backbone ?? []), ...(yaml.head ?? [])];
  const layers: Layer[] = [];
  const channels: number[] = []; // output channels per layer
  const down: number[] = []; // downsampling per layer
  const channelsOf = (f: number) => (f === INPUT ? 3 : channels[f]!);
  const downOf = (f: number) => (f === INPUT ? 1 : down[f]!);
  const scaleChannels = (c: number) => (c !== nc ? makeDivisible(Math.min(c, scale.maxChannels) * scale.width, 8) : c);

  for (const [index, row] of rows.entries()) {
    if (!Array.isArray(row) || row.length !== 4) throw new ArchitectureError(`layer ${index} is not [from, repeats, module, args]`);
    const [fromRaw, repeatsRaw, moduleRaw, argsRaw] = row as [unknown, unknown, unknown, unknown];
    const at = `layer ${index} (${String(moduleRaw)})`;
    const resolve = (f: unknown): number => {
      if (typeof f !== 'number' || !Number.isInteger(f)) throw new ArchitectureError(`${at}: "from" ${String(f)} is not an index`);
      const abs = f < 0 ? index + f : f;
      if (abs < INPUT || abs >= index || (abs === INPUT && index !== 0)) throw new ArchitectureError(`${at}: "from" ${f} is out of range`);
      return abs;
    };
    const from = Array.isArray(fromRaw) ? fromRaw.map(resolve) : resolve(fromRaw);
    const single = (): number => {
      if (Array.isArray(from)) throw new ArchitectureError(`${at} takes one input`);
      return from;
    };
    if (typeof repeatsRaw !== 'number' || !Number.isInteger(repeatsRaw) || repeatsRaw < 1) throw new ArchitectureError(`${at}: bad repeat count`);
    const repeats = repeatsRaw > 1 ? Math.max(roundHalfEven(repeatsRaw * scale.depth), 1) : repeatsRaw;
    const args = (Array.isArray(argsRaw) ? argsRaw : []).map((a) => (a === 'None' ? null : a === 'nc' ? nc : a));
    const num = (i: number, fallback?: number): number => {
      const v = args[i] ?? fallback;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArchitectureError(`${at}: argument ${i} is ${String(v)}, not a number`);
      return v;
    };
    const unsupported = (what: string) => new ArchitectureError(`${at}: ${what} is not supported`);
    if (repeats !== 1 && moduleRaw !== 'C2f') throw unsupported(`repeating the module ${repeats} times`);

    let layer: Layer;
    let c2: number;
    let downsampling: number;
    switch (moduleRaw) {
      case 'Conv': {
        const f = single();
        const [k, s] = [num(1, 1), num(2, 1)];
        if ((args[3] ?? null) !== null || (args[4] ?? 1) !== 1 || (args[5] ?? 1) !== 1 || (args[6] ?? true) !== true) throw unsupported('explicit padding, groups, dilation or activation');
        c2 = scaleChannels(num(0));
        layer = { type: 'Conv', index, from: f, c1: channelsOf(f), c2, k, s };
        downsampling = downOf(f) * s;
        break;
      }
      case 'C2f': {
        const f = single();
        if ((args[2] ?? 1) !== 1 || (args[3] ?? 0.5) !== 0.5) throw unsupported('groups or an expansion other than 0.5');
        c2 = scaleChannels(num(0));
        layer = { type: 'C2f', index, from: f, c1: channelsOf(f), c2, n: repeats, shortcut: args[1] === true, hidden: Math.trunc(c2 * 0.5) };
        downsampling = downOf(f);
        break;
      }
      case 'SPPF': {
        const f = single();
        c2 = scaleChannels(num(0));
        layer = { type: 'SPPF', index, from: f, c1: channelsOf(f), c2, k: num(1, 5) };
        downsampling = downOf(f);
        break;
      }
      case 'nn.Upsample': {
        const f = single();
        const factor = num(1);
        if (args[0] !== null || (args[2] ?? 'nearest') !== 'nearest' || !Number.isInteger(factor) || factor < 1) throw unsupported('anything but an integer nearest upsample');
        c2 = channelsOf(f);
        layer = { type: 'Upsample', index, from: f, scale: factor };
        downsampling = downOf(f) / factor;
        break;
      }
      case 'Concat': {
        if (!Array.isArray(from) || (args[0] ?? 1) !== 1) throw unsupported('a Concat not along channels');
        const downs = new Set(from.map(downOf));
        if (downs.size !== 1) throw new ArchitectureError(`${at} joins maps of different resolutions`);
        c2 = from.reduce((sum, f) => sum + channelsOf(f), 0);
        layer = { type: 'Concat', index, from };
        downsampling = downOf(from[0]!);
        break;
      }
      case 'Segment': {
        if (!Array.isArray(from) || index !== rows.length - 1) throw unsupported('a Segment head that is not the last layer');
        const ch = from.map(channelsOf);
        const nm = num(1, 32);
        const npr = makeDivisible(Math.min(num(2, 256), scale.maxChannels) * scale.width, 8);
        const regMax = 16;
        layer = {
          type: 'Segment',
          index,
          from,
          ch,
          nc: num(0),
          nm,
          npr,
          regMax,
          boxChannels: Math.max(16, Math.floor(ch[0]! / 4), regMax * 4),
          classChannels: Math.max(ch[0]!, Math.min(num(0), 100)),
          maskChannels: Math.max(Math.floor(ch[0]! / 4), nm),
        };
        c2 = 0;
        downsampling = 0;
        break;
      }
      default:
        throw unsupported(`the module ${String(moduleRaw)}`);
    }
    layers.push(layer);
    channels.push(c2);
    down.push(downsampling);
  }
  const head = layers[layers.length - 1];
  if (!head || head.type !== 'Segment') throw new ArchitectureError('the model has no Segment head: it is not a segmentation model');
  const strides = head.from.map(downOf);
  if (!strides.every((s) => Number.isInteger(s) && s >= 1)) throw new ArchitectureError(`head strides [${strides}] are not integers`);
  return { layers, scale, scaleName, head, strides };
}

/** A convolution ready for ONNX: weight [cOut, cIn, k, k] (ConvTranspose: [cIn, cOut, k, k]) and bias. */
export interface ConvWeights {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/** One convolution of the network. */
export interface ConvSpec {
  /** The module's state_dict name: `model.2.m.0.cv1`, `model.22.cv2.0.2`, … */
  readonly prefix: string;
  readonly cOut: number;
  readonly cIn: number;
  readonly k: number;
  readonly stride: number;
}

/** Where the ONNX builder gets weights; implementations check shapes and say which tensor is wrong. */
export interface Yolov8Weights {
  /** An Ultralytics Conv (bias-free Conv2d + BatchNorm2d), BatchNorm folded in. */
  convBn(c: ConvSpec): ConvWeights;
  /** A plain Conv2d with bias (the last layer of each head branch). */
  conv(c: ConvSpec): ConvWeights;
  /** A ConvTranspose2d with bias, kernel = stride = k; weight [cIn, cOut, k, k]. */
  convTranspose(c: ConvSpec): ConvWeights;
  /** The DFL projection: the value of each of the regMax bins. */
  dflBins(prefix: string, regMax: number): Float32Array;
}

type SegmentLayer = Extract<Layer, { type: 'Segment' }>;

/** What the Segment head hands over: per level, the three branches' last convolutions; and the prototypes. */
interface HeadValues<T> {
  readonly boxes: readonly T[];
  readonly classes: readonly T[];
  readonly coefficients: readonly T[];
  readonly features: readonly T[];
  readonly protos: T;
}

/**
 * The operations a YOLOv8-seg forward pass is made of: the network's structure
 * (`forward`) is kept apart from how each operation becomes ONNX nodes.
 */
interface NetworkOps<T> {
  /** Ultralytics Conv (with SiLU) when `silu`, else a plain Conv2d with bias. */
  conv(x: T, c: ConvSpec, silu: boolean): T;
  convTranspose(x: T, c: ConvSpec): T;
  split(x: T, half: number, name: string): [T, T];
  add(a: T, b: T, name: string): T;
  concat(parts: readonly T[], name: string): T;
  maxPool(x: T, k: number, name: string): T;
  upsample(x: T, scale: number, name: string): T;
  head(layer: SegmentLayer, values: HeadValues<T>): void;
}

/** Ultralytics' modules, in their forward order. */
function forward<T>(arch: Yolov8Architecture, ops: NetworkOps<T>, input: T, onLayer?: (done: number, total: number) => void): void {
  const outputs: T[] = [];
  const valueOf = (f: number) => (f === INPUT ? input : outputs[f]!);
  const conv = (x: T, prefix: string, cOut: number, cIn: number, k: number, stride = 1, silu = true) => ops.conv(x, { prefix, cOut, cIn, k, stride }, silu);
  for (const layer of arch.layers) {
    const p = `model.${layer.index}`;
    switch (layer.type) {
      case 'Conv':
        outputs.push(conv(valueOf(layer.from), p, layer.c2, layer.c1, layer.k, layer.s));
        break;
      case 'C2f': {
        // cv1, split in two halves, n bottlenecks chained on the second, all concatenated, cv2.
        const c = layer.hidden;
        const parts = ops.split(conv(valueOf(layer.from), `${p}.cv1`, 2 * c, layer.c1, 1), c, `${p}/Split`) as T[];
        let last: T = parts[1]!;
        for (let i = 0; i < layer.n; i++) {
          const m = `${p}.m.${i}`;
          const t = conv(conv(last, `${m}.cv1`, c, c, 3), `${m}.cv2`, c, c, 3);
          last = layer.shortcut ? ops.add(last, t, `${m}/Add`) : t;
          parts.push(last);
        }
        outputs.push(conv(ops.concat(parts, `${p}/Concat`), `${p}.cv2`, layer.c2, (2 + layer.n) * c, 1));
        break;
      }
      case 'SPPF': {
        // cv1, three chained k×k stride-1 max pools, all four concatenated, cv2.
        const hidden = Math.floor(layer.c1 / 2);
        const parts = [conv(valueOf(layer.from), `${p}.cv1`, hidden, layer.c1, 1)];
        for (let i = 0; i < 3; i++) parts.push(ops.maxPool(parts[i]!, layer.k, `${p}/MaxPool_${i}`));
        outputs.push(conv(ops.concat(parts, `${p}/Concat`), `${p}.cv2`, layer.c2, hidden * 4, 1));
        break;
      }
      case 'Upsample':
        outputs.push(ops.upsample(valueOf(layer.from), layer.scale, `${p}/Resize`));
        break;
      case 'Concat':
        outputs.push(ops.concat(layer.from.map(valueOf), `${p}/Concat`));
        break;
      case 'Segment': {
        const features = layer.from.map(valueOf);
        // Each branch: Conv 3×3, Conv 3×3, Conv2d 1×1.
        const branch = (x: T, prefix: string, c1: number, hidden: number, cOut: number) =>
          conv(conv(conv(x, `${prefix}.0`, hidden, c1, 3), `${prefix}.1`, hidden, hidden, 3), `${prefix}.2`, cOut, hidden, 1, 1, false);
        const boxes = features.map((x, i) => branch(x, `${p}.cv2.${i}`, layer.ch[i]!, layer.boxChannels, 4 * layer.regMax));
        const classes = features.map((x, i) => branch(x, `${p}.cv3.${i}`, layer.ch[i]!, layer.classChannels, layer.nc));
        const coefficients = features.map((x, i) => branch(x, `${p}.cv4.${i}`, layer.ch[i]!, layer.maskChannels, layer.nm));
        // Proto: Conv 3×3, ConvTranspose 2×2 stride 2, Conv 3×3, Conv 1×1 to nm channels.
        const proto = `${p}.proto`;
        const hidden = conv(features[0]!, `${proto}.cv1`, layer.npr, layer.ch[0]!, 3);
        const upsampled = ops.convTranspose(hidden, { prefix: `${proto}.upsample`, cOut: layer.npr, cIn: layer.npr, k: 2, stride: 2 });
        const protos = conv(conv(upsampled, `${proto}.cv2`, layer.npr, layer.npr, 3), `${proto}.cv3`, layer.nm, layer.npr, 1);
        ops.head(layer, { boxes, classes, coefficients, features, protos });
        break;
      }
    }
    onLayer?.(layer.index + 1, arch.layers.length);
  }
}

/**
 * Rewrites a convolution's output (before SiLU) in the graph being built; the
 * random-weight calibration uses it to normalise activations in the graph.
 */
export type ConvHook = (graph: OnnxGraph, output: string, conv: ConvSpec) => string;

export interface GraphBuildOptions {
  /** Fixed input side (a multiple of the largest stride), or null / undefined for a dynamic input. */
  readonly imageSize?: number | null;
  /** Called after each layer is added, for progress. */
  readonly onLayer?: (done: number, total: number) => void;
  readonly convHook?: ConvHook;
}

export interface BuiltGraph {
  readonly graph: OnnxGraph;
  /** Values in the graph's initializers (after BatchNorm folding). */
  readonly parameterCount: number;
}

export function buildYolov8SegGraph(arch: Yolov8Architecture, weights: Yolov8Weights, options: GraphBuildOptions = {}): BuiltGraph {
  const size = options.imageSize ?? null;
  const maxStride = Math.max(...arch.strides);
  if (size !== null && (!Number.isInteger(size) || size < maxStride || size % maxStride !== 0)) {
    throw new RangeError(`image size must be a positive multiple of ${maxStride}, got ${size}`);
  }
  const ops = new OnnxOps(weights, arch.strides, size, options.convHook);
  const input = ops.g.input('images', 'float32', size === null ? [1, 3, 'height', 'width'] : [1, 3, size, size]);
  forward(arch, ops, input, options.onLayer);
  return { graph: ops.g, parameterCount: ops.parameterCount };
}

/** Emits the network as ONNX nodes; values are value names. */
class OnnxOps implements NetworkOps<string> {
  readonly g = new OnnxGraph({ graphName: 'yolov8-seg' });
  parameterCount = 0;
  private readonly ints = new Map<string, string>();
  private readonly floats = new Map<string, string>();

  constructor(
    private readonly weights: Yolov8Weights,
    private readonly strides: readonly number[],
    private readonly size: number | null,
    private readonly hook: ConvHook | undefined,
  ) {}

  /** A shared int64 constant. */
  private i64(values: readonly number[]): string {
    const key = values.join(',');
    let name = this.ints.get(key);
    if (!name) {
      name = this.g.constant(`const_i64_${key.replace(/-/g, 'm').replace(/,/g, '_')}`, values, [values.length], 'int64');
      this.ints.set(key, name);
    }
    return name;
  }

  /** A shared float32 constant of the given dims. */
  private f32(values: readonly number[], dims: readonly number[]): string {
    const key = `${values.join(',')}|${dims.join(',')}`;
    let name = this.floats.get(key);
    if (!name) {
      name = this.g.constant(`const_f32_${this.floats.size}`, values, dims, 'float32');
      this.floats.set(key, name);
    }
    return name;
  }

  private initializers(c: ConvSpec, w: ConvWeights, weightDims: readonly number[]): [string, string] {
    this.parameterCount += w.weight.length + w.bias.length;
    return [this.g.constant(`${c.prefix}.weight`, w.weight, weightDims), this.g.constant(`${c.prefix}.bias`, w.bias, [c.cOut])];
  }

  /** Conv (BatchNorm folded), then SiLU = x · sigmoid(x) for an Ultralytics Conv. */
  conv(x: string, c: ConvSpec, silu: boolean): string {
    const [weight, bias] = this.initializers(c, silu ? this.weights.convBn(c) : this.weights.conv(c), [c.cOut, c.cIn, c.k, c.k]);
    const pad = Math.floor(c.k / 2);
    let y = this.g.node('Conv', [x, weight, bias], { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [pad, pad, pad, pad] }, { name: `${c.prefix}/Conv` });
    if (this.hook) y = this.hook(this.g, y, c);
    if (!silu) return y;
    return this.g.node('Mul', [y, this.g.node('Sigmoid', [y], {}, { name: `${c.prefix}/Sigmoid` })], {}, { name: `${c.prefix}/Mul` });
  }

  convTranspose(x: string, c: ConvSpec): string {
    const [weight, bias] = this.initializers(c, this.weights.convTranspose(c), [c.cIn, c.cOut, c.k, c.k]);
    const y = this.g.node('ConvTranspose', [x, weight, bias], { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride] }, { name: `${c.prefix}/ConvTranspose` });
    return this.hook ? this.hook(this.g, y, c) : y;
  }

  split(x: string, half: number, name: string): [string, string] {
    const [a, b] = this.g.nodeMulti('Split', [x, this.i64([half, half])], 2, { axis: 1 }, { name });
    return [a!, b!];
  }

  add(a: string, b: string, name: string): string {
    return this.g.node('Add', [a, b], {}, { name });
  }

  concat(parts: readonly string[], name: string): string {
    return this.g.node('Concat', parts, { axis: 1 }, { name });
  }

  maxPool(x: string, k: number, name: string): string {
    const pad = Math.floor(k / 2);
    return this.g.node('MaxPool', [x], { kernel_shape: [k, k], strides: [1, 1], pads: [pad, pad, pad, pad] }, { name });
  }

  /** PyTorch's nearest upsampling: source pixel floor(dst / scale). */
  upsample(x: string, scale: number, name: string): string {
    return this.g.node('Resize', [x, '', this.f32([1, 1, scale, scale], [4])], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    }, { name });
  }

  /**
   * Ultralytics' make_anchors for one level: cell centres (x + 0.5, y + 0.5),
   * x fastest, as [2, h·w], and the level's stride as [1, h·w].
   */
  private anchors(feature: string, prefix: string, stride: number): { points: string; strides: string } {
    const g = this.g;
    const shape = g.node('Shape', [feature], {}, { name: `${prefix}/Shape` });
    const hw = g.node('Slice', [shape, this.i64([2]), this.i64([4])], {}, { name: `${prefix}/SliceHW` });
    const axis = (i: number, name: string) => {
      const n = g.node('Cast', [g.node('Gather', [shape, g.constant(`${prefix}_${name}_index`, [i], [], 'int64')], { axis: 0 })], { to: 1 });
      const r = g.node('Range', [this.f32([0], []), n, this.f32([1], [])], {}, { name: `${prefix}/Range_${name}` });
      return g.node('Add', [r, this.f32([0.5], [])]);
    };
    const xs = g.node('Unsqueeze', [axis(3, 'x'), this.i64([0])]); // [1, w]
    const ys = g.node('Unsqueeze', [axis(2, 'y'), this.i64([1])]); // [h, 1]
    const flat = (v: string) => g.node('Reshape', [g.node('Expand', [v, hw]), this.i64([1, -1])]);
    const gx = flat(xs);
    const points = g.node('Concat', [gx, flat(ys)], { axis: 0 }, { name: `${prefix}/Anchors` });
    const strides = g.node('Expand', [this.f32([stride], [1, 1]), g.node('Shape', [gx])], {}, { name: `${prefix}/Strides` });
    return { points, strides };
  }

  /** Detect's inference decoding plus Segment's outputs, as Ultralytics exports them. */
  head(l: SegmentLayer, v: HeadValues<string>): void {
    const g = this.g;
    const prefix = `model.${l.index}`;
    const flatten = (values: readonly string[], channels: number, name: string) =>
      g.node('Concat', values.map((x) => g.node('Reshape', [x, this.i64([1, channels, -1])])), { axis: 2 }, { name: `${prefix}/${name}` });
    const box = flatten(v.boxes, 4 * l.regMax, 'ConcatBoxes'); // [1, 4·regMax, A]
    const anchors = v.features.map((x, i) => this.anchors(x, `${prefix}.anchors.${i}`, this.strides[i]!));
    const anchorPoints = g.node('Concat', anchors.map((a) => a.points), { axis: 1 }, { name: `${prefix}/ConcatAnchors` }); // [2, A]
    const strideRow = g.node('Concat', anchors.map((a) => a.strides), { axis: 1 }, { name: `${prefix}/ConcatStrides` }); // [1, A]

    // DFL: softmax over each side's regMax bins, expectation of the bin values.
    const binValues = g.constant(`${prefix}.dfl.conv.weight`, this.weights.dflBins(`${prefix}.dfl.conv`, l.regMax), [1, 1, l.regMax, 1]);
    const probabilities = g.node('Softmax', [g.node('Reshape', [box, this.i64([1, 4, l.regMax, -1])])], { axis: 2 }, { name: `${prefix}/dfl/Softmax` });
    const distances = g.node('ReduceSum', [g.node('Mul', [probabilities, binValues]), this.i64([2])], { keepdims: 0 }, { name: `${prefix}/dfl/ReduceSum` }); // [1, 4, A]

    // dist2bbox (xywh) × stride.
    const lt = g.node('Slice', [distances, this.i64([0]), this.i64([2]), this.i64([1])]);
    const rb = g.node('Slice', [distances, this.i64([2]), this.i64([4]), this.i64([1])]);
    const x1y1 = g.node('Sub', [anchorPoints, lt]);
    const x2y2 = g.node('Add', [anchorPoints, rb]);
    const centre = g.node('Div', [g.node('Add', [x1y1, x2y2]), this.f32([2], [])]);
    const wh = g.node('Sub', [x2y2, x1y1]);
    const decoded = g.node('Mul', [g.node('Concat', [centre, wh], { axis: 1 }), strideRow], {}, { name: `${prefix}/DecodedBoxes` });

    const scores = g.node('Sigmoid', [flatten(v.classes, l.nc, 'ConcatClasses')], {}, { name: `${prefix}/Scores` });
    const output = g.node('Concat', [decoded, scores, flatten(v.coefficients, l.nm, 'ConcatCoefficients')], { axis: 1 }, { name: `${prefix}/Output` });
    const size = this.size;
    g.output(output, 'output0', 'float32', [1, 4 + l.nc + l.nm, size === null ? 'anchors' : this.strides.reduce((sum, s) => sum + (size / s) ** 2, 0)]);
    const protoSide = size === null ? null : (size / this.strides[0]!) * 2;
    g.output(v.protos, 'output1', 'float32', [1, l.nm, protoSide ?? 'proto_height', protoSide ?? 'proto_width']);
  }
}

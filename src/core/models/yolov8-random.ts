/**
 * FastSAM-sized networks with seeded random weights, for benchmarks and load
 * tests: the same graph, shapes and cost as converted official weights.
 *
 * Random He-normal weights alone do not make a usable network: without
 * BatchNorm's statistics each layer's output scale drifts from 1 a little, and
 * SiLU amplifies the drift through the hundred-odd convolutions, so activations
 * fade (FastSAM-s) or explode (FastSAM-x). The weights are therefore set the way
 * BatchNorm would set them, from data: a calibration graph normalises every
 * convolution's output in the graph (per-channel mean, layer standard deviation,
 * then BatchNorm's γ ≈ 1, β ≈ 0), onnxruntime runs it once on a synthetic
 * photo-like image, and the measured statistics are folded into the weights.
 * The head's last convolutions are set to realistic logits: DFL bins spread
 * enough that box sizes vary, class scores mostly low with a tail (so a
 * confidence threshold keeps a few hundred anchors at most), unit-scale mask
 * coefficients.
 */
import * as ort from 'onnxruntime-node';
import type { OnnxGraph } from '../onnx/graph';
import {
  type ConvHook,
  type ConvSpec,
  type ConvWeights,
  type Yolov8Architecture,
  type Yolov8Weights,
  FASTSAM_SCALES,
  YOLOV8_SEG_YAML,
  buildYolov8SegGraph,
  parseYolov8SegYaml,
} from './yolov8-seg';

/** Target logits (mean, standard deviation) of the head's last convolutions, by branch. */
const HEAD_LOGITS: Readonly<Record<'box' | 'class' | 'mask', { readonly mean: number; readonly std: number }>> = {
  box: { mean: 0, std: 2 },
  class: { mean: -4, std: 1.5 },
  mask: { mean: 0, std: 1.5 },
};

/** Side of the calibration image: P5 maps of 10×10, so the SPPF pools see what they see on real inputs. */
const CALIBRATION_SIZE = 320;

/** A seeded generator of uniform deviates in [0, 1) (mulberry32). */
function uniformGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `a` with normal deviates (Box–Muller, both of each pair used). */
function fillGaussian(a: Float32Array, uniform: () => number, std: number, mean: number): Float32Array {
  for (let i = 0; i < a.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())) * std;
    const theta = 2 * Math.PI * uniform();
    a[i] = mean + r * Math.cos(theta);
    if (i + 1 < a.length) a[i + 1] = mean + r * Math.sin(theta);
  }
  return a;
}

/** Where each convolution's output should end up: per-channel mean and standard deviation. */
interface Target {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

/** He-normal weights without bias, and the BatchNorm-like target of each convolution. */
class RawWeights implements Yolov8Weights {
  readonly weights = new Map<string, Float32Array>();
  readonly targets = new Map<string, Target>();
  private readonly uniform: () => number;

  constructor(seed: number) {
    this.uniform = uniformGenerator(seed);
  }

  private gaussian(n: number, std: number, mean = 0): Float32Array {
    return fillGaussian(new Float32Array(n), this.uniform, std, mean);
  }

  private make(c: ConvSpec, fanIn: number, target: Target): ConvWeights {
    const weight = this.gaussian(c.cOut * c.cIn * c.k * c.k, 1 / Math.sqrt(fanIn));
    this.weights.set(c.prefix, weight);
    this.targets.set(c.prefix, target);
    return { weight, bias: new Float32Array(c.cOut) };
  }

  convBn(c: ConvSpec): ConvWeights {
    // BatchNorm's affine parameters near their initial γ = 1, β = 0.
    return this.make(c, c.cIn * c.k * c.k, { mean: this.gaussian(c.cOut, 0.1), std: this.gaussian(c.cOut, 0.1, 1) });
  }

  conv(c: ConvSpec): ConvWeights {
    const branch = /\.cv(\d)\.\d+\.2$/.exec(c.prefix)?.[1];
    const logits = branch === '2' ? HEAD_LOGITS.box : branch === '3' ? HEAD_LOGITS.class : HEAD_LOGITS.mask;
    return this.make(c, c.cIn * c.k * c.k, { mean: new Float32Array(c.cOut).fill(logits.mean), std: new Float32Array(c.cOut).fill(logits.std) });
  }

  convTranspose(c: ConvSpec): ConvWeights {
    // Kernel = stride: each output pixel sees one input pixel of every input channel.
    return this.make(c, c.cIn, { mean: new Float32Array(c.cOut), std: new Float32Array(c.cOut).fill(1) });
  }

  dflBins(_prefix: string, regMax: number): Float32Array {
    return Float32Array.from({ length: regMax }, (_, i) => i);
  }
}

const meanOutput = (prefix: string) => `${prefix}:mean`;
const stdOutput = (prefix: string) => `${prefix}:std`;

/**
 * Normalises a convolution's output in the graph as BatchNorm does in training
 * (per-channel mean; one standard deviation for the layer, so that maps of a
 * few pixels stay stable), applies the target, and exposes the statistics.
 */
function normalisingHook(targets: ReadonlyMap<string, Target>): ConvHook {
  return (g: OnnxGraph, y: string, c: ConvSpec) => {
    const target = targets.get(c.prefix)!;
    const mean = g.node('ReduceMean', [y], { axes: [0, 2, 3], keepdims: 1 });
    const centred = g.node('Sub', [y, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred])], { axes: [0, 1, 2, 3], keepdims: 1 });
    const std = g.node('Sqrt', [g.node('Add', [variance, g.constant('calibration_epsilon', [1e-12], [], 'float32')])]);
    g.output(mean, meanOutput(c.prefix), 'float32', [1, c.cOut, 1, 1]);
    g.output(std, stdOutput(c.prefix), 'float32', [1, 1, 1, 1]);
    const scaled = g.node('Mul', [g.node('Div', [centred, std]), g.constant(`${c.prefix}:gamma`, target.std, [1, c.cOut, 1, 1])]);
    return g.node('Add', [scaled, g.constant(`${c.prefix}:beta`, target.mean, [1, c.cOut, 1, 1])]);
  };
}

/**
 * A deterministic stand-in photograph [1, 3, size, size]: a vertical gradient,
 * a few flat rectangles and ellipses of random colours, mild noise.
 */
function calibrationImage(seed: number, size: number): Float32Array {
  const uniform = uniformGenerator(seed ^ 0x5eed);
  const image = new Float32Array(3 * size * size);
  const top = [uniform(), uniform(), uniform()], bottom = [uniform(), uniform(), uniform()];
  const shapes = Array.from({ length: 8 }, () => ({
    x: uniform() * size, y: uniform() * size, rx: (0.05 + 0.2 * uniform()) * size, ry: (0.05 + 0.2 * uniform()) * size,
    ellipse: uniform() < 0.5, color: [uniform(), uniform(), uniform()],
  }));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let color = top.map((t, c) => t + ((bottom[c]! - t) * y) / size);
      for (const s of shapes) {
        const dx = (x - s.x) / s.rx, dy = (y - s.y) / s.ry;
        if (s.ellipse ? dx * dx + dy * dy <= 1 : Math.abs(dx) <= 1 && Math.abs(dy) <= 1) color = s.color;
      }
      for (let c = 0; c < 3; c++) image[(c * size + y) * size + x] = Math.min(1, Math.max(0, color[c]! + 0.04 * (uniform() - 0.5)));
    }
  }
  return image;
}

/**
 * Random weights for an architecture, calibrated as the module comment says:
 * W' = W · γ / σ and b' = β − μ · γ / σ per output channel.
 */
export async function calibratedRandomWeights(arch: Yolov8Architecture, seed: number): Promise<Yolov8Weights> {
  const raw = new RawWeights(seed);
  const { graph } = buildYolov8SegGraph(arch, raw, { imageSize: CALIBRATION_SIZE, convHook: normalisingHook(raw.targets) });
  const session = await ort.InferenceSession.create(graph.toModelBytes(), { graphOptimizationLevel: 'basic' });
  let stats: ort.InferenceSession.ReturnType;
  try {
    const image = new ort.Tensor('float32', calibrationImage(seed, CALIBRATION_SIZE), [1, 3, CALIBRATION_SIZE, CALIBRATION_SIZE]);
    stats = await session.run({ images: image });
  } finally {
    await session.release();
  }
  const folded = (c: ConvSpec, transpose: boolean): ConvWeights => {
    // Scaled in place, so each convolution's weights are handed out once.
    const weight = raw.weights.get(c.prefix);
    if (!weight) throw new Error(`no calibrated weights for ${c.prefix}`);
    raw.weights.delete(c.prefix);
    const target = raw.targets.get(c.prefix)!;
    const mean = stats[meanOutput(c.prefix)]!.data as Float32Array;
    const std = (stats[stdOutput(c.prefix)]!.data as Float32Array)[0]!;
    const bias = new Float32Array(c.cOut);
    const block = c.k * c.k;
    for (let o = 0; o < c.cOut; o++) {
      const scale = target.std[o]! / std;
      bias[o] = target.mean[o]! - mean[o]! * scale;
      // Conv weights are [cOut, cIn, k, k]; ConvTranspose weights [cIn, cOut, k, k].
      for (let i = 0; i < c.cIn; i++) {
        const at = (transpose ? i * c.cOut + o : o * c.cIn + i) * block;
        for (let j = at; j < at + block; j++) weight[j]! *= scale;
      }
    }
    return { weight, bias };
  };
  return {
    convBn: (c) => folded(c, false),
    conv: (c) => folded(c, false),
    convTranspose: (c) => folded(c, true),
    dflBins: (prefix, regMax) => raw.dflBins(prefix, regMax),
  };
}

export interface RandomYolov8SegOptions {
  readonly scale: keyof typeof FASTSAM_SCALES;
  /** Fixed input side; omit for a dynamic input. */
  readonly imageSize?: number;
  readonly seed?: number;
}

export interface RandomYolov8Seg {
  /** The ONNX model. */
  readonly model: Uint8Array;
  readonly architecture: Yolov8Architecture;
  readonly parameterCount: number;
}

/** A FastSAM-s or FastSAM-x sized network with seeded random weights; deterministic for a seed. */
export async function buildRandomYolov8Seg(options: RandomYolov8SegOptions): Promise<RandomYolov8Seg> {
  const architecture = parseYolov8SegYaml(YOLOV8_SEG_YAML, { scale: options.scale });
  const weights = await calibratedRandomWeights(architecture, options.seed ?? 1);
  const { graph, parameterCount } = buildYolov8SegGraph(architecture, weights, { imageSize: options.imageSize ?? null });
  return { model: graph.toModelBytes(), architecture, parameterCount };
}

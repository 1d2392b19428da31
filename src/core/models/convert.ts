/**
 * Official FastSAM / YOLOv8-seg PyTorch checkpoints (`FastSAM-s.pt`, …) to ONNX,
 * without Python: the checkpoint is read by ./checkpoint, its `yaml` gives the
 * architecture, its module tree the weights, and ./yolov8-seg builds the graph.
 *
 * `resolveModelFile` is the one entry point for "a model path the user gave":
 * an ONNX file is used as it is; a checkpoint is verified against its download
 * record, converted once to `<checkpoint>.onnx` next to it, and the conversion is
 * reused while it is newer than the checkpoint.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ModelError, throwIfCancelled } from '../errors';
import { OutputWriteError, writeFileAtomic } from '../io/atomic-write';
import { type Logger, silentLogger } from '../logger';
import { PyObject, UnsafePickleError, describe } from './checkpoint/pickle';
import { CheckpointError, type ModuleTree, type TorchTensor, flattenModule, readTorchCheckpoint } from './checkpoint/torch-checkpoint';
import { ZipFormatError } from './checkpoint/zip';
import { verifyModelFile } from './model-files';
import { convertedModelPath, fallbackConvertedModelPath, isCheckpointPath } from './model-paths';
import {
  ArchitectureError,
  type ConvSpec,
  type ConvWeights,
  type Yolov8Architecture,
  type Yolov8Weights,
  type Yolov8Yaml,
  buildYolov8SegGraph,
  parseYolov8SegYaml,
} from './yolov8-seg';

export type ConversionStage = 'read' | 'unpickle' | 'build' | 'serialize' | 'write';

export interface ConversionProgress {
  readonly stage: ConversionStage;
  /** Overall progress, 0..1. */
  readonly fraction: number;
}

export interface ConvertOptions {
  /** Fixed input side; omit for a model with a dynamic input (any multiple of 32). */
  readonly imageSize?: number;
  readonly onProgress?: (progress: ConversionProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface ConvertedModel {
  /** The ONNX model bytes. */
  readonly model: Uint8Array;
  readonly architecture: Yolov8Architecture;
  readonly parameterCount: number;
}

/** Where each stage starts in the overall progress. */
const STAGE_START: Readonly<Record<ConversionStage, number>> = { read: 0, unpickle: 0.15, build: 0.25, serialize: 0.8, write: 0.9 };

const SILU = 'torch.nn.modules.activation.SiLU';

/** Lets progress callbacks run and cancellation land between the synchronous stages. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A checkpoint's module tree as Yolov8Weights, checking every shape and folding BatchNorm. */
class CheckpointWeights implements Yolov8Weights {
  constructor(private readonly tree: ModuleTree) {}

  private tensor(name: string, shape: readonly number[]): Float32Array {
    const t: TorchTensor | undefined = this.tree.tensors.get(name);
    if (!t) throw new ArchitectureError(`the checkpoint has no ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ArchitectureError(`${name} is [${t.shape.join(', ')}] in the checkpoint; its yaml implies [${shape.join(', ')}]`);
    }
    return t.toFloat32();
  }

  private module(path: string): PyObject {
    const m = this.tree.modules.get(path);
    if (!m) throw new ArchitectureError(`the checkpoint has no module ${path}`);
    return m;
  }

  private checkConv2d(path: string, stride: number, k: number): void {
    const conv = this.module(path);
    const pair = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
    const padding = Math.floor(k / 2);
    if (pair(conv.get('stride')) !== `${stride},${stride}` || pair(conv.get('padding')) !== `${padding},${padding}` || (conv.get('groups') ?? 1) !== 1 || pair(conv.get('dilation') ?? [1, 1]) !== '1,1') {
      throw new ArchitectureError(`${path} has stride ${pair(conv.get('stride'))}, padding ${pair(conv.get('padding'))}; expected ${stride} and ${padding}`);
    }
  }

  convBn({ prefix, cOut, cIn, k, stride }: ConvSpec): ConvWeights {
    this.checkConv2d(`${prefix}.conv`, stride, k);
    const act = this.tree.modules.get(`${prefix}.act`);
    if (!act || act.className !== SILU) throw new ArchitectureError(`${prefix} uses ${act?.className ?? 'no'} activation; only SiLU is supported`);
    const weight = this.tensor(`${prefix}.conv.weight`, [cOut, cIn, k, k]);
    const gamma = this.tensor(`${prefix}.bn.weight`, [cOut]);
    const beta = this.tensor(`${prefix}.bn.bias`, [cOut]);
    const mean = this.tensor(`${prefix}.bn.running_mean`, [cOut]);
    const variance = this.tensor(`${prefix}.bn.running_var`, [cOut]);
    const eps = this.module(`${prefix}.bn`).get('eps');
    if (typeof eps !== 'number' || !(eps >= 0)) throw new ArchitectureError(`${prefix}.bn has eps ${describe(eps)}`);
    // y = γ (conv(x) − μ) / √(σ² + ε) + β  =  conv'(x) + b'.
    const perOut = weight.length / cOut;
    const bias = new Float32Array(cOut);
    for (let o = 0; o < cOut; o++) {
      const scale = gamma[o]! / Math.sqrt(variance[o]! + eps);
      for (let i = o * perOut; i < (o + 1) * perOut; i++) weight[i] = weight[i]! * scale;
      bias[o] = beta[o]! - mean[o]! * scale;
    }
    return { weight, bias };
  }

  conv({ prefix, cOut, cIn, k }: ConvSpec): ConvWeights {
    this.checkConv2d(prefix, 1, k);
    return { weight: this.tensor(`${prefix}.weight`, [cOut, cIn, k, k]), bias: this.tensor(`${prefix}.bias`, [cOut]) };
  }

  convTranspose({ prefix, cIn, cOut, k }: ConvSpec): ConvWeights {
    const m = this.module(prefix);
    const stride = m.get('stride');
    if (!Array.isArray(stride) || stride.join(',') !== `${k},${k}` || (m.get('groups') ?? 1) !== 1) {
      throw new ArchitectureError(`${prefix} is not a ${k}×${k} stride-${k} transposed convolution`);
    }
    return { weight: this.tensor(`${prefix}.weight`, [cIn, cOut, k, k]), bias: this.tensor(`${prefix}.bias`, [cOut]) };
  }

  dflBins(prefix: string, regMax: number): Float32Array {
    return this.tensor(`${prefix}.weight`, [1, regMax, 1, 1]);
  }
}

/** Python dicts (Maps) and tuples to plain JSON-like values, for the yaml. */
function toPlain(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (Array.isArray(value)) return value.map(toPlain);
  return value;
}

/** The model module of an Ultralytics checkpoint dict: its EMA when saved, else 'model'. */
function modelOf(root: unknown): PyObject {
  if (!(root instanceof Map)) throw new CheckpointError(`the checkpoint holds ${describe(root)}, not an Ultralytics checkpoint dict`);
  const model = root.get('ema') ?? root.get('model');
  if (!(model instanceof PyObject)) throw new CheckpointError(`the checkpoint's "model" is ${describe(model)}, not a model`);
  return model;
}

function architectureOf(model: PyObject, tree: ModuleTree, logger: Logger): Yolov8Architecture {
  const yaml = toPlain(model.get('yaml')) as Yolov8Yaml | null;
  if (typeof yaml !== 'object' || yaml === null || !Array.isArray(yaml.backbone) || !Array.isArray(yaml.head)) {
    throw new CheckpointError(`the model (${model.className}) has no architecture yaml`);
  }
  const stated = parseYolov8SegYaml(yaml);
  if (stated.scaleName === null || matchesWeights(stated, tree)) return stated;
  // Without yaml.scale Ultralytics assumes the first scale listed; the file's
  // modules were built at their real scale, which the weights tell.
  for (const name of Object.keys(yaml.scales ?? {})) {
    const arch = parseYolov8SegYaml(yaml, { scale: name });
    if (matchesWeights(arch, tree)) {
      logger.warn(`The model yaml says scale "${stated.scaleName}" but the weights are scale "${name}"`);
      return arch;
    }
  }
  return stated; // the shape checks name the mismatch
}

/** Whether each layer's output width and bottleneck count are those of the checkpoint's modules. */
function matchesWeights(arch: Yolov8Architecture, tree: ModuleTree): boolean {
  const width = (name: string) => tree.tensors.get(name)?.shape[0];
  return arch.layers.every((l) => {
    const p = `model.${l.index}`;
    switch (l.type) {
      case 'Conv':
        return width(`${p}.conv.weight`) === l.c2;
      case 'C2f':
        return width(`${p}.cv2.conv.weight`) === l.c2 && tree.modules.has(`${p}.m.${l.n - 1}`) && !tree.modules.has(`${p}.m.${l.n}`);
      case 'SPPF':
        return width(`${p}.cv2.conv.weight`) === l.c2;
      default:
        return true;
    }
  });
}

/** Converts a checkpoint held in memory. */
export async function checkpointToOnnx(bytes: Uint8Array, options: ConvertOptions = {}): Promise<ConvertedModel> {
  const progress = (stage: ConversionStage, within = 0) => {
    const start = STAGE_START[stage];
    const next = stage === 'write' ? 1 : Object.values(STAGE_START).find((s) => s > start)!;
    options.onProgress?.({ stage, fraction: start + (next - start) * within });
  };
  progress('unpickle');
  await yieldToEventLoop();
  throwIfCancelled(options.signal);
  const { root } = readTorchCheckpoint(bytes);
  const model = modelOf(root);
  const tree = flattenModule(model);
  const architecture = architectureOf(model, tree, options.logger ?? silentLogger);

  progress('build');
  await yieldToEventLoop();
  throwIfCancelled(options.signal);
  const { graph, parameterCount } = buildYolov8SegGraph(architecture, new CheckpointWeights(tree), {
    imageSize: options.imageSize ?? null,
    onLayer: (done, total) => progress('build', done / total),
  });

  progress('serialize');
  await yieldToEventLoop();
  throwIfCancelled(options.signal);
  return { model: graph.toModelBytes(), architecture, parameterCount };
}

export interface ConversionResult {
  readonly onnxPath: string;
  readonly architecture: Yolov8Architecture;
  readonly parameterCount: number;
}

/** Turns reader and architecture failures into one user-facing line naming the file. */
function conversionError(e: unknown, checkpointPath: string): unknown {
  if (e instanceof UnsafePickleError) return new ModelError('corrupt', `${checkpointPath} was not converted: ${e.message}.`);
  if (e instanceof CheckpointError) return new ModelError('corrupt', `${checkpointPath} is not a readable PyTorch checkpoint: ${e.message}`);
  // Weights are read from the archive while the network is built.
  if (e instanceof ZipFormatError) return new ModelError('corrupt', `${checkpointPath} is damaged: ${e.message}`);
  if (e instanceof ArchitectureError) return new ModelError('contract', `${checkpointPath} is not a FastSAM / YOLOv8-seg checkpoint this converter supports: ${e.message}`);
  return e;
}

/** Reads a checkpoint file and writes its ONNX conversion atomically to `onnxPath`. */
export async function convertCheckpoint(checkpointPath: string, onnxPath: string, options: ConvertOptions & { overwrite?: boolean } = {}): Promise<ConversionResult> {
  options.onProgress?.({ stage: 'read', fraction: 0 });
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(checkpointPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelError('not-found', `Model file not found: ${checkpointPath}`);
    throw new ModelError('unreadable', `Cannot read ${checkpointPath}: ${(e as Error).message}`);
  }
  let converted: ConvertedModel;
  try {
    converted = await checkpointToOnnx(bytes, options);
  } catch (e) {
    throw conversionError(e, checkpointPath);
  }
  options.onProgress?.({ stage: 'write', fraction: STAGE_START.write });
  throwIfCancelled(options.signal);
  await writeFileAtomic(onnxPath, converted.model, { overwrite: options.overwrite ?? true });
  options.onProgress?.({ stage: 'write', fraction: 1 });
  return { onnxPath, architecture: converted.architecture, parameterCount: converted.parameterCount };
}

export { convertedModelPath, fallbackConvertedModelPath, isCheckpointPath } from './model-paths';

export interface ResolveModelOptions {
  readonly onProgress?: (progress: ConversionProgress) => void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /**
   * Where to convert a checkpoint whose own folder is read-only (the
   * extension's global storage); without it, such a checkpoint is an error.
   */
  readonly fallbackFolder?: string;
}

/**
 * The ONNX file to load for a model path: the path itself for an ONNX model;
 * for a checkpoint (.pt / .pth), its conversion, made now unless an up-to-date
 * one exists. A checkpoint with a download record is verified first. The
 * conversion goes next to the checkpoint, or, when that folder is read-only,
 * into `fallbackFolder`.
 */
export async function resolveModelFile(modelPath: string, options: ResolveModelOptions = {}): Promise<string> {
  if (!isCheckpointPath(modelPath)) return modelPath;
  const logger = options.logger ?? silentLogger;
  let checkpoint;
  try {
    checkpoint = await fs.stat(modelPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelError('not-found', `Model file not found: ${modelPath}`);
    throw new ModelError('unreadable', `Cannot read ${modelPath}: ${(e as Error).message}`);
  }
  await verifyModelFile(modelPath);
  const beside = convertedModelPath(modelPath);
  const elsewhere = options.fallbackFolder !== undefined ? fallbackConvertedModelPath(modelPath, options.fallbackFolder) : undefined;
  for (const candidate of elsewhere !== undefined ? [beside, elsewhere] : [beside]) {
    const cached = await fs.stat(candidate).catch(() => null);
    if (cached && cached.size > 0 && cached.mtimeMs >= checkpoint.mtimeMs) {
      logger.info(`Using ${candidate}, converted from ${modelPath}`);
      return candidate;
    }
  }
  const convert = async (onnxPath: string): Promise<string> => {
    logger.info(`Converting ${modelPath} to ONNX (${onnxPath})`);
    const started = performance.now();
    const result = await convertCheckpoint(modelPath, onnxPath, { onProgress: options.onProgress, signal: options.signal, logger, overwrite: true });
    logger.info(`Converted ${modelPath} (${result.parameterCount.toLocaleString('en-US')} parameters) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return onnxPath;
  };
  try {
    return await convert(beside);
  } catch (e) {
    if (!(e instanceof OutputWriteError && e.code === 'read-only')) throw e;
    if (elsewhere === undefined) {
      throw new ModelError('unreadable', `Cannot write ${beside} next to the checkpoint (the folder is read-only): convert it elsewhere with "fastsam convert ${modelPath} <out.onnx>" and use that file`);
    }
    logger.info(`${path.dirname(beside)} is read-only; converting into ${options.fallbackFolder} instead`);
    await fs.mkdir(options.fallbackFolder!, { recursive: true });
    return convert(elsewhere);
  }
}

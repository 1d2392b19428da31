/**
 * An ONNX model with the YOLOv8-seg / FastSAM export contract, loaded in
 * onnxruntime-node:
 *   input  [1, 3, S, S]            RGB 0..1, letterboxed (S fixed, or dynamic)
 *   output [1, 4 + nc + nm, A]     cx, cy, w, h, class scores, mask coefficients
 *   output [1, nm, S/4, S/4]       prototypes
 * Names and shapes are read from the session, never assumed.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors';
import { type Logger, silentLogger } from '../logger';

// onnxruntime reports failures as exceptions, which become the engine's messages. Its own
// log would print them a second time, raw, on the terminal (a CUDA provider whose libraries
// are missing prints a red native error line). Read when the process's first session is made.
ort.env.logLevel = 'fatal';

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';

export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'];

export interface ModelLoadOptions {
  executionProvider?: ExecutionProviderChoice;
  /** Threads for one operator; 0 lets onnxruntime use one per physical core. */
  intraOpThreads?: number;
  logger?: Logger;
}

export interface ModelOutputs {
  head: Float32Array;
  headChannels: number;
  anchors: number;
  protos: Float32Array;
  protoChannels: number;
  protoHeight: number;
  protoWidth: number;
}

/**
 * Providers `auto` tries, best first, per platform. WebGPU is only used when
 * asked for: on a machine without a GPU it can land on a software adapter that
 * is slower than the CPU provider.
 */
function autoProviders(): string[] {
  switch (process.platform) {
    case 'win32':
      return ['cuda', 'dml'];
    case 'darwin':
      return ['coreml'];
    default:
      return ['cuda'];
  }
}

/**
 * onnxruntime-node's CUDA provider is a separate library that its install script
 * downloads (skipped offline). Without it, trying CUDA only prints a native error,
 * so `auto` checks for the file first.
 */
function cudaLibraryInstalled(): boolean {
  const binding = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const name = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(path.join(binding, name));
}

function sessionOptions(provider: string, options: ModelLoadOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpThreads ?? 0,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
}

export class SegmentationModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly path: string,
    readonly executionProvider: string,
    readonly inputName: string,
    /** The model's input side when fixed, or null when dynamic. */
    readonly fixedInputSize: number | null,
    private readonly headName: string,
    private readonly protoName: string,
  ) {}

  static async load(path: string, options: ModelLoadOptions = {}): Promise<SegmentationModel> {
    const logger = options.logger ?? silentLogger;
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ModelError('not-found', `Model file not found: ${path}`);
      if (code === 'EISDIR') throw new ModelError('unreadable', `Model path ${path} is a folder; give the model file (.onnx or .pt) in it`);
      throw new ModelError('unreadable', `Cannot read model file ${path}: ${(e as Error).message}`);
    }
    if (bytes.length === 0) throw new ModelError('corrupt', `Model file ${path} is empty`);

    const choice = options.executionProvider ?? 'auto';
    const available = new Set(ort.listSupportedBackends().map((b) => b.name));
    let tries: string[] = [];
    if (choice === 'auto') {
      tries = autoProviders().filter((p) => available.has(p));
      if (tries.includes('cuda') && !cudaLibraryInstalled()) {
        tries = tries.filter((p) => p !== 'cuda');
        logger.info('CUDA execution provider not installed (onnxruntime-node was installed without its CUDA libraries)');
      }
    } else if (choice !== 'cpu') {
      tries = [choice];
    }
    for (const provider of tries) {
      try {
        const session = await ort.InferenceSession.create(bytes, sessionOptions(provider, options));
        logger.info(`Model ${path} loaded with the ${provider} execution provider`);
        return SegmentationModel.fromSession(session, path, provider);
      } catch (e) {
        const reason = firstLine((e as Error).message);
        if (choice !== 'auto') {
          throw new ModelError('provider', `The ${provider} execution provider could not load ${path}: ${reason}. Choose "auto" or "cpu".`);
        }
        logger.warn(`The ${provider} execution provider is not usable (${reason}); trying the next one`);
      }
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions('cpu', options));
    } catch (e) {
      throw new ModelError('corrupt', `Cannot load model ${path}: not a valid ONNX model (${firstLine((e as Error).message)})`);
    }
    logger.info(`Model ${path} loaded with the cpu execution provider`);
    return SegmentationModel.fromSession(session, path, 'cpu');
  }

  private static fromSession(session: ort.InferenceSession, path: string, provider: string): SegmentationModel {
    const contractError = (what: string) =>
      new ModelError(
        'contract',
        `Model ${path} is not a FastSAM / YOLOv8-seg model: ${what}. Expected input [1, 3, S, S] and outputs [1, 4 + classes + 32, anchors] and [1, 32, S/4, S/4].`,
      );
    const inputs = session.inputMetadata.filter((m) => m.isTensor);
    if (inputs.length !== 1) throw contractError(`it has ${inputs.length} tensor inputs`);
    const input = inputs[0]!;
    const inShape = input.isTensor ? input.shape : [];
    if (inShape.length !== 4 || (typeof inShape[1] === 'number' && inShape[1] !== 3)) {
      throw contractError(`its input "${input.name}" has shape [${inShape.join(', ')}]`);
    }
    const h = inShape[2], w = inShape[3];
    let fixed: number | null = null;
    if (typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0) {
      if (h !== w) throw contractError(`its input is ${w}×${h}, not square`);
      fixed = h;
    }
    const outputs = session.outputMetadata.filter((m) => m.isTensor);
    const rankOf = (m: ort.InferenceSession.ValueMetadata) => (m.isTensor ? m.shape.length : 0);
    const head = outputs.find((m) => rankOf(m) === 3);
    const proto = outputs.find((m) => rankOf(m) === 4);
    if (!head || !proto) {
      const found = outputs.map((m) => `${m.name} [${m.isTensor ? m.shape.join(', ') : ''}]`).join(', ');
      throw contractError(`its outputs are ${found || 'none'}`);
    }
    return new SegmentationModel(session, path, provider, input.name, fixed, head.name, proto.name);
  }

  /** Runs the network on a planar [1, 3, S, S] tensor and checks what comes back. */
  async run(tensor: Float32Array, size: number): Promise<ModelOutputs> {
    const input = new ort.Tensor('float32', tensor, [1, 3, size, size]);
    const result = await this.session.run({ [this.inputName]: input });
    const head = result[this.headName]!;
    const proto = result[this.protoName]!;
    if (head.type !== 'float32' || proto.type !== 'float32') {
      throw new ModelError('contract', `Model ${this.path} returned ${head.type}/${proto.type} outputs; expected float32`);
    }
    const [hb, headChannels, anchors] = head.dims as number[];
    const [pb, protoChannels, protoHeight, protoWidth] = proto.dims as number[];
    if (hb !== 1 || pb !== 1 || headChannels! < 4 + 1 + protoChannels!) {
      throw new ModelError(
        'contract',
        `Model ${this.path} returned outputs [${head.dims.join(', ')}] and [${proto.dims.join(', ')}]; expected [1, 4 + classes + masks, anchors] and [1, masks, S/4, S/4]`,
      );
    }
    // On the CPU provider onnxruntime-node hands back JavaScript-owned arrays: no copy needed.
    return {
      head: head.data as Float32Array,
      headChannels: headChannels!,
      anchors: anchors!,
      protos: proto.data as Float32Array,
      protoChannels: protoChannels!,
      protoHeight: protoHeight!,
      protoWidth: protoWidth!,
    };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

/**
 * The FastSAM engine: one loaded model, many images. `segment` runs stage 1
 * (one forward pass, "everything"); prompts are then answered by the pure
 * functions of `prompts/select` on its result, with no further inference.
 * Shared by the CLI, the extension's worker and the tests.
 */
import { throwIfCancelled } from './errors';
import { type Logger, silentLogger } from './logger';
import { boxModelToImage, INPUT_SIZE_RULE, isInputSize } from './image/letterbox';
import type { ImageSource, OpenedImage } from './image/decode';
import { type LetterboxTensor, letterboxTensor } from './image/preprocess';
import type { BoxMask } from './masks/box-mask';
import { type ExecutionProviderChoice, type ModelOutputs, SegmentationModel } from './model/segmentation-model';
import type { MaskGeometry } from './postprocess/assemble-masks';
import { WorkerPool } from './parallel/worker-pool';
import { DEFAULT_DETECTION_OPTIONS, type DetectionOptions, detectionsInOrder } from './postprocess/detections';

/** FastSAM's default input side. */
export const DEFAULT_IMAGE_SIZE = 1024;

export interface EngineOptions {
  modelPath: string;
  executionProvider?: ExecutionProviderChoice;
  intraOpThreads?: number;
  /** Worker threads for mask assembly besides the engine's own; defaults to the cores left, at most 3. */
  poolWorkers?: number;
  logger?: Logger;
}

export interface SegmentOptions extends Partial<DetectionOptions> {
  /** Model input side S (a multiple of 32, at most MAX_INPUT_SIZE); ignored, with a warning, for models with a fixed input. */
  imageSize?: number;
  signal?: AbortSignal;
}

export interface SegmentedMask {
  /** Position in the result, stable for the image: detections in descending score. */
  id: number;
  score: number;
  /** [x1, y1, x2, y2] in image pixels, clipped to the image. */
  box: [number, number, number, number];
  mask: BoxMask;
}

export interface StageTimings {
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
}

export interface SegmentationResult {
  width: number;
  height: number;
  /** The model input side actually used. */
  imageSize: number;
  masks: SegmentedMask[];
  timings: StageTimings;
}

export class FastSamEngine {
  /**
   * The input tensor of the last image, refilled by the next one of the same size
   * instead of allocating 12 MB (S = 1024) again; taken while an image uses it.
   */
  private spareInput: Float32Array | null = null;

  private constructor(
    readonly model: SegmentationModel,
    private readonly logger: Logger,
    private readonly pool: WorkerPool,
  ) {}

  static async create(options: EngineOptions): Promise<FastSamEngine> {
    const logger = options.logger ?? silentLogger;
    // The pool's workers start while the model loads.
    const pool = new WorkerPool(options.poolWorkers);
    pool.warmUp();
    try {
      const model = await SegmentationModel.load(options.modelPath, {
        executionProvider: options.executionProvider ?? 'auto',
        intraOpThreads: options.intraOpThreads ?? 0,
        logger,
      });
      return new FastSamEngine(model, logger, pool);
    } catch (e) {
      await pool.dispose();
      throw e;
    }
  }

  get executionProvider(): string {
    return this.model.executionProvider;
  }

  /** The input side that `segment` will use for a requested size. */
  effectiveImageSize(requested = DEFAULT_IMAGE_SIZE): number {
    const fixed = this.model.fixedInputSize;
    if (fixed !== null) return fixed;
    if (!isInputSize(requested)) throw new RangeError(`Image size must be ${INPUT_SIZE_RULE}, got ${requested}`);
    return requested;
  }

  /** Segments everything in an image given as a path, its bytes, or an image already opened. */
  async segment(source: ImageSource | OpenedImage, options: SegmentOptions = {}): Promise<SegmentationResult> {
    const size = this.effectiveImageSize(options.imageSize);
    if (options.imageSize !== undefined && size !== options.imageSize) {
      this.logger.warn(`Model ${this.model.path} has a fixed input of ${size}; image size ${options.imageSize} ignored`);
    }
    const detection: DetectionOptions = {
      confidence: options.confidence ?? DEFAULT_DETECTION_OPTIONS.confidence,
      iou: options.iou ?? DEFAULT_DETECTION_OPTIONS.iou,
      maxDetections: options.maxDetections ?? DEFAULT_DETECTION_OPTIONS.maxDetections,
    };
    const signal = options.signal;
    throwIfCancelled(signal);

    // Any number of images may be in flight; the first takes the spare input tensor.
    const input = this.spareInput?.length === 3 * size * size ? this.spareInput : new Float32Array(3 * size * size);
    this.spareInput = null;
    let prepared: LetterboxTensor, out: ModelOutputs, inference: number;
    try {
      prepared = await letterboxTensor(source, size, {}, input);
      throwIfCancelled(signal);
      const start = performance.now();
      out = await this.model.run(input, size);
      inference = performance.now() - start;
    } finally {
      this.spareInput = input;
    }
    throwIfCancelled(signal);

    const t = performance.now();
    const lb = prepared.letterbox;
    const detections = detectionsInOrder(out.head, out.headChannels, out.anchors, out.protoChannels, detection);
    const geometry: MaskGeometry = {
      imageWidth: lb.imageWidth,
      imageHeight: lb.imageHeight,
      modelSize: size,
      resizedWidth: lb.newWidth,
      resizedHeight: lb.newHeight,
      padLeft: lb.padLeft,
      padTop: lb.padTop,
    };
    const protos = { data: out.protos, channels: out.protoChannels, height: out.protoHeight, width: out.protoWidth };
    const coefficientBase = out.headChannels - out.protoChannels;
    const masks: SegmentedMask[] = [];
    // A detection whose mask vanishes at full resolution selects nothing: it is dropped
    // and does not count towards maxDetections, so the next detections take its place.
    while (masks.length < detection.maxDetections) {
      const batch: { score: number; box: [number, number, number, number]; coefficients: Float32Array }[] = [];
      while (batch.length < detection.maxDetections - masks.length) {
        const next = detections.next();
        if (next.done) break;
        const d = next.value;
        const coefficients = new Float32Array(out.protoChannels);
        for (let k = 0; k < out.protoChannels; k++) coefficients[k] = out.head[(coefficientBase + k) * out.anchors + d.anchor]!;
        const b = boxModelToImage(lb, { x1: d.box[0], y1: d.box[1], x2: d.box[2], y2: d.box[3] });
        batch.push({ score: d.score, box: [b.x1, b.y1, b.x2, b.y2], coefficients });
      }
      if (batch.length === 0) break;
      const assembled = await this.pool.assembleMasks(geometry, protos, batch);
      batch.forEach((d, i) => {
        const mask = assembled[i]!;
        if (mask.area > 0) masks.push({ id: masks.length, score: d.score, box: d.box, mask });
      });
    }
    const postprocess = performance.now() - t;

    return {
      width: lb.imageWidth,
      height: lb.imageHeight,
      imageSize: size,
      masks,
      timings: { decode: prepared.timings.decode, preprocess: prepared.timings.preprocess, inference, postprocess },
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.model.dispose(), this.pool.dispose()]);
  }
}

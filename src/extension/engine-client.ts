/**
 * The host's side of the engine worker: one worker for every editor, started on
 * the first request, with request/response matching by id. Cancelling a request
 * settles it at once (CancelledError) and tells the worker to drop or stop it
 * (a batch export instead stops and answers with what it did). If
 * the worker dies, every pending request fails with EngineCrashedError and the
 * next request starts a new worker (which loads the model again).
 *
 * No 'vscode' import: the unit tests drive this against the real worker bundle.
 */
import { Worker } from 'node:worker_threads';
import type { SegmentationResult, SegmentedMask } from '../core/engine';
import { CancelledError, ModelError, type ModelErrorCode, UserFacingError } from '../core/errors';
import type { BatchProgress } from '../core/export/batch';
import type { ExportFormatId, ExportOutputOptions, PlannedOutput } from '../core/export/format-names';
import type { FormatOptions } from '../core/export/formats';
import { OutputWriteError, type WriteErrorCode } from '../core/io/atomic-write';
import type { Logger } from '../core/logger';
import type { BoxMask } from '../core/masks/box-mask';
import type {
  BatchImageReport,
  BatchPlan,
  BatchSummaryReport,
  ClipSpec,
  HostToWorker,
  ImageHeader,
  ModelSpec,
  SegmentParameters,
  SerializedError,
  WorkerClipCounters,
  WorkerPhase,
  WorkerToHost,
} from './worker/messages';

export type { ClipSpec, WorkerClipCounters } from './worker/messages';

export interface TextQueryRequest {
  clip: ClipSpec;
  /** The result's cache key: the worker keeps the masks' CLIP embeddings under it. */
  key: string;
  result: SegmentationResult;
  /** The segmented image file's bytes. Transferred to the worker: unusable here afterwards. */
  image: Uint8Array;
  name: string;
  text: string;
  signal?: AbortSignal;
  /** What the query is doing ("Loading CLIP…"), for the user. */
  onProgress?: (message: string) => void;
}

export type { BatchImageReport, BatchPlan, BatchSummaryReport, ImageHeader, ModelSpec, SegmentParameters, WorkerPhase } from './worker/messages';

/** The worker stopped on its own: a bug in the engine, or it ran out of memory. */
export class EngineCrashedError extends UserFacingError {
  override name = 'EngineCrashedError';
}

export interface LoadedModel {
  path: string;
  /** The execution provider in use (what 'auto' resolved to). */
  executionProvider: string;
}

/** A model the worker could not load, as configured (path and provider setting), and why (written for the user). */
export interface ModelFailure {
  path: string;
  executionProvider: string;
  message: string;
}

export interface EngineClientOptions {
  /** The worker script: dist/engine-worker.js. */
  workerPath: string;
  logger: Logger;
}

export interface SegmentRequest extends SegmentParameters {
  model: ModelSpec;
  /** The image file's bytes. Transferred to the worker: unusable here afterwards. */
  image: Uint8Array;
  /** How error messages name the image (its file name). */
  name: string;
  signal?: AbortSignal;
  /** Called when the request starts loading the model, then when it starts segmenting. */
  onPhase?: (phase: WorkerPhase) => void;
  /** Called while a checkpoint (.pt) model is converted to ONNX, before it loads. */
  onConverting?: (progress: ConversionNotice) => void;
  /**
   * After `signal` aborted (the request has rejected already): the result, when the
   * worker was past its last stop and finished anyway. Worth keeping in a cache.
   */
  onLateResult?: (result: SegmentationResult) => void;
}

export interface ExportImageRequest {
  imagePath: string;
  /** The segmented size. */
  width: number;
  height: number;
  /** In the order the formats list them. */
  masks: readonly SegmentedMask[];
  targets: readonly PlannedOutput[];
  formatOptions: FormatOptions;
  /** Replace existing files; without it, a file in the way is an OutputWriteError 'exists' and nothing is written. */
  overwrite: boolean;
}

export interface BatchExportRequest extends SegmentParameters {
  model: ModelSpec;
  /** Image files and folders (walked recursively). */
  inputs: readonly string[];
  formats: readonly ExportFormatId[];
  output: ExportOutputOptions;
  formatOptions: FormatOptions;
  cocoDataset: boolean;
  /**
   * Aborting stops the batch before its next image; unlike other requests it
   * still resolves, with the summary of what was done (stopped: cancelled).
   */
  signal?: AbortSignal;
  /** Called when the batch starts loading the model. */
  onPhase?: (phase: WorkerPhase) => void;
  /** Called while a checkpoint (.pt) model is converted to ONNX, before it loads. */
  onConverting?: (progress: ConversionNotice) => void;
  onProgress?: (progress: BatchProgress) => void;
  onImage?: (report: BatchImageReport) => void;
}

/** A checkpoint being converted to ONNX in the worker. */
export interface ConversionNotice {
  /** The checkpoint's file name. */
  checkpoint: string;
  /** 0..1. */
  fraction: number;
}

export interface ResolveModelRequest {
  /** A model path: an ONNX file is answered as it is, a checkpoint (.pt / .pth) with its conversion. */
  path: string;
  /** Where a checkpoint in a read-only folder is converted. */
  conversionFolder?: string;
  /** Aborting stops the conversion (nothing is written). */
  signal?: AbortSignal;
  onConverting?: (progress: ConversionNotice) => void;
}

export interface ResolvedModel {
  /** The ONNX file to load. */
  path: string;
  /** Whether it was converted now. */
  converted: boolean;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onPhase?: (phase: WorkerPhase) => void;
  onConverting?: (progress: ConversionNotice) => void;
  onProgress?: (progress: BatchProgress) => void;
  onImage?: (report: BatchImageReport) => void;
  onTextProgress?: (message: string) => void;
}

/** How a request ends when its signal aborts. */
interface RequestOptions {
  signal?: AbortSignal | undefined;
  /**
   * 'reject' (default): at once, with CancelledError; the worker's late answer goes to `onLateAnswer`, if given.
   * 'answer': the worker is told to stop and the request settles with its answer.
   */
  onAbort?: 'reject' | 'answer';
  /** With 'reject': gets the worker's answer should it still come. */
  onLateAnswer?: (value: unknown) => void;
  callbacks?: Pick<Pending, 'onPhase' | 'onConverting' | 'onProgress' | 'onImage' | 'onTextProgress'>;
}

/** The array's buffer when it owns all of it (a view into a larger buffer, such as Node's pool, is copied instead). */
function transferable(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
}

function deserializeError(e: SerializedError): Error {
  switch (e.kind) {
    case 'cancelled':
      return new CancelledError(e.message);
    case 'model':
      return new ModelError(e.code as ModelErrorCode, e.message);
    case 'user':
      return new UserFacingError(e.message);
    case 'write':
      return new OutputWriteError(e.code as WriteErrorCode, e.path ?? '', e.message);
    case 'internal': {
      const error = new Error(e.message);
      if (e.stack) error.stack = e.stack;
      return error;
    }
  }
}

export class EngineClient {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Requests cancelled on this side whose answer is still wanted if the worker sends one (`onLateAnswer`). */
  private readonly late = new Map<number, (value: unknown) => void>();
  private nextId = 1;
  private loaded: LoadedModel | undefined;
  private failure: ModelFailure | undefined;
  private readonly modelListeners = new Set<(model: LoadedModel | undefined) => void>();
  private disposed = false;

  constructor(private readonly options: EngineClientOptions) {}

  /** The model the worker holds, if any. */
  get loadedModel(): LoadedModel | undefined {
    return this.loaded;
  }

  /** The last model that failed to load, until a model loads or `forgetModelFailure`. */
  get modelFailure(): ModelFailure | undefined {
    return this.failure;
  }

  /** A model was chosen or downloaded: whether it loads is not known until it is tried. */
  forgetModelFailure(): void {
    this.failure = undefined;
  }

  /** Whether a worker thread is running. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Whether requests are in progress (stopping the worker now would cancel them). */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Called whenever the worker loads a model, and with undefined when it stops, releases one or fails to load one (see `modelFailure`). */
  onDidChangeModel(listener: (model: LoadedModel | undefined) => void): { dispose(): void } {
    this.modelListeners.add(listener);
    return { dispose: () => this.modelListeners.delete(listener) };
  }

  /** Segments everything in an image, loading (or switching to) `request.model` first when needed. */
  segment(request: SegmentRequest): Promise<SegmentationResult> {
    const { image, signal, onPhase, onConverting, onLateResult, ...job } = request;
    return this.request<SegmentationResult>({ type: 'segment', id: 0, ...job, image }, transferable(image), {
      signal,
      ...(onLateResult ? { onLateAnswer: (value: unknown) => onLateResult(value as SegmentationResult) } : {}),
      callbacks: { ...(onPhase ? { onPhase } : {}), ...(onConverting ? { onConverting } : {}) },
    });
  }

  /**
   * The ONNX file of a model path, converting a checkpoint in the worker (the
   * conversion takes seconds of CPU) unless an up-to-date conversion exists.
   */
  resolveModel(request: ResolveModelRequest): Promise<ResolvedModel> {
    const { signal, onConverting, ...job } = request;
    return this.request<ResolvedModel>({ type: 'resolveModel', id: 0, ...job }, [], { signal, callbacks: onConverting ? { onConverting } : {} });
  }

  /** An image's displayed size and orientation, read from its header. `image` is transferred. */
  probeImage(image: Uint8Array, name: string, signal?: AbortSignal): Promise<ImageHeader> {
    return this.request<ImageHeader>({ type: 'probe', id: 0, image, name }, transferable(image), { signal });
  }

  /** The union of `masks` as an 8-bit grayscale PNG (0 / 255) of width × height. */
  encodeMaskPng(masks: readonly BoxMask[], width: number, height: number, signal?: AbortSignal): Promise<Uint8Array> {
    return this.request<Uint8Array>({ type: 'encodeMask', id: 0, masks: [...masks], width, height }, [], { signal });
  }

  /**
   * Renders and writes one segmented image's files (all or none); resolves with
   * the paths written. A file in the way without `overwrite` rejects with
   * OutputWriteError 'exists'; an unwritable folder with 'read-only'.
   */
  exportImage(request: ExportImageRequest): Promise<string[]> {
    const { masks, targets, ...rest } = request;
    return this.request<string[]>({ type: 'exportImage', id: 0, ...rest, masks: [...masks], targets: [...targets] }, []);
  }

  /** How many images a batch would export, and how many of them have files already. */
  planBatch(inputs: readonly string[], formats: readonly ExportFormatId[], output: Pick<ExportOutputOptions, 'outDir' | 'names'>, signal?: AbortSignal): Promise<BatchPlan> {
    return this.request<BatchPlan>({ type: 'planBatch', id: 0, inputs: [...inputs], formats: [...formats], output }, [], { signal });
  }

  /**
   * Segments and exports every image of `inputs` in the worker (exportBatch of
   * src/core/export/batch.ts). Resolves with the summary, also when cancelled
   * through `signal`; rejects for invalid options, or when the worker stops.
   */
  batchExport(request: BatchExportRequest): Promise<BatchSummaryReport> {
    const { signal, onPhase, onConverting, onProgress, onImage, inputs, formats, ...job } = request;
    return this.request<BatchSummaryReport>({ type: 'batchExport', id: 0, ...job, inputs: [...inputs], formats: [...formats] }, [], {
      signal,
      onAbort: 'answer',
      callbacks: { ...(onPhase ? { onPhase } : {}), ...(onConverting ? { onConverting } : {}), ...(onProgress ? { onProgress } : {}), ...(onImage ? { onImage } : {}) },
    });
  }

  /**
   * Ranks `request.result`'s masks by a text with CLIP in the worker: best first,
   * as positions in `result.masks` with their text scores. Rejects with the
   * CLIP model's one-line error when it is missing or broken.
   */
  textQuery(request: TextQueryRequest): Promise<{ index: number; score: number }[]> {
    const { image, signal, onProgress, ...job } = request;
    return this.request<{ index: number; score: number }[]>({ type: 'textQuery', id: 0, ...job, image }, transferable(image), {
      signal,
      ...(onProgress ? { callbacks: { onTextProgress: onProgress } } : {}),
    });
  }

  /** The worker's CLIP run counters (zeros before any text query). */
  clipCounters(): Promise<WorkerClipCounters> {
    return this.request<WorkerClipCounters>({ type: 'clipCounters', id: 0 }, []);
  }

  /** Stops the worker (freeing the model's memory); pending requests are cancelled. The next request starts it again. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.detach(worker);
    this.failPending(new CancelledError('The segmentation engine was stopped'));
    await worker.terminate();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.modelListeners.clear();
    await this.stop();
  }

  private request<T>(message: HostToWorker, transfer: ArrayBuffer[], options: RequestOptions = {}): Promise<T> {
    const { signal } = options;
    if (this.disposed) return Promise.reject(new CancelledError('The segmentation engine was shut down'));
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const id = this.nextId++;
    const worker = this.ensureWorker();
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.updateRef();
      };
      const onAbort = (): void => {
        if (!this.pending.has(id)) return;
        worker.postMessage({ type: 'cancel', id } satisfies HostToWorker);
        if (options.onAbort === 'answer') return;
        this.pending.delete(id);
        if (options.onLateAnswer) this.late.set(id, options.onLateAnswer);
        done();
        reject(new CancelledError());
      };
      this.pending.set(id, {
        resolve: (value) => {
          done();
          resolve(value as T);
        },
        reject: (error) => {
          done();
          reject(error);
        },
        ...options.callbacks,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.updateRef();
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Pending requests, and answers still wanted, keep the process alive; an idle worker must not (the extension host, a test runner at exit). */
  private updateRef(): void {
    if (this.pending.size > 0 || this.late.size > 0) this.worker?.ref();
    else this.worker?.unref();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.workerPath);
    let failure: Error | undefined;
    worker.on('message', (message: WorkerToHost) => this.onMessage(message));
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('messageerror', (error) => {
      this.options.logger.warn(`The segmentation engine sent a message that could not be read: ${error.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.detach(worker);
      const reason = failure ? failure.message : `exit code ${code}`;
      this.options.logger.warn(`The segmentation engine stopped unexpectedly (${reason})${failure?.stack ? `\n${failure.stack}` : ''}`);
      this.failPending(
        new EngineCrashedError(`The segmentation engine stopped unexpectedly (${reason}). It restarts with the next request; details are in the FastSAM log.`),
      );
    });
    this.worker = worker;
    return worker;
  }

  private detach(worker: Worker): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.loaded) {
      this.loaded = undefined;
      for (const l of this.modelListeners) l(undefined);
    }
  }

  private failPending(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.late.clear();
    for (const p of pending) p.reject(error);
  }

  private onMessage(message: WorkerToHost): void {
    switch (message.type) {
      case 'log':
        if (message.level === 'warn') this.options.logger.warn(message.message);
        else this.options.logger.info(message.message);
        return;
      case 'modelLoaded':
        this.loaded = { path: message.path, executionProvider: message.executionProvider };
        this.failure = undefined;
        for (const l of this.modelListeners) l(this.loaded);
        return;
      case 'modelReleased':
        this.loaded = undefined;
        for (const l of this.modelListeners) l(undefined);
        return;
      case 'modelFailed':
        this.failure = { path: message.path, executionProvider: message.executionProvider, message: message.message };
        for (const l of this.modelListeners) l(undefined);
        return;
      case 'phase':
        this.pending.get(message.id)?.onPhase?.(message.phase);
        return;
      case 'batchProgress':
        this.pending.get(message.id)?.onProgress?.(message.progress);
        return;
      case 'batchImage':
        this.pending.get(message.id)?.onImage?.(message.report);
        return;
      case 'textProgress':
        this.pending.get(message.id)?.onTextProgress?.(message.message);
        return;
      case 'converting':
        this.pending.get(message.id)?.onConverting?.({ checkpoint: message.checkpoint, fraction: message.fraction });
        return;
    }
    const pending = this.pending.get(message.id);
    // Absent when the request was cancelled: the worker's late answer goes to whoever asked for it, or nowhere.
    if (!pending) {
      const late = this.late.get(message.id);
      // Every request is answered, 'failed' when it did stop: the entry goes either way.
      if (this.late.delete(message.id)) this.updateRef();
      if (late && message.type === 'segmented') late(message.result);
      return;
    }
    this.pending.delete(message.id);
    switch (message.type) {
      case 'segmented':
        pending.resolve(message.result);
        break;
      case 'probed':
        pending.resolve(message.header);
        break;
      case 'encoded':
        pending.resolve(message.png);
        break;
      case 'exported':
        pending.resolve(message.written);
        break;
      case 'batchPlanned':
        pending.resolve(message.plan);
        break;
      case 'batchDone':
        pending.resolve(message.summary);
        break;
      case 'textRanked':
        pending.resolve(message.ranked);
        break;
      case 'clipCounters':
        pending.resolve(message.counters);
        break;
      case 'modelResolved':
        pending.resolve({ path: message.path, converted: message.converted } satisfies ResolvedModel);
        break;
      case 'failed':
        pending.reject(deserializeError(message.error));
        break;
    }
  }
}

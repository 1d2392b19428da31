/**
 * The engine's thread (bundled to dist/engine-worker.js). Decoding, the
 * letterbox, inference and mask assembly take seconds of CPU on a large image;
 * here they never stall the extension host's event loop, and the native
 * libraries (onnxruntime, libvips) load off it too. Must not import 'vscode':
 * worker threads have no extension API.
 *
 * Segmentations run one at a time in arrival order (they compete for the same
 * cores, and one 12-megapixel decode at a time bounds memory); a batch export
 * queues its images one by one, so the editors' requests get their turn
 * between two of its images. Header reads, mask encoding and one image's
 * export are short and answered at once, between the stages of a running
 * segmentation.
 */
import { parentPort } from 'node:worker_threads';
import * as path from 'node:path';
import { FastSamEngine, type SegmentationResult } from '../../core/engine';
import { CancelledError, ModelError, throwIfCancelled, UserFacingError } from '../../core/errors';
import { type BatchEngine, collectImages, exportBatch, type ImageReport } from '../../core/export/batch';
import { pendingOutputs, planOutputs, renderOutputs } from '../../core/export/formats';
import { ensureFolder } from '../../core/io/atomic-write';
import { selectionMaskPng } from '../../core/export/mask-images';
import { openImage } from '../../core/image/decode';
import { ImageInputError } from '../../core/image/errors';
import { OutputWriteError, writeFilesAtomic } from '../../core/io/atomic-write';
import type { Logger } from '../../core/logger';
import { ClipHost } from './clip-host';
import { resolveModelFile } from '../../core/models/convert';
import type {
  BatchExportJob,
  BatchImageReport,
  EncodeMaskJob,
  ExportImageJob,
  HostToWorker,
  ModelSpec,
  PlanBatchJob,
  ProbeJob,
  ResolveModelJob,
  SegmentJob,
  SerializedError,
  TextQueryJob,
  WorkerToHost,
} from './messages';

if (!parentPort) throw new Error('engine-worker.js runs as a worker thread of the FastSAM extension');
const port = parentPort;

function send(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

const logger: Logger = {
  info: (message) => send({ type: 'log', level: 'info', message }),
  warn: (message) => send({ type: 'log', level: 'warn', message }),
};

function serializeError(e: unknown): SerializedError {
  if (e instanceof CancelledError) return { kind: 'cancelled', message: e.message };
  if (e instanceof ModelError) return { kind: 'model', code: e.code, message: e.message };
  if (e instanceof OutputWriteError) return { kind: 'write', code: e.code, path: e.path, message: e.message };
  if (e instanceof UserFacingError || e instanceof ImageInputError) return { kind: 'user', message: e.message };
  const error = e instanceof Error ? e : new Error(String(e));
  return { kind: 'internal', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
}

let loaded: { spec: ModelSpec; engine: FastSamEngine } | undefined;

function holds(spec: ModelSpec): boolean {
  const held = loaded?.spec;
  return held !== undefined && held.path === spec.path && held.executionProvider === spec.executionProvider && held.mtimeMs === spec.mtimeMs && held.size === spec.size;
}

/** The ONNX file of a model path, converting a checkpoint (reported to request `owner`) when it has no up-to-date conversion. */
async function onnxFileFor(modelPath: string, conversionFolder: string | undefined, owner: number, signal: AbortSignal): Promise<{ path: string; converted: boolean }> {
  let converted = false;
  const checkpoint = path.basename(modelPath);
  const onnx = await resolveModelFile(modelPath, {
    signal,
    logger,
    ...(conversionFolder !== undefined ? { fallbackFolder: conversionFolder } : {}),
    onProgress: ({ fraction }) => {
      converted = true;
      send({ type: 'converting', id: owner, checkpoint, fraction });
    },
  });
  return { path: onnx, converted };
}

async function engineFor(spec: ModelSpec, owner: number, signal: AbortSignal): Promise<FastSamEngine> {
  if (loaded && holds(spec)) return loaded.engine;
  const previous = loaded;
  loaded = undefined;
  // The old session's memory (possibly on a GPU) goes before the new one is allocated.
  if (previous) {
    try {
      await previous.engine.dispose();
    } finally {
      send({ type: 'modelReleased' });
    }
  }
  let engine: FastSamEngine;
  try {
    const onnx = await onnxFileFor(spec.path, spec.conversionFolder, owner, signal);
    engine = await FastSamEngine.create({ modelPath: onnx.path, executionProvider: spec.executionProvider, logger });
  } catch (e) {
    if (!(e instanceof CancelledError)) send({ type: 'modelFailed', path: spec.path, executionProvider: spec.executionProvider, message: serializeError(e).message });
    throw e;
  }
  // Announced under the configured path (a checkpoint's, not its conversion's): what the host compares with its settings.
  loaded = { spec, engine };
  send({ type: 'modelLoaded', path: spec.path, executionProvider: engine.executionProvider });
  return engine;
}

/** The masks' buffers, each once (transferring one twice is an error). */
function maskBuffers(result: SegmentationResult): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const m of result.masks) buffers.add(m.mask.bits.buffer as ArrayBuffer);
  return [...buffers];
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Work that needs the engine, in arrival order. `owner` is the request's id:
 * cancelling it aborts its signal, and drops its tasks still waiting (`drop`
 * tells whoever waits for them).
 */
interface EngineTask {
  owner: number;
  run(): Promise<void>;
  drop(): void;
}

const queue: EngineTask[] = [];
let running: EngineTask | undefined;
/** The signal of every request in progress, by id. */
const controllers = new Map<number, AbortController>();

function enqueue(task: EngineTask): void {
  queue.push(task);
  void drain();
}

async function drain(): Promise<void> {
  while (!running && queue.length > 0) {
    const task = queue.shift()!;
    running = task;
    try {
      await task.run();
    } finally {
      running = undefined;
    }
  }
}

function cancel(id: number): void {
  controllers.get(id)?.abort();
  for (let i = queue.length - 1; i >= 0; i--) {
    if (queue[i]!.owner === id) queue.splice(i, 1)[0]!.drop();
  }
}

/** Runs `fn` in the engine's turn (one task at a time); rejects with CancelledError if cancelled before then. */
function inTurn<T>(owner: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    enqueue({
      owner,
      drop: () => reject(new CancelledError()),
      run: async () => {
        try {
          throwIfCancelled(signal);
          resolve(await fn());
        } catch (e) {
          reject(e);
        }
      },
    });
  });
}

/** Runs `fn` in the engine's turn; `fn` gets the engine for `model`, loaded (and announced) when it is not yet. */
function withEngine<T>(owner: number, model: ModelSpec, signal: AbortSignal, fn: (engine: FastSamEngine) => Promise<T>): Promise<T> {
  return inTurn(owner, signal, async () => {
    if (!holds(model)) send({ type: 'phase', id: owner, phase: 'loading-model' });
    const engine = await engineFor(model, owner, signal);
    throwIfCancelled(signal);
    return fn(engine);
  });
}

/** A request with a signal of its own; `fn`'s errors become its 'failed' answer. */
async function track(id: number, fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    await fn(controller.signal);
  } catch (e) {
    send({ type: 'failed', id, error: serializeError(e) });
  } finally {
    controllers.delete(id);
  }
}

function segment(job: SegmentJob): Promise<void> {
  return track(job.id, async (signal) => {
    const result = await withEngine(job.id, job.model, signal, async (engine) => {
      send({ type: 'phase', id: job.id, phase: 'segmenting' });
      const image = await openImage(asBuffer(job.image), { name: job.name });
      return engine.segment(image, { imageSize: job.imageSize, confidence: job.confidence, iou: job.iou, maxDetections: job.maxDetections, signal });
    });
    send({ type: 'segmented', id: job.id, result }, maskBuffers(result));
  });
}

/** One image's files, written together; the host chose the paths and whether to replace files. */
async function exportImage(job: ExportImageJob): Promise<void> {
  try {
    for (const folder of new Set(job.targets.map((t) => path.dirname(t.path)))) await ensureFolder(folder);
    const files = await renderOutputs({ imagePath: job.imagePath, result: { width: job.width, height: job.height }, masks: job.masks }, job.targets, job.formatOptions);
    await writeFilesAtomic(files, { overwrite: job.overwrite });
    send({ type: 'exported', id: job.id, written: files.map((f) => f.path) });
  } catch (e) {
    send({ type: 'failed', id: job.id, error: serializeError(e) });
  }
}

async function planBatch(job: PlanBatchJob): Promise<void> {
  try {
    const { images, unreadable } = await collectImages(job.inputs, job.output.names);
    let withFiles = 0;
    for (const image of images) {
      const { existing } = await pendingOutputs(planOutputs(image, job.formats, job.output), false);
      if (existing.length > 0) withFiles++;
    }
    send({ type: 'batchPlanned', id: job.id, plan: { images: images.length, withFiles, unreadable: unreadable.map((u) => u.path) } });
  } catch (e) {
    send({ type: 'failed', id: job.id, error: serializeError(e) });
  }
}

function imageReport(r: ImageReport): BatchImageReport {
  if (r.status === 'failed') return { status: 'failed', image: r.image, message: r.message };
  if (r.status === 'skipped') return { status: 'skipped', image: r.image, files: r.files };
  return { status: 'written', image: r.image, files: r.files, kept: r.kept, masks: r.masks };
}

function batchExport(job: BatchExportJob): Promise<void> {
  return track(job.id, async (signal) => {
    const engine: BatchEngine = {
      segment: (image) =>
        withEngine(job.id, job.model, signal, (e) => e.segment(image, { imageSize: job.imageSize, confidence: job.confidence, iou: job.iou, maxDetections: job.maxDetections, signal })),
    };
    const summary = await exportBatch({
      inputs: job.inputs,
      formats: job.formats,
      engine,
      output: job.output,
      formatOptions: job.formatOptions,
      cocoDataset: job.cocoDataset,
      signal,
      onProgress: (progress) => send({ type: 'batchProgress', id: job.id, progress }),
      onImage: (report) => send({ type: 'batchImage', id: job.id, report: imageReport(report) }),
    });
    const stopped = summary.stopped;
    send({
      type: 'batchDone',
      id: job.id,
      summary: {
        total: summary.total,
        written: summary.written.length,
        skipped: summary.skipped.length,
        failed: summary.failed.map((f) => ({ image: f.image, message: f.message })),
        remaining: summary.remaining,
        ...(stopped ? { stopped: stopped.reason === 'fatal' ? { reason: 'fatal', message: stopped.message } : { reason: 'cancelled' } } : {}),
        ...(summary.dataset ? { dataset: summary.dataset } : {}),
      },
    });
  });
}

/** Converts in the engine's turn: a conversion and a segmentation would compete for the same cores. */
function resolveModel(job: ResolveModelJob): Promise<void> {
  return track(job.id, async (signal) => {
    const onnx = await inTurn(job.id, signal, () => onnxFileFor(job.path, job.conversionFolder, job.id, signal));
    send({ type: 'modelResolved', id: job.id, path: onnx.path, converted: onnx.converted });
  });
}

async function probe(job: ProbeJob): Promise<void> {
  try {
    const { info } = await openImage(asBuffer(job.image), { name: job.name });
    send({ type: 'probed', id: job.id, header: { width: info.width, height: info.height, orientation: info.orientation, format: info.format } });
  } catch (e) {
    send({ type: 'failed', id: job.id, error: serializeError(e) });
  }
}

function encodeMask(job: EncodeMaskJob): void {
  try {
    const png = selectionMaskPng(job.masks, job.width, job.height);
    const copy = new Uint8Array(png.byteLength);
    // Buffers may be slices of a shared pool, which cannot be transferred; a copy can.
    copy.set(png);
    send({ type: 'encoded', id: job.id, png: copy }, [copy.buffer]);
  } catch (e) {
    send({ type: 'failed', id: job.id, error: serializeError(e) });
  }
}

const clip = new ClipHost({ logger, progress: (id, message) => send({ type: 'textProgress', id, message }) });

/** A text query waits its turn with the segmentations: CLIP's vision model competes for the same cores. */
function textQuery(job: TextQueryJob): Promise<void> {
  return track(job.id, async (signal) => {
    const ranked = await inTurn(job.id, signal, () => clip.query(job, signal));
    send({ type: 'textRanked', id: job.id, ranked });
  });
}

port.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'textQuery':
      void textQuery(message);
      break;
    case 'clipCounters':
      send({ type: 'clipCounters', id: message.id, counters: clip.counters });
      break;
    case 'segment':
      void segment(message);
      break;
    case 'probe':
      void probe(message);
      break;
    case 'encodeMask':
      encodeMask(message);
      break;
    case 'exportImage':
      void exportImage(message);
      break;
    case 'planBatch':
      void planBatch(message);
      break;
    case 'batchExport':
      void batchExport(message);
      break;
    case 'resolveModel':
      void resolveModel(message);
      break;
    case 'cancel':
      cancel(message.id);
      break;
    default:
      throw new Error(`internal: unknown request ${JSON.stringify((message as { type?: unknown }).type)}`);
  }
});

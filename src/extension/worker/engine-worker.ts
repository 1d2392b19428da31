/**
 * The engine's thread (bundled to dist/engine-worker.js). Decoding, the
 * letterbox, inference and mask assembly take seconds of CPU on a large image;
 * here they never stall the extension host's event loop, and the native
 * libraries (onnxruntime, libvips) load off it too. Must not import 'vscode':
 * worker threads have no extension API.
 *
 * Segmentations run one at a time in arrival order (they compete for the same
 * cores, and one 12-megapixel decode at a time bounds memory). Header reads and
 * mask encoding are short and answered at once, between the stages of a
 * running segmentation.
 */
import { parentPort } from 'node:worker_threads';
import { FastSamEngine, type SegmentationResult } from '../../core/engine';
import { CancelledError, ModelError, UserFacingError } from '../../core/errors';
import { selectionMaskPng } from '../../core/export/mask-images';
import { openImage } from '../../core/image/decode';
import { ImageInputError } from '../../core/image/errors';
import type { Logger } from '../../core/logger';
import { ClipHost } from './clip-host';
import type { EncodeMaskJob, HostToWorker, ModelSpec, ProbeJob, SegmentJob, SerializedError, TextQueryJob, WorkerToHost } from './messages';

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
  if (e instanceof UserFacingError || e instanceof ImageInputError) return { kind: 'user', message: e.message };
  const error = e instanceof Error ? e : new Error(String(e));
  return { kind: 'internal', message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
}

let loaded: { spec: ModelSpec; engine: FastSamEngine } | undefined;

function holds(spec: ModelSpec): boolean {
  const held = loaded?.spec;
  return held !== undefined && held.path === spec.path && held.executionProvider === spec.executionProvider && held.mtimeMs === spec.mtimeMs && held.size === spec.size;
}

async function engineFor(spec: ModelSpec): Promise<FastSamEngine> {
  if (loaded && holds(spec)) return loaded.engine;
  const previous = loaded;
  loaded = undefined;
  // The old session's memory (possibly on a GPU) goes before the new one is allocated.
  await previous?.engine.dispose();
  const engine = await FastSamEngine.create({ modelPath: spec.path, executionProvider: spec.executionProvider, logger });
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

/** Segmentations and text queries, in arrival order: CLIP's vision model competes for the same cores. */
const queue: (SegmentJob | TextQueryJob)[] = [];
let running: { id: number; controller: AbortController } | undefined;

async function runSegment(job: SegmentJob, signal: AbortSignal): Promise<void> {
  if (!holds(job.model)) send({ type: 'phase', id: job.id, phase: 'loading-model' });
  const engine = await engineFor(job.model);
  if (signal.aborted) throw new CancelledError();
  send({ type: 'phase', id: job.id, phase: 'segmenting' });
  const image = await openImage(asBuffer(job.image), { name: job.name });
  const result = await engine.segment(image, {
    imageSize: job.imageSize,
    confidence: job.confidence,
    iou: job.iou,
    maxDetections: job.maxDetections,
    signal,
  });
  send({ type: 'segmented', id: job.id, result }, maskBuffers(result));
}

const clip = new ClipHost({ logger, progress: (id, message) => send({ type: 'textProgress', id, message }) });

async function drain(): Promise<void> {
  while (!running && queue.length > 0) {
    const job = queue.shift()!;
    const controller = new AbortController();
    running = { id: job.id, controller };
    try {
      if (job.type === 'textQuery') send({ type: 'textRanked', id: job.id, ranked: await clip.query(job, controller.signal) });
      else await runSegment(job, controller.signal);
    } catch (e) {
      send({ type: 'failed', id: job.id, error: serializeError(e) });
    } finally {
      running = undefined;
    }
  }
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

port.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'segment':
    case 'textQuery':
      queue.push(message);
      void drain();
      break;
    case 'clipCounters':
      send({ type: 'clipCounters', id: message.id, counters: clip.counters });
      break;
    case 'probe':
      void probe(message);
      break;
    case 'encodeMask':
      encodeMask(message);
      break;
    case 'cancel': {
      if (running?.id === message.id) {
        running.controller.abort();
      } else {
        const i = queue.findIndex((j) => j.id === message.id);
        if (i >= 0) queue.splice(i, 1);
      }
      break;
    }
    default:
      throw new Error(`internal: unknown request ${JSON.stringify((message as { type?: unknown }).type)}`);
  }
});

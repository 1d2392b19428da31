/**
 * Messages between the extension host (src/extension/engine-client.ts) and the
 * engine worker (engine-worker.ts). Structured clone carries them, so typed
 * arrays cross as they are, and the large ones are transferred, not copied.
 */
import type { SegmentationResult, SegmentedMask } from '../../core/engine';
import type { BatchProgress, DatasetReport } from '../../core/export/batch';
import type { ExportFormatId, ExportOutputOptions, PlannedOutput } from '../../core/export/format-names';
import type { FormatOptions } from '../../core/export/formats';
import type { BoxMask } from '../../core/masks/box-mask';
import type { ExecutionProviderChoice } from '../../core/model/segmentation-model';

/** Which model to run; the worker reloads when any field differs from the model it holds. */
export interface ModelSpec {
  path: string;
  executionProvider: ExecutionProviderChoice;
  /** The file's modification time and size: a model replaced at the same path is loaded again. */
  mtimeMs: number;
  size: number;
  /**
   * A checkpoint (.pt) is converted to ONNX before it is loaded, next to it, or
   * in this folder (the extension's global storage) when its own is read-only.
   */
  conversionFolder?: string;
}

export interface SegmentParameters {
  imageSize: number;
  confidence: number;
  iou: number;
  maxDetections: number;
}

// ---- host → worker ---------------------------------------------------------

export interface SegmentJob extends SegmentParameters {
  type: 'segment';
  id: number;
  model: ModelSpec;
  /** The image file's bytes (transferred). */
  image: Uint8Array;
  /** How error messages name the image. */
  name: string;
}

/** Reads an image's header; answered at once, even while a segmentation runs. */
export interface ProbeJob {
  type: 'probe';
  id: number;
  /** The image file's bytes (transferred). */
  image: Uint8Array;
  name: string;
}

/** Encodes the union of masks as an 8-bit PNG; answered at once, even while a segmentation runs. */
export interface EncodeMaskJob {
  type: 'encodeMask';
  id: number;
  masks: BoxMask[];
  width: number;
  height: number;
}

/** Stops a job: a queued one is dropped, a running one stops at its next stage. */
export interface CancelJob {
  type: 'cancel';
  id: number;
}

/**
 * Renders one segmented image's files and writes them together, atomically
 * (renderOutputs + writeFilesAtomic of src/core/export/formats.ts); answered at
 * once, even while a segmentation runs. The host has chosen the paths and
 * whether to replace files; a file in the way without `overwrite` is a 'write'
 * error with code 'exists', and nothing is written.
 */
export interface ExportImageJob {
  type: 'exportImage';
  id: number;
  imagePath: string;
  /** The segmented size (the image as displayed); an image now of another size is an error. */
  width: number;
  height: number;
  /** In the order the formats list them. */
  masks: SegmentedMask[];
  targets: PlannedOutput[];
  formatOptions: FormatOptions;
  overwrite: boolean;
}

/** What a batch would do: its images, and how many already have files (so the host knows whether to ask about them). */
export interface PlanBatchJob {
  type: 'planBatch';
  id: number;
  inputs: string[];
  formats: ExportFormatId[];
  output: Pick<ExportOutputOptions, 'outDir' | 'names'>;
}

/**
 * exportBatch of src/core/export/batch.ts with the worker's engine: each
 * image's segmentation waits its turn with the editors' (so an editor opened
 * during a long batch is served between two images). Reports progress and
 * each image as it goes; a cancel stops it before the next image (the current
 * segmentation at its next stage) and it still answers with its summary.
 */
export interface BatchExportJob extends SegmentParameters {
  type: 'batchExport';
  id: number;
  model: ModelSpec;
  inputs: string[];
  formats: ExportFormatId[];
  output: ExportOutputOptions;
  formatOptions: FormatOptions;
  /** Write `_annotations.coco.json` for the whole batch (with the coco format). */
  cocoDataset: boolean;
}

/**
 * The ONNX file for a model path (resolveModelFile of src/core/models/convert.ts):
 * a checkpoint is converted, which takes seconds of CPU, so it waits its turn
 * with the segmentations. Reports 'converting' while it converts.
 */
export interface ResolveModelJob {
  type: 'resolveModel';
  id: number;
  path: string;
  conversionFolder?: string;
}

/** Which CLIP to run for text queries; the worker reloads it when any field differs from the one it holds. */
export interface ClipSpec {
  /** Hub id or absolute local folder (the host resolved a workspace-relative one). */
  model: string;
  /** Where Hub downloads are cached (the extension's global storage). */
  cacheDir: string;
  allowRemote: boolean;
}

/**
 * Ranks a segmentation's masks by a text with CLIP. The first query for a result
 * (`key`: its result-cache key) loads CLIP if needed and embeds the masks' crops
 * from `image`; the embeddings stay in the worker, so later queries on the same
 * result run only the text encoder. The result and image travel every time
 * because the worker keeps a bounded number of embeddings and may have let them go.
 */
export interface TextQueryJob {
  type: 'textQuery';
  id: number;
  clip: ClipSpec;
  key: string;
  result: SegmentationResult;
  /** The image file's bytes (transferred). */
  image: Uint8Array;
  name: string;
  text: string;
}

/** The CLIP model's run counters; answered at once (the extension-host tests prove what a query cost with them). */
export interface ClipCountersJob {
  type: 'clipCounters';
  id: number;
}

export type HostToWorker = SegmentJob | ProbeJob | EncodeMaskJob | ExportImageJob | PlanBatchJob | BatchExportJob | TextQueryJob | ClipCountersJob | ResolveModelJob | CancelJob;

// ---- worker → host ---------------------------------------------------------

export type WorkerPhase = 'loading-model' | 'segmenting';

/** What a text query is doing ("Loading CLIP…", "Embedding 12 masks…"), for the user. */
export interface TextProgressMessage {
  type: 'textProgress';
  id: number;
  message: string;
}

export interface TextRankedMessage {
  type: 'textRanked';
  id: number;
  /** Every candidate mask (position in `result.masks`), best first, with its text score. */
  ranked: { index: number; score: number }[];
}

/** ClipCounters of src/core/clip, summed over the CLIP models this worker loaded, and how many it loaded. */
export interface WorkerClipCounters {
  loads: number;
  visionRuns: number;
  imagesEmbedded: number;
  textRuns: number;
  textCacheHits: number;
}

export interface ClipCountersMessage {
  type: 'clipCounters';
  id: number;
  counters: WorkerClipCounters;
}

export interface PhaseMessage {
  type: 'phase';
  id: number;
  phase: WorkerPhase;
}

/** A checkpoint is being converted to ONNX, for a resolveModel job or before a model loads. */
export interface ConvertingMessage {
  type: 'converting';
  id: number;
  /** The checkpoint's file name. */
  checkpoint: string;
  /** 0..1. */
  fraction: number;
}

export interface ModelResolvedMessage {
  type: 'modelResolved';
  id: number;
  /** The ONNX file to load. */
  path: string;
  /** Whether it was converted now (not found up to date). */
  converted: boolean;
}

export interface ModelLoadedMessage {
  type: 'modelLoaded';
  path: string;
  /** The provider in use (what 'auto' resolved to). */
  executionProvider: string;
}

/** The held model was released to load another: until `modelLoaded`, the worker holds none. */
export interface ModelReleasedMessage {
  type: 'modelReleased';
}

/** A model could not be loaded (a cancelled load is not reported): the worker holds none. */
export interface ModelFailedMessage {
  type: 'modelFailed';
  /** As configured, like `ModelLoadedMessage.path`. */
  path: string;
  /** The provider asked for (the setting, e.g. 'auto'). */
  executionProvider: string;
  /** Why, written for the user. */
  message: string;
}

export interface SegmentedMessage {
  type: 'segmented';
  id: number;
  result: SegmentationResult;
}

/** What the editor needs to show an image before any segmentation. */
export interface ImageHeader {
  /** Size as displayed (EXIF orientation applied). */
  width: number;
  height: number;
  /** The EXIF orientation, 1 when none. */
  orientation: number;
  format: string;
}

export interface ProbedMessage {
  type: 'probed';
  id: number;
  header: ImageHeader;
}

export interface EncodedMessage {
  type: 'encoded';
  id: number;
  png: Uint8Array;
}

export interface ExportedMessage {
  type: 'exported';
  id: number;
  /** The files written, in the order of the job's targets. */
  written: string[];
}

export interface BatchPlan {
  /** Images found (folders walked recursively). */
  images: number;
  /** Images of which at least one file to export exists already. */
  withFiles: number;
  /** Folders that could not be read. */
  unreadable: string[];
}

export interface BatchPlannedMessage {
  type: 'batchPlanned';
  id: number;
  plan: BatchPlan;
}

export interface BatchProgressMessage {
  type: 'batchProgress';
  id: number;
  progress: BatchProgress;
}

/** batch.ts's ImageReport without the error object (its message says it all). */
export type BatchImageReport =
  | { status: 'written'; image: string; files: string[]; kept: string[]; masks: number }
  | { status: 'skipped'; image: string; files: string[] }
  | { status: 'failed'; image: string; message: string };

export interface BatchImageMessage {
  type: 'batchImage';
  id: number;
  report: BatchImageReport;
}

/** batch.ts's BatchSummary, counted: each image was reported on its own as it happened. */
export interface BatchSummaryReport {
  total: number;
  written: number;
  skipped: number;
  failed: { image: string; message: string }[];
  /** Images not reached because the batch stopped. */
  remaining: number;
  stopped?: { reason: 'cancelled' } | { reason: 'fatal'; message: string };
  dataset?: DatasetReport;
}

export interface BatchDoneMessage {
  type: 'batchDone';
  id: number;
  summary: BatchSummaryReport;
}

/**
 * How an error crosses the thread boundary: its kind decides the class the host
 * rebuilds ('user' and 'model' messages are shown as they are; 'internal' is a bug).
 */
export interface SerializedError {
  kind: 'cancelled' | 'model' | 'user' | 'write' | 'internal';
  message: string;
  /** ModelError's code, for 'model'; OutputWriteError's, for 'write'. */
  code?: string;
  /** The file an OutputWriteError ('write') is about. */
  path?: string;
  stack?: string;
}

export interface FailedMessage {
  type: 'failed';
  id: number;
  error: SerializedError;
}

export interface LogMessage {
  type: 'log';
  level: 'info' | 'warn';
  message: string;
}

export type WorkerToHost =
  | PhaseMessage
  | ModelLoadedMessage
  | ModelReleasedMessage
  | ModelFailedMessage
  | SegmentedMessage
  | ProbedMessage
  | EncodedMessage
  | ExportedMessage
  | BatchPlannedMessage
  | BatchProgressMessage
  | BatchImageMessage
  | BatchDoneMessage
  | TextProgressMessage
  | TextRankedMessage
  | ClipCountersMessage
  | FailedMessage
  | ConvertingMessage
  | ModelResolvedMessage
  | LogMessage;

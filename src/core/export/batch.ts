/**
 * Batch export: segment many images and write the chosen formats for each,
 * for the CLI (`fastsam segment <folder> --format …`) and the extension's
 * Explorer command "Export Masks…".
 *
 * - Inputs are files and folders; folders are walked recursively for image
 *   files (by extension), in sorted order, so every run sees the same list.
 * - An image whose files all exist is skipped without being segmented, unless
 *   `output.overwrite`; when only some exist, the missing ones are written.
 *   Files are written atomically per image, so a cancelled or crashed run
 *   leaves only complete images behind and running it again continues where
 *   it stopped.
 * - An image that fails is reported and the batch goes on; a full disk or a
 *   model that cannot run stops it, since every further image would fail too.
 * - With `cocoDataset`, one COCO file for all images is written at the end,
 *   built from the per-image COCO files (written now or by an earlier run), so
 *   a resumed batch produces the same dataset as an uninterrupted one.
 */
import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import type { SegmentationResult, SegmentedMask } from '../engine';
import { CancelledError, ModelError, UserFacingError } from '../errors';
import { ensureFolder, OutputWriteError, writeFilesAtomic } from '../io/atomic-write';
import { selectEverything } from '../prompts/select';
import { mergeCocoFiles, parseCocoImageFile, stringifyCoco } from './coco';
import {
  type ExportFormatId,
  type ExportOutputOptions,
  fileNamePatterns,
  type FormatOptions,
  type ImageInput,
  isImageFileName,
  isOutputImageName,
  pendingOutputs,
  planOutputs,
  type PlannedOutput,
  relativeImagePath,
  renderOutputs,
} from './formats';

/** Anything that segments an image file: FastSamEngine, or the extension's worker client behind an adapter. */
export interface BatchEngine {
  segment(image: string, options: { signal?: AbortSignal }): Promise<SegmentationResult>;
}

/** Which masks of a result to export, in the order the formats list them. Throw (e.g. PromptError) to fail the image. */
export type ChooseMasks = (result: SegmentationResult, image: string) => readonly SegmentedMask[] | Promise<readonly SegmentedMask[]>;

/** Every mask, largest first: the default choice. */
export function everyMask(result: SegmentationResult): SegmentedMask[] {
  return selectEverything(result.masks).map((pick) => result.masks[pick[0]!]!);
}

/** The dataset file's name: Roboflow's, which COCO tools that read a folder of images with its annotations recognise. */
export const DATASET_FILE_NAME = '_annotations.coco.json';

export interface BatchProgress {
  /** Images finished (written, skipped or failed). */
  done: number;
  total: number;
  /** The image about to be processed; absent in the final call. */
  image?: string;
  elapsedMs: number;
  /** Estimated from the images segmented so far (skipped ones are near-instant); absent until one was. */
  remainingMs?: number;
}

export type ImageReport =
  | { status: 'written'; image: string; files: string[]; kept: string[]; masks: number }
  | { status: 'skipped'; image: string; files: string[] }
  | { status: 'failed'; image: string; message: string; error: unknown };

export type WrittenImage = Extract<ImageReport, { status: 'written' }>;
export type SkippedImage = Extract<ImageReport, { status: 'skipped' }>;
export type FailedImage = Extract<ImageReport, { status: 'failed' }>;

export interface DatasetReport {
  path: string;
  /** 'unchanged': the file existed with exactly this content. */
  status: 'written' | 'unchanged' | 'not-written';
  /** Why it was not written. */
  message?: string;
  images: number;
  annotations: number;
}

export interface BatchSummary {
  /** Images found. */
  total: number;
  written: WrittenImage[];
  /** Images whose files all existed. */
  skipped: SkippedImage[];
  /** Images that failed, and inputs that could not be read (a folder without permission). */
  failed: FailedImage[];
  /** Images not reached because the batch stopped. */
  remaining: number;
  stopped?: { reason: 'cancelled' } | { reason: 'fatal'; message: string; error: unknown };
  /** Present when a dataset was asked for. */
  dataset?: DatasetReport;
}

export interface BatchExportOptions {
  /** Image files and folders (walked recursively). */
  inputs: readonly string[];
  formats: readonly ExportFormatId[];
  engine: BatchEngine;
  output?: ExportOutputOptions;
  formatOptions?: FormatOptions;
  /** Default: every mask, largest first. */
  choose?: ChooseMasks;
  /**
   * Write one COCO dataset for the batch (needs 'coco' among the formats):
   * true for `_annotations.coco.json` in the output folder, or else in the
   * folder the inputs share; or the file's path.
   */
  cocoDataset?: boolean | string;
  /** Aborting stops before the next image (the current segmentation stops at its next stage). */
  signal?: AbortSignal;
  onProgress?: (progress: BatchProgress) => void;
  /** Each image's outcome, as it happens. */
  onImage?: (report: ImageReport) => void;
}

export interface CollectedImages {
  images: ImageInput[];
  /** The folder of each input: the folder itself, or a file's folder. */
  roots: string[];
  /** Folders that could not be read. */
  unreadable: { path: string; message: string }[];
}

/**
 * The images of the inputs: a file is taken as it is (even with another
 * extension, or missing: segmenting it then says what is wrong); a folder
 * gives its image files, recursively, sorted by path, skipping hidden files
 * and folders, symbolic links to folders (which could loop) and the export's
 * own image outputs (`*.mask.png`, … under `names`). An image listed twice is
 * taken once.
 */
export async function collectImages(inputs: readonly string[], names?: ExportOutputOptions['names']): Promise<CollectedImages> {
  const images: ImageInput[] = [];
  const roots: string[] = [];
  const unreadable: CollectedImages['unreadable'] = [];
  const seen = new Set<string>();
  const add = (image: ImageInput) => {
    const key = path.resolve(image.path);
    if (seen.has(key)) return;
    seen.add(key);
    images.push(image);
  };
  for (const input of inputs) {
    const isFolder = await fs.stat(input).then((s) => s.isDirectory(), () => false);
    if (!isFolder) {
      roots.push(path.dirname(input));
      add({ path: input, relativeDir: '' });
      continue;
    }
    roots.push(input);
    const found: string[] = [];
    const walk = async (relative: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(path.join(input, relative), { withFileTypes: true });
      } catch (e) {
        unreadable.push({ path: path.join(input, relative), message: `Cannot read the folder ${path.join(input, relative)}: ${(e as Error).message}` });
        return;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) await walk(rel);
        else if (isImageFileName(entry.name) && !isOutputImageName(rel, names)) {
          const isFile = entry.isFile() || (await fs.stat(path.join(input, rel)).then((s) => s.isFile(), () => false));
          if (isFile) found.push(rel);
        }
      }
    };
    await walk('');
    // Code-unit order, not the locale's: the same on every machine.
    found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const rel of found) {
      const dir = path.posix.dirname(rel);
      add({ path: path.join(input, rel), relativeDir: dir === '.' ? '' : dir });
    }
  }
  return { images, roots, unreadable };
}

/**
 * Every image's files are known up front, so that two images never write the same
 * file and no output replaces an input: for each image, why its planned files
 * cannot be written (a file that would be an input image, or one an earlier image
 * already claims), or undefined. `format` names the file in the message.
 */
export function outputConflicts(images: readonly ImageInput[], plans: readonly (readonly { format: string; path: string }[])[]): (string | undefined)[] {
  const inputPaths = new Set(images.map((image) => samePathKey(image.path)));
  const claimed = new Map<string, string>();
  return plans.map((targets, i): string | undefined => {
    for (const t of targets) {
      const key = samePathKey(t.path);
      if (inputPaths.has(key)) return `its ${t.format} file would be ${t.path}, an input image; write the files to another folder or under other names`;
      const other = claimed.get(key);
      if (other !== undefined) return `its ${t.format} file ${t.path} would also be ${other}'s; images with the same name need separate output folders`;
    }
    for (const t of targets) claimed.set(samePathKey(t.path), images[i]!.path);
    return undefined;
  });
}

/** A path as the file system tells paths apart: macOS and Windows ignore case by default (Cat.png is cat.png). */
function samePathKey(p: string): string {
  const resolved = path.resolve(p);
  return process.platform === 'darwin' || process.platform === 'win32' ? resolved.toLowerCase() : resolved;
}

/** `_annotations.coco.json` in the output folder, or in the folder shared by the inputs' roots. */
export function defaultDatasetPath(roots: readonly string[], output: ExportOutputOptions = {}): string {
  if (output.outDir !== undefined) return path.join(output.outDir, DATASET_FILE_NAME);
  const resolved = roots.map((r) => path.resolve(r));
  if (resolved.every((r) => r === resolved[0])) return path.join(roots[0] ?? '.', DATASET_FILE_NAME);
  let common = resolved[0]!.split(path.sep);
  for (const r of resolved.slice(1)) {
    const parts = r.split(path.sep);
    let k = 0;
    while (k < common.length && k < parts.length && common[k] === parts[k]) k++;
    common = common.slice(0, k);
  }
  return path.join(common.join(path.sep) || path.sep, DATASET_FILE_NAME);
}

/** Errors after which every further image would fail the same way. */
function isFatal(e: unknown): boolean {
  return (e instanceof OutputWriteError && e.code === 'no-space') || e instanceof ModelError;
}

function messageOf(e: unknown): string {
  return e instanceof UserFacingError ? e.message : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
}

/**
 * Runs the batch. Resolves with the summary also when cancelled or stopped;
 * rejects only for invalid options (no format, bad file names, a dataset
 * without the coco format, or one that would replace an image or its files),
 * before any image is segmented.
 */
export async function exportBatch(options: BatchExportOptions): Promise<BatchSummary> {
  const { formats, engine, signal } = options;
  const output = options.output ?? {};
  const overwrite = output.overwrite ?? false;
  const choose = options.choose ?? everyMask;
  if (formats.length === 0) throw new UserFacingError('No export format chosen');
  fileNamePatterns(formats, output.names); // rejects bad names before any work
  if (options.cocoDataset && !formats.includes('coco')) throw new UserFacingError('A COCO dataset file needs the coco format, whose per-image files it is built from');

  const started = performance.now();
  const { images, roots, unreadable } = await collectImages(options.inputs, output.names);
  const summary: BatchSummary = { total: images.length, written: [], skipped: [], failed: [], remaining: 0 };
  const report = (r: ImageReport) => {
    if (r.status === 'written') summary.written.push(r);
    else if (r.status === 'skipped') summary.skipped.push(r);
    else summary.failed.push(r);
    options.onImage?.(r);
  };
  for (const u of unreadable) report({ status: 'failed', image: u.path, message: u.message, error: new UserFacingError(u.message) });

  const plans = images.map((image) => planOutputs(image, formats, output));
  const conflicts = outputConflicts(images, plans);
  const datasetTarget = options.cocoDataset ? (typeof options.cocoDataset === 'string' ? options.cocoDataset : defaultDatasetPath(roots, output)) : undefined;
  if (datasetTarget !== undefined) {
    // The dataset is made from the images' own files, after them: it cannot be one of them, nor an image.
    const key = samePathKey(datasetTarget);
    const image = images.find((im) => samePathKey(im.path) === key);
    if (image) throw new UserFacingError(`The COCO dataset file ${datasetTarget} would replace the image ${image.path}; give the dataset another name`);
    for (const [i, targets] of plans.entries()) {
      const same = targets.find((t) => samePathKey(t.path) === key);
      if (same) throw new UserFacingError(`The COCO dataset file ${datasetTarget} would replace ${images[i]!.path}'s ${same.format} file; give the dataset another name`);
    }
  }

  const unwritableFolders = new Map<string, OutputWriteError>();
  let segmentedMs = 0;
  let segmentedCount = 0;
  const progress = (done: number, image?: string) => {
    const remainingMs = segmentedCount > 0 ? (segmentedMs / segmentedCount) * (images.length - done) : undefined;
    options.onProgress?.({ done, total: images.length, image, elapsedMs: performance.now() - started, remainingMs });
  };

  for (let i = 0; i < images.length; i++) {
    if (signal?.aborted) {
      summary.stopped = { reason: 'cancelled' };
      summary.remaining = images.length - i;
      break;
    }
    const image = images[i]!.path;
    progress(i, image);
    const t0 = performance.now();
    try {
      if (conflicts[i]) throw new UserFacingError(`${image}: ${conflicts[i]}`);
      const { pending, existing } = await pendingOutputs(plans[i]!, overwrite);
      if (pending.length === 0) {
        report({ status: 'skipped', image, files: existing.map((t) => t.path) });
        continue;
      }
      const folders = [...new Set(pending.map((t) => path.dirname(t.path)))];
      for (const folder of folders) {
        const failed = unwritableFolders.get(folder);
        if (failed) throw new OutputWriteError(failed.code, folder, `Not written, as for an earlier image: ${failed.message}`);
      }
      const result = await engine.segment(image, { signal });
      const masks = await choose(result, image);
      for (const folder of folders) {
        try {
          await ensureFolder(folder);
        } catch (e) {
          if (e instanceof OutputWriteError) unwritableFolders.set(folder, e);
          throw e;
        }
      }
      const files = await renderOutputs({ imagePath: image, result, masks }, pending, options.formatOptions);
      try {
        await writeFilesAtomic(files, { overwrite });
      } catch (e) {
        if (e instanceof OutputWriteError && e.code === 'read-only') unwritableFolders.set(path.dirname(e.path), e);
        throw e;
      }
      segmentedMs += performance.now() - t0;
      segmentedCount++;
      report({ status: 'written', image, files: pending.map((t) => t.path), kept: existing.map((t) => t.path), masks: masks.length });
    } catch (e) {
      if (e instanceof CancelledError) {
        summary.stopped = { reason: 'cancelled' };
        summary.remaining = images.length - i;
        break;
      }
      report({ status: 'failed', image, message: messageOf(e), error: e });
      if (isFatal(e)) {
        summary.stopped = { reason: 'fatal', message: messageOf(e), error: e };
        summary.remaining = images.length - i - 1;
        break;
      }
    }
  }

  if (datasetTarget !== undefined && !summary.stopped) {
    const cocoFiles = plans.map((targets) => targets.find((t) => t.format === 'coco')!);
    summary.dataset = await writeDataset(datasetTarget, images, cocoFiles, summary, overwrite);
  }
  if (!summary.stopped) progress(images.length);
  return summary;
}

/** The dataset from the per-image COCO files, when every image has one. */
async function writeDataset(target: string, images: readonly ImageInput[], cocoFiles: readonly PlannedOutput[], summary: BatchSummary, overwrite: boolean): Promise<DatasetReport> {
  const notWritten = (message: string): DatasetReport => ({ path: target, status: 'not-written', message, images: 0, annotations: 0 });
  if (images.length === 0) return notWritten('No images were found');
  const failedImages = new Set(summary.failed.map((f) => f.image));
  const missing = images.filter((im) => failedImages.has(im.path)).length;
  if (missing > 0) return notWritten(`${missing} of ${images.length} images failed; ${target} is written once every image has its COCO file`);
  try {
    const entries = [];
    for (let i = 0; i < images.length; i++) {
      const file = cocoFiles[i]!.path;
      entries.push({ fileName: relativeImagePath(target, images[i]!.path), coco: parseCocoImageFile(await fs.readFile(file, 'utf8'), file) });
    }
    const coco = mergeCocoFiles(entries);
    const text = stringifyCoco(coco);
    const counts = { images: coco.images.length, annotations: coco.annotations.length };
    const existing = await fs.lstat(target).catch(() => null);
    if (existing?.isDirectory()) return notWritten(`${target} is a folder; name a file for the dataset`);
    if (existing) {
      if ((await fs.readFile(target, 'utf8')) === text) return { path: target, status: 'unchanged', ...counts };
      if (!overwrite) return notWritten(`${target} already exists with other content; it was not overwritten`);
    }
    await ensureFolder(path.dirname(target));
    await writeFilesAtomic([{ path: target, data: text }], { overwrite });
    return { path: target, status: 'written', ...counts };
  } catch (e) {
    return notWritten(messageOf(e));
  }
}

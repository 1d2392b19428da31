/**
 * `fastsam segment … --format …`: the batch exporter of src/core/export on the
 * command line. Images whose files exist are skipped, so running the same
 * command again after Ctrl-C or a failure continues where it stopped.
 */
import { promises as fs } from 'node:fs';
import type { FastSamEngine } from '../core/engine';
import { PromptError, UserFacingError } from '../core/errors';
import { type BatchSummary, type ChooseMasks, everyMask, exportBatch, type ImageReport } from '../core/export/batch';
import { EXPORT_FORMAT_IDS, type ExportFormatId, isExportFormatId, normalizeFormats } from '../core/export/formats';
import { isEmptyPrompt, type Prompt, selectionOrder, selectMasks } from '../core/prompts/select';
import { UsageError } from './args';
import { plural } from '../shared/counts';
import type { CommandIo } from './io';

/** `--format mask,coco --format yolo` → the formats, in registry order. */
export function parseFormats(values: readonly string[]): ExportFormatId[] {
  const ids = values.flatMap((v) => v.split(',')).map((s) => s.trim());
  const unknown = ids.filter((id) => !isExportFormatId(id));
  if (ids.length === 0 || unknown.length > 0) {
    throw new UsageError(`--format takes a comma-separated list of ${EXPORT_FORMAT_IDS.join(', ')}${unknown.length > 0 ? `; "${unknown.join('", "')}" is not one` : ''}`);
  }
  return normalizeFormats(ids as ExportFormatId[]);
}

export interface SegmentExportOptions {
  images: string[];
  formats: ExportFormatId[];
  imageSize?: number;
  confidence?: number;
  iou?: number;
  outDir?: string;
  overwrite: boolean;
  json: boolean;
  cocoPolygons: boolean;
  polygonTolerance?: number;
  cocoDataset?: string;
}

/** The selected masks of a prompt (each once), or every mask, largest first, without one. */
export function promptChoice(prompt: Prompt): ChooseMasks {
  if (isEmptyPrompt(prompt)) return everyMask;
  return (result, image) => {
    let picks;
    try {
      picks = selectMasks(result.masks, prompt, result.width, result.height);
    } catch (e) {
      // Prompt errors don't know the image.
      if (e instanceof PromptError) throw new PromptError(`${image}: ${e.message}`);
      throw e;
    }
    const chosen = selectionOrder(picks).filter((s) => s.selected).map((s) => result.masks[s.index]!);
    if (chosen.length === 0) throw new UserFacingError(`${image}: no mask matches the prompt`);
    return chosen;
  };
}

/** What the command says when its inputs hold no image (empty folders); it then exits 1. */
export function noImagesFound(inputs: readonly string[]): string {
  return `no image files found in ${inputs.join(', ')}`;
}

/** Exit code: 0 when every image and the dataset were written or already there, 130 when interrupted, 1 otherwise. */
export async function runSegmentExport(engine: FastSamEngine, options: SegmentExportOptions, prompt: Prompt, io: CommandIo): Promise<number> {
  // A dataset for a folder or several images; one image's own COCO file already is one.
  const folderGiven = (await Promise.all(options.images.map((p) => fs.stat(p).then((s) => s.isDirectory(), () => false)))).some(Boolean);
  const cocoDataset = options.formats.includes('coco') ? (options.cocoDataset ?? (folderGiven || options.images.length > 1)) : undefined;

  let position = 0;
  let total = 0;
  const print = (r: ImageReport) => {
    if (options.json) {
      const { error: _error, ...rest } = r as ImageReport & { error?: unknown };
      if (r.status === 'failed') io.stderr(`fastsam: ${r.message.includes(r.image) ? r.message : `${r.image}: ${r.message}`}`);
      io.stdout(JSON.stringify(rest));
      return;
    }
    const counter = `[${position}/${total}]`;
    if (r.status === 'written') io.stdout(`${counter} ${r.image}: ${plural(r.masks, 'mask')} → ${r.files.join(', ')}`);
    else if (r.status === 'skipped') io.stdout(`${counter} ${r.image}: skipped, its files exist`);
    else io.stderr(`fastsam: ${r.message.includes(r.image) ? r.message : `${r.image}: ${r.message}`}`);
  };

  const controller = new AbortController();
  const interrupt = () => {
    io.stderr('fastsam: stopping after the current image (Ctrl-C again to quit now)');
    controller.abort();
  };
  process.once('SIGINT', interrupt);
  let summary: BatchSummary;
  try {
    summary = await exportBatch({
      inputs: options.images,
      formats: options.formats,
      engine: {
        segment: (image, { signal }) => engine.segment(image, { imageSize: options.imageSize, confidence: options.confidence, iou: options.iou, signal }),
      },
      output: { outDir: options.outDir, overwrite: options.overwrite },
      formatOptions: { cocoSegmentation: options.cocoPolygons ? 'polygon' : 'rle', polygonTolerance: options.polygonTolerance },
      choose: promptChoice(prompt),
      cocoDataset,
      signal: controller.signal,
      onProgress: (p) => {
        position = p.done + 1;
        total = p.total;
      },
      onImage: print,
    });
  } finally {
    process.off('SIGINT', interrupt);
  }

  const { dataset, stopped } = summary;
  if (options.json) {
    const { written, skipped, failed, ...rest } = summary;
    const { error: _error, ...stop } = (stopped ?? {}) as NonNullable<BatchSummary['stopped']> & { error?: unknown };
    io.stdout(JSON.stringify({ summary: { ...rest, stopped: stopped ? stop : undefined, written: written.length, skipped: skipped.length, failed: failed.length } }));
  } else {
    io.stdout(`${summary.total} images: ${summary.written.length} written, ${summary.skipped.length} skipped (files exist), ${summary.failed.length} failed`);
    if (dataset && dataset.status !== 'not-written') io.stdout(`COCO dataset ${dataset.path}: ${dataset.images} images, ${dataset.annotations} annotations${dataset.status === 'unchanged' ? ' (unchanged)' : ''}`);
  }
  if (dataset?.status === 'not-written') io.stderr(`fastsam: COCO dataset not written: ${dataset.message}`);
  if (summary.total === 0 && summary.failed.length === 0) {
    io.stderr(`fastsam: ${noImagesFound(options.images)}`);
    return 1;
  }
  if (stopped?.reason === 'cancelled') {
    io.stderr(`fastsam: cancelled with ${summary.remaining} of ${summary.total} images left; run the same command again to continue`);
    return 130;
  }
  if (stopped?.reason === 'fatal') io.stderr(`fastsam: stopped with ${summary.remaining} images left: ${stopped.message}`);
  return summary.failed.length === 0 && dataset?.status !== 'not-written' ? 0 : 1;
}

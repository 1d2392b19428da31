/**
 * The export formats, where their files go, and how one image's files are
 * made and written. The CLI, the batch exporter and the extension's Export
 * commands all go through here, so a format means the same files everywhere.
 *
 * Every format writes one file per image, named from the image's stem (its
 * file name without the extension) by a pattern such as `{stem}.mask.png`,
 * in the image's folder or in an output folder. All files of one image are
 * written together and atomically (`writeFilesAtomic`), never replacing an
 * existing file unless asked to.
 *
 * Every format lists the masks in the order given: index map value i + 1, the
 * i-th COCO annotation, the LabelMe shapes with group_id i + 1 and the YOLO
 * lines of the i-th mask all describe masks[i].
 */
import * as path from 'node:path';
import type { SegmentationResult, SegmentedMask } from '../engine';
import { UserFacingError } from '../errors';
import { decodeRgb, type RgbImage } from '../image/decode';
import { ensureFolder, exists, writeFilesAtomic } from '../io/atomic-write';
import { type CocoSegmentationKind, cocoImageFile, stringifyCoco } from './coco';
import { cutoutPng } from './cutout';
import { EXPORT_FORMAT_INFO, type ExportFormatId, type ExportFormatInfo, type ExportOutputOptions, type PlannedOutput, planOutputs } from './format-names';
import { labelmeFile, stringifyLabelMe } from './labelme';
import { indexMapPng, selectionMaskPng } from './mask-images';
import { overlayPng } from './overlay';
import { DEFAULT_POLYGON_TOLERANCE } from './polygons';
import { yoloLabels } from './yolo';

// The names and file planning live in format-names.ts (no image library), for the extension host's main thread.
export {
  DEFAULT_FILE_NAMES,
  EXPORT_FORMAT_IDS,
  type ExportFormatId,
  type ExportFormatInfo,
  type ExportOutputOptions,
  fileNamePatterns,
  IMAGE_EXTENSIONS,
  type ImageInput,
  isExportFormatId,
  isImageFileName,
  isOutputImageName,
  normalizeFormats,
  type PlannedOutput,
  planOutputs,
} from './format-names';

/** Options of the formats themselves (the extension's `fastsam.export.*` settings). */
export interface FormatOptions {
  /** Polygon simplification tolerance in pixels for coco (polygons), yolo and labelme; default 1. */
  polygonTolerance?: number;
  /** COCO segmentation as compressed RLE (default, exact) or polygons. */
  cocoSegmentation?: CocoSegmentationKind;
}

/** What a format needs to make its file for one image. */
export interface RenderContext {
  imagePath: string;
  /** Where the file will be written: paths inside it are relative to its folder. */
  target: string;
  width: number;
  height: number;
  masks: readonly SegmentedMask[];
  options: FormatOptions;
  /** The decoded image, shared by the formats that draw on it. */
  image(): Promise<RgbImage>;
}

export interface ExportFormat extends ExportFormatInfo {
  render(ctx: RenderContext): Promise<Uint8Array | string>;
}

const boxMasks = (ctx: RenderContext) => ctx.masks.map((m) => m.mask);
const polygonOptions = (ctx: RenderContext) => ({ tolerance: ctx.options.polygonTolerance ?? DEFAULT_POLYGON_TOLERANCE });

/** Path from the folder of `target` to `image`, with forward slashes, as JSON formats store it. */
export function relativeImagePath(target: string, image: string): string {
  return path.relative(path.dirname(path.resolve(target)), path.resolve(image)).split(path.sep).join('/');
}

const RENDERERS: Readonly<Record<ExportFormatId, ExportFormat['render']>> = {
  mask: async (ctx) => selectionMaskPng(boxMasks(ctx), ctx.width, ctx.height),
  index: async (ctx) => indexMapPng(boxMasks(ctx), ctx.width, ctx.height),
  coco: async (ctx) =>
    stringifyCoco(
      cocoImageFile(relativeImagePath(ctx.target, ctx.imagePath), ctx.width, ctx.height, ctx.masks, {
        segmentation: ctx.options.cocoSegmentation ?? 'rle',
        ...polygonOptions(ctx),
      }),
    ),
  yolo: async (ctx) => yoloLabels(ctx.masks, ctx.width, ctx.height, polygonOptions(ctx)),
  labelme: async (ctx) => stringifyLabelMe(labelmeFile(relativeImagePath(ctx.target, ctx.imagePath), ctx.width, ctx.height, ctx.masks, polygonOptions(ctx))),
  cutout: async (ctx) => cutoutPng(await ctx.image(), boxMasks(ctx)),
  overlay: async (ctx) => overlayPng(await ctx.image(), boxMasks(ctx)),
};

/** In registry order, which is also the order of files in listings. */
export const EXPORT_FORMATS: readonly ExportFormat[] = EXPORT_FORMAT_INFO.map((info) => ({ ...info, render: RENDERERS[info.id] }));

export function exportFormat(id: ExportFormatId): ExportFormat {
  return EXPORT_FORMATS.find((f) => f.id === id)!;
}

/** The subject of one image's export: the masks to write, in the order the formats list them. */
export interface ExportSubject {
  imagePath: string;
  result: Pick<SegmentationResult, 'width' | 'height'>;
  masks: readonly SegmentedMask[];
}

/**
 * The bytes of each planned file. The image is decoded (once) only for the
 * formats that draw on it; an image whose size no longer matches the
 * segmentation (changed on disk meanwhile) is an error.
 */
export async function renderOutputs(subject: ExportSubject, targets: readonly PlannedOutput[], options: FormatOptions = {}): Promise<{ path: string; data: Uint8Array | string }[]> {
  const { width, height } = subject.result;
  let decoded: Promise<RgbImage> | undefined;
  const image = () =>
    (decoded ??= decodeRgb(subject.imagePath).then((rgb) => {
      if (rgb.width !== width || rgb.height !== height) {
        throw new UserFacingError(`${subject.imagePath} is now ${rgb.width}×${rgb.height}, not the ${width}×${height} that was segmented; segment it again`);
      }
      return rgb;
    }));
  const files: { path: string; data: Uint8Array | string }[] = [];
  for (const t of targets) {
    const data = await exportFormat(t.format).render({ imagePath: subject.imagePath, target: t.path, width, height, masks: subject.masks, options, image });
    files.push({ path: t.path, data });
  }
  return files;
}

/** The planned files still to write: all with overwrite, else those that do not exist yet. */
export async function pendingOutputs(targets: readonly PlannedOutput[], overwrite: boolean): Promise<{ pending: PlannedOutput[]; existing: PlannedOutput[] }> {
  const pending: PlannedOutput[] = [];
  const existing: PlannedOutput[] = [];
  for (const t of targets) {
    if (!overwrite && (await exists(t.path))) existing.push(t);
    else pending.push(t);
  }
  return { pending, existing };
}

export interface ExportImageResult {
  /** Files written, in registry order. */
  written: string[];
  /** Files that existed and were kept (without overwrite). */
  existing: string[];
}

/**
 * Exports one segmented image in the given formats: what the editor's Export
 * does. Existing files are kept unless `output.overwrite`; the rest are
 * written together, atomically, or not at all (OutputWriteError).
 */
export async function exportImage(
  subject: ExportSubject,
  formats: readonly ExportFormatId[],
  output: ExportOutputOptions = {},
  options: FormatOptions = {},
): Promise<ExportImageResult> {
  const overwrite = output.overwrite ?? false;
  const { pending, existing } = await pendingOutputs(planOutputs(subject.imagePath, formats, output), overwrite);
  for (const folder of new Set(pending.map((t) => path.dirname(t.path)))) await ensureFolder(folder);
  await writeFilesAtomic(await renderOutputs(subject, pending, options), { overwrite });
  return { written: pending.map((t) => t.path), existing: existing.map((t) => t.path) };
}

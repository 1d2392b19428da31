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
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SegmentationResult, SegmentedMask } from '../engine';
import { UserFacingError } from '../errors';
import { decodeRgb, type RgbImage } from '../image/decode';
import { describeWriteError, exists, OutputWriteError, writeFilesAtomic } from '../io/atomic-write';
import { type CocoSegmentationKind, cocoImageFile, stringifyCoco } from './coco';
import { cutoutPng } from './cutout';
import { labelmeFile, stringifyLabelMe } from './labelme';
import { indexMapPng, selectionMaskPng } from './mask-images';
import { overlayPng } from './overlay';
import { DEFAULT_POLYGON_TOLERANCE } from './polygons';
import { yoloLabels } from './yolo';

export type ExportFormatId = 'mask' | 'index' | 'coco' | 'yolo' | 'labelme' | 'cutout' | 'overlay';

/** Options of the formats themselves (the extension's `fastsam.export.*` settings). */
export interface FormatOptions {
  /** Polygon simplification tolerance in pixels for coco (polygons), yolo and labelme; default 1. */
  polygonTolerance?: number;
  /** COCO segmentation as compressed RLE (default, exact) or polygons. */
  cocoSegmentation?: CocoSegmentationKind;
}

/** Where files go (the extension's `fastsam.export.*` settings). */
export interface ExportOutputOptions {
  /**
   * Folder for the files; by default each image's own folder. Images found in
   * a folder given to the batch keep their subfolder below it.
   */
  outDir?: string;
  /** File name patterns by format, each containing `{stem}`; see DEFAULT_FILE_NAMES. May include subfolders. */
  names?: Partial<Record<ExportFormatId, string>>;
  /** Replace existing files. Default false: existing files are kept (and skipped by the batch). */
  overwrite?: boolean;
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

export interface ExportFormat {
  id: ExportFormatId;
  /** Short name for menus. */
  label: string;
  /** One line for menus and help. */
  description: string;
  /** File name pattern; `{stem}` is the image's name without its extension. */
  defaultName: string;
  render(ctx: RenderContext): Promise<Uint8Array | string>;
}

const boxMasks = (ctx: RenderContext) => ctx.masks.map((m) => m.mask);
const polygonOptions = (ctx: RenderContext) => ({ tolerance: ctx.options.polygonTolerance ?? DEFAULT_POLYGON_TOLERANCE });

/** Path from the folder of `target` to `image`, with forward slashes, as JSON formats store it. */
export function relativeImagePath(target: string, image: string): string {
  return path.relative(path.dirname(path.resolve(target)), path.resolve(image)).split(path.sep).join('/');
}

/** In registry order, which is also the order of files in listings. */
export const EXPORT_FORMATS: readonly ExportFormat[] = [
  {
    id: 'mask',
    label: 'Binary mask PNG',
    description: 'the union of the masks, 0 or 255, 8-bit grayscale',
    defaultName: '{stem}.mask.png',
    render: async (ctx) => selectionMaskPng(boxMasks(ctx), ctx.width, ctx.height),
  },
  {
    id: 'index',
    label: 'Instance index PNG',
    description: 'value i + 1 where mask i is, 0 for none; 16-bit beyond 255 masks',
    defaultName: '{stem}.masks.png',
    render: async (ctx) => indexMapPng(boxMasks(ctx), ctx.width, ctx.height),
  },
  {
    id: 'coco',
    label: 'COCO JSON',
    description: 'COCO instance annotations with compressed RLE (or polygons)',
    defaultName: '{stem}.coco.json',
    render: async (ctx) =>
      stringifyCoco(
        cocoImageFile(relativeImagePath(ctx.target, ctx.imagePath), ctx.width, ctx.height, ctx.masks, {
          segmentation: ctx.options.cocoSegmentation ?? 'rle',
          ...polygonOptions(ctx),
        }),
      ),
  },
  {
    id: 'yolo',
    label: 'YOLO segmentation labels',
    description: 'one line per polygon, class 0, coordinates normalized to 0..1',
    defaultName: '{stem}.txt',
    render: async (ctx) => yoloLabels(ctx.masks, ctx.width, ctx.height, polygonOptions(ctx)),
  },
  {
    id: 'labelme',
    label: 'LabelMe JSON',
    description: 'polygons labelled "object", opened by LabelMe from beside the image',
    defaultName: '{stem}.json',
    render: async (ctx) => stringifyLabelMe(labelmeFile(relativeImagePath(ctx.target, ctx.imagePath), ctx.width, ctx.height, ctx.masks, polygonOptions(ctx))),
  },
  {
    id: 'cutout',
    label: 'Cut-out PNG',
    description: 'the image where the masks are, transparent elsewhere',
    defaultName: '{stem}.cutout.png',
    render: async (ctx) => cutoutPng(await ctx.image(), boxMasks(ctx)),
  },
  {
    id: 'overlay',
    label: 'Overlay preview PNG',
    description: 'the image with the masks tinted and outlined, to look at',
    defaultName: '{stem}.overlay.png',
    render: async (ctx) => overlayPng(await ctx.image(), boxMasks(ctx)),
  },
];

export const EXPORT_FORMAT_IDS: readonly ExportFormatId[] = EXPORT_FORMATS.map((f) => f.id);

export const DEFAULT_FILE_NAMES: Readonly<Record<ExportFormatId, string>> = Object.fromEntries(EXPORT_FORMATS.map((f) => [f.id, f.defaultName])) as Record<ExportFormatId, string>;

export function isExportFormatId(value: string): value is ExportFormatId {
  return (EXPORT_FORMAT_IDS as readonly string[]).includes(value);
}

export function exportFormat(id: ExportFormatId): ExportFormat {
  return EXPORT_FORMATS.find((f) => f.id === id)!;
}

/** Formats in registry order without repeats, so that output is the same however they were listed. */
export function normalizeFormats(formats: readonly ExportFormatId[]): ExportFormatId[] {
  return EXPORT_FORMAT_IDS.filter((id) => formats.includes(id));
}

/** The file name patterns in effect; a pattern without `{stem}`, absolute, or shared by two formats is an error. */
export function fileNamePatterns(formats: readonly ExportFormatId[], names: ExportOutputOptions['names'] = {}): Map<ExportFormatId, string> {
  const patterns = new Map<ExportFormatId, string>();
  const seen = new Map<string, ExportFormatId>();
  for (const id of normalizeFormats(formats)) {
    const pattern = names[id] ?? DEFAULT_FILE_NAMES[id];
    if (!pattern.includes('{stem}')) throw new UserFacingError(`The ${id} file name "${pattern}" must contain {stem}, the image's name without its extension`);
    if (path.isAbsolute(pattern)) throw new UserFacingError(`The ${id} file name "${pattern}" must be relative to the output folder`);
    const key = path.normalize(pattern);
    const other = seen.get(key);
    if (other) throw new UserFacingError(`The ${other} and ${id} files would both be named "${pattern}"; give them different names`);
    seen.set(key, id);
    patterns.set(id, pattern);
  }
  return patterns;
}

/** An image to export and, when it was found in a folder, its subfolder below that folder (kept under outDir). */
export interface ImageInput {
  path: string;
  relativeDir: string;
}

export interface PlannedOutput {
  format: ExportFormatId;
  path: string;
}

/** The files the formats write for one image, in registry order. */
export function planOutputs(image: string | ImageInput, formats: readonly ExportFormatId[], output: ExportOutputOptions = {}): PlannedOutput[] {
  const input = typeof image === 'string' ? { path: image, relativeDir: '' } : image;
  const folder = output.outDir === undefined ? path.dirname(input.path) : path.join(output.outDir, input.relativeDir);
  const stem = path.basename(input.path, path.extname(input.path));
  return [...fileNamePatterns(formats, output.names)].map(([format, pattern]) => ({ format, path: path.join(folder, pattern.replaceAll('{stem}', stem)) }));
}

/**
 * Whether a file name is one of the export's own image outputs (`a.mask.png`,
 * `a.overlay.png`, …) under these names: the batch does not take those for
 * images to segment when it walks a folder, so exporting into the images'
 * own folder and running again does not segment its previous output.
 */
export function isOutputImageName(fileName: string, names: ExportOutputOptions['names'] = {}): boolean {
  return EXPORT_FORMAT_IDS.some((id) => {
    const pattern = path.basename(names[id] ?? DEFAULT_FILE_NAMES[id]);
    if (!isImageFileName(pattern.replaceAll('{stem}', 'x'))) return false;
    const parts = pattern.split('{stem}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp(`^${parts.join('.+')}$`, 'i').test(fileName);
  });
}

/** The image file extensions the batch and the extension accept (what decodeRgb reads). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export function isImageFileName(fileName: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(fileName).toLowerCase());
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

/**
 * Creates a folder and its parents, reporting failures as OutputWriteError; a
 * file in the way (`photo.png/out`) says so instead of node's ENOTDIR.
 */
export async function ensureFolder(folder: string): Promise<void> {
  try {
    await fs.mkdir(folder, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      throw new OutputWriteError('not-found', folder, `Cannot create the folder ${folder}: part of its path is a file, not a folder`);
    }
    throw describeWriteError(e, folder);
  }
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

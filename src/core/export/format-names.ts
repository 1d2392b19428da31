/**
 * The export formats' names and where their files go: the part of the format
 * registry that needs no image library. The extension host's main thread uses
 * it (the format menu, the `fastsam.export.*` settings, the editor's file
 * questions) without loading sharp or onnxruntime; formats.ts adds how each
 * format makes its file and re-exports all of this.
 */
import * as path from 'node:path';
import { UserFacingError } from '../errors';

export type ExportFormatId = 'mask' | 'index' | 'coco' | 'yolo' | 'labelme' | 'cutout' | 'overlay';

/** A format as menus and file names know it. */
export interface ExportFormatInfo {
  id: ExportFormatId;
  /** Short name for menus. */
  label: string;
  /** One line for menus and help. */
  description: string;
  /** File name pattern; `{stem}` is the image's name without its extension. */
  defaultName: string;
}

/** In registry order, which is also the order of files in listings. */
export const EXPORT_FORMAT_INFO: readonly ExportFormatInfo[] = [
  { id: 'mask', label: 'Binary mask PNG', description: 'the union of the masks, 0 or 255, 8-bit grayscale', defaultName: '{stem}.mask.png' },
  { id: 'index', label: 'Instance index PNG', description: 'value i + 1 where mask i is, 0 for none; 16-bit beyond 255 masks', defaultName: '{stem}.masks.png' },
  { id: 'coco', label: 'COCO JSON', description: 'COCO instance annotations with compressed RLE (or polygons)', defaultName: '{stem}.coco.json' },
  { id: 'yolo', label: 'YOLO segmentation labels', description: 'one line per polygon, class 0, coordinates normalized to 0..1', defaultName: '{stem}.txt' },
  { id: 'labelme', label: 'LabelMe JSON', description: 'polygons labelled "object", opened by LabelMe from beside the image', defaultName: '{stem}.json' },
  { id: 'cutout', label: 'Cut-out PNG', description: 'the image where the masks are, transparent elsewhere', defaultName: '{stem}.cutout.png' },
  { id: 'overlay', label: 'Overlay preview PNG', description: 'the image with the masks tinted and outlined, to look at', defaultName: '{stem}.overlay.png' },
];

export const EXPORT_FORMAT_IDS: readonly ExportFormatId[] = EXPORT_FORMAT_INFO.map((f) => f.id);

export const DEFAULT_FILE_NAMES: Readonly<Record<ExportFormatId, string>> = Object.fromEntries(EXPORT_FORMAT_INFO.map((f) => [f.id, f.defaultName])) as Record<ExportFormatId, string>;

export function isExportFormatId(value: string): value is ExportFormatId {
  return (EXPORT_FORMAT_IDS as readonly string[]).includes(value);
}

export function exportFormatInfo(id: ExportFormatId): ExportFormatInfo {
  return EXPORT_FORMAT_INFO.find((f) => f.id === id)!;
}

/** Formats in registry order without repeats, so that output is the same however they were listed. */
export function normalizeFormats(formats: readonly ExportFormatId[]): ExportFormatId[] {
  return EXPORT_FORMAT_IDS.filter((id) => formats.includes(id));
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

/** Why a file name pattern cannot be used, or undefined when it can. */
export function fileNamePatternProblem(id: ExportFormatId, pattern: string): string | undefined {
  if (!pattern.includes('{stem}')) return `The ${id} file name "${pattern}" must contain {stem}, the image's name without its extension`;
  if (path.isAbsolute(pattern)) return `The ${id} file name "${pattern}" must be relative to the output folder`;
  return undefined;
}

/** The file name patterns in effect; a pattern without `{stem}`, absolute, or shared by two formats is an error. */
export function fileNamePatterns(formats: readonly ExportFormatId[], names: ExportOutputOptions['names'] = {}): Map<ExportFormatId, string> {
  const patterns = new Map<ExportFormatId, string>();
  const seen = new Map<string, ExportFormatId>();
  for (const id of normalizeFormats(formats)) {
    const pattern = names[id] ?? DEFAULT_FILE_NAMES[id];
    const problem = fileNamePatternProblem(id, pattern);
    if (problem) throw new UserFacingError(problem);
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
 * Whether a file is one of the export's own image outputs (`a.mask.png`,
 * `a.overlay.png`, …) under these names: the batch does not take those for
 * images to segment when it walks a folder, so exporting into the images'
 * own folder and running again does not segment its previous output.
 * `file` is a name, or a path relative to the folder walked (with `/`): a
 * pattern's subfolders must end the path, so with `masks/{stem}.png` only
 * PNGs in a `masks` folder are outputs, not every PNG.
 */
export function isOutputImageName(file: string, names: ExportOutputOptions['names'] = {}): boolean {
  const rel = file.replaceAll('\\', '/');
  return EXPORT_FORMAT_IDS.some((id) => {
    const pattern = path.normalize(names[id] ?? DEFAULT_FILE_NAMES[id]).replaceAll('\\', '/');
    if (!isImageFileName(pattern.replaceAll('{stem}', 'x'))) return false;
    const parts = pattern.split('{stem}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp(`(^|/)${parts.join('[^/]+')}$`, 'i').test(rel);
  });
}

/** The image file extensions the batch and the extension accept (what decodeRgb reads). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export function isImageFileName(fileName: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(fileName).toLowerCase());
}

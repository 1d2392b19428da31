/**
 * The one reader of the `fastsam.*` settings. VS Code shows schema violations in
 * the settings editor but still hands the raw values to the extension, so every
 * value is checked here; an invalid one falls back to its default with a warning
 * in the log, and the editor keeps working.
 *
 * No 'vscode' import: `SettingsSource` is the part of WorkspaceConfiguration used.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { CocoSegmentationKind } from '../core/export/coco';
import { DEFAULT_FILE_NAMES, EXPORT_FORMAT_IDS, type ExportFormatId, fileNamePatternProblem, isExportFormatId, normalizeFormats } from '../core/export/format-names';
import type { ExecutionProviderChoice } from '../core/model/segmentation-model';

export const SETTINGS_SECTION = 'fastsam';

/**
 * The model module's EXECUTION_PROVIDER_CHOICES, restated because importing it
 * would load onnxruntime on the extension host's main thread (the engine runs in
 * a worker); a unit test checks that the lists agree.
 */
export const EXECUTION_PROVIDERS: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'];

export const IMAGE_SIZE_CHOICES = [640, 1024] as const;
export type ImageSizeChoice = (typeof IMAGE_SIZE_CHOICES)[number];

export interface FastSamSettings {
  /** Absolute path of the ONNX model, or undefined when none is configured. */
  modelPath: string | undefined;
  imageSize: ImageSizeChoice;
  confidence: number;
  iou: number;
  executionProvider: ExecutionProviderChoice;
  maxDetections: number;
  segmentOnOpen: boolean;
}

/** The defaults, as declared in package.json's `contributes.configuration`. */
export const DEFAULT_SETTINGS: Readonly<FastSamSettings> = {
  modelPath: undefined,
  imageSize: 1024,
  confidence: 0.4,
  iou: 0.9,
  executionProvider: 'auto',
  maxDetections: 300,
  segmentOnOpen: true,
};

/** What is read: `vscode.workspace.getConfiguration('fastsam')` satisfies it. */
export interface SettingsSource {
  get(key: string): unknown;
}

export interface PathContext {
  /** Relative model paths resolve against this folder (the first workspace folder). */
  workspaceFolder?: string;
  homeDir?: string;
}

/**
 * An absolute model path: `~` is the home folder, and a relative path is taken
 * from the workspace folder (so a workspace can ship its model), else as is.
 */
export function resolveModelPath(value: string, context: PathContext = {}): string {
  let p = expandHome(value, context.homeDir);
  if (!path.isAbsolute(p) && context.workspaceFolder) p = path.join(context.workspaceFolder, p);
  return path.normalize(p);
}

/** `~` and `~/…` as the home folder; anything else as it is. */
function expandHome(value: string, homeDir = os.homedir()): string {
  return value === '~' || value.startsWith('~/') || value.startsWith('~\\') ? path.join(homeDir, value.slice(1)) : value;
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function readSettings(source: SettingsSource, warn: (message: string) => void, context: PathContext = {}): FastSamSettings {
  const invalid = <K extends keyof FastSamSettings>(key: K, value: unknown, expected: string): FastSamSettings[K] => {
    const fallback = DEFAULT_SETTINGS[key];
    warn(`Setting ${SETTINGS_SECTION}.${key} is ${describe(value)}, which is not ${expected}; using ${fallback === undefined ? 'none' : describe(fallback)}.`);
    return fallback;
  };
  const number = (key: 'confidence' | 'iou', min: number, max: number): number => {
    const value = source.get(key);
    if (value === undefined || value === null) return DEFAULT_SETTINGS[key];
    return typeof value === 'number' && value >= min && value <= max ? value : invalid(key, value, `a number from ${min} to ${max}`);
  };

  let modelPath: string | undefined;
  const rawModel = source.get('modelPath');
  if (typeof rawModel === 'string') {
    modelPath = rawModel.trim() === '' ? undefined : resolveModelPath(rawModel.trim(), context);
  } else if (rawModel !== undefined && rawModel !== null) {
    modelPath = invalid('modelPath', rawModel, 'a file path');
  }

  const rawSize = source.get('imageSize');
  const imageSize =
    rawSize === undefined || rawSize === null ? DEFAULT_SETTINGS.imageSize
    : IMAGE_SIZE_CHOICES.includes(rawSize as ImageSizeChoice) ? (rawSize as ImageSizeChoice)
    : invalid('imageSize', rawSize, IMAGE_SIZE_CHOICES.join(' or '));

  const rawProvider = source.get('executionProvider');
  const executionProvider =
    rawProvider === undefined || rawProvider === null ? DEFAULT_SETTINGS.executionProvider
    : EXECUTION_PROVIDERS.includes(rawProvider as ExecutionProviderChoice) ? (rawProvider as ExecutionProviderChoice)
    : invalid('executionProvider', rawProvider, `one of ${EXECUTION_PROVIDERS.join(', ')}`);

  const rawMax = source.get('maxDetections');
  const maxDetections =
    rawMax === undefined || rawMax === null ? DEFAULT_SETTINGS.maxDetections
    : Number.isInteger(rawMax) && (rawMax as number) >= 1 && (rawMax as number) <= 1000 ? (rawMax as number)
    : invalid('maxDetections', rawMax, 'a whole number from 1 to 1000');

  const rawOnOpen = source.get('segmentOnOpen');
  const segmentOnOpen =
    rawOnOpen === undefined || rawOnOpen === null ? DEFAULT_SETTINGS.segmentOnOpen
    : typeof rawOnOpen === 'boolean' ? rawOnOpen
    : invalid('segmentOnOpen', rawOnOpen, 'true or false');

  return {
    modelPath,
    imageSize,
    confidence: number('confidence', 0, 1),
    iou: number('iou', 0, 1),
    executionProvider,
    maxDetections,
    segmentOnOpen,
  };
}

// ---- fastsam.export.* ------------------------------------------------------------

/** What Export (the editor's, and the Explorer's Export Masks…) writes and where. */
export interface ExportSettings {
  /** The formats checked in the format menu until the user picks others; never empty. */
  formats: ExportFormatId[];
  /**
   * The folder for exported files, `~` expanded, possibly relative (to the
   * workspace folder, see resolveOutputFolder); undefined: beside each image.
   */
  outputFolder: string | undefined;
  /** File name patterns that replace the defaults, by format; each contains `{stem}`. */
  fileNames: Partial<Record<ExportFormatId, string>>;
  /** Polygon simplification tolerance in pixels (COCO polygons, YOLO, LabelMe). */
  polygonTolerance: number;
  cocoSegmentation: CocoSegmentationKind;
}

export const COCO_SEGMENTATION_CHOICES: readonly CocoSegmentationKind[] = ['rle', 'polygon'];

/** The largest polygon tolerance accepted: beyond it an outline is no longer the object's. */
export const MAX_POLYGON_TOLERANCE = 100;

export const DEFAULT_EXPORT_SETTINGS: Readonly<ExportSettings> = {
  formats: ['mask'],
  outputFolder: undefined,
  fileNames: {},
  polygonTolerance: 1,
  cocoSegmentation: 'rle',
};

/**
 * The `fastsam.export.*` settings, checked like the others: an invalid value
 * falls back to its default with a warning. A list of formats keeps its known
 * ids (a warning names the others); a file name that cannot be used (no
 * `{stem}`, absolute, or the same as another format's) is dropped, and its
 * format keeps its default name.
 */
export function readExportSettings(source: SettingsSource, warn: (message: string) => void, context: PathContext = {}): ExportSettings {
  const key = (k: string) => `${SETTINGS_SECTION}.export.${k}`;
  const fallback = <K extends keyof ExportSettings>(k: K, value: unknown, expected: string): ExportSettings[K] => {
    const d = DEFAULT_EXPORT_SETTINGS[k];
    warn(`Setting ${key(k)} is ${describe(value)}, which is not ${expected}; using ${d === undefined ? 'none' : describe(d)}.`);
    return d;
  };
  const unset = (v: unknown): v is undefined | null => v === undefined || v === null;

  let formats = [...DEFAULT_EXPORT_SETTINGS.formats];
  const rawFormats = source.get('export.formats');
  if (!unset(rawFormats)) {
    if (!Array.isArray(rawFormats)) {
      formats = fallback('formats', rawFormats, `a list of ${EXPORT_FORMAT_IDS.join(', ')}`);
    } else {
      const known = rawFormats.filter((f): f is ExportFormatId => typeof f === 'string' && isExportFormatId(f));
      const unknown = rawFormats.filter((f) => !(typeof f === 'string' && isExportFormatId(f)));
      if (known.length === 0) {
        formats = fallback('formats', rawFormats, `a list of ${EXPORT_FORMAT_IDS.join(', ')}`);
      } else {
        if (unknown.length > 0) warn(`Setting ${key('formats')} lists ${unknown.map(describe).join(', ')}, not a format (${EXPORT_FORMAT_IDS.join(', ')}); ignored.`);
        formats = normalizeFormats(known);
      }
    }
  }

  let outputFolder: string | undefined;
  const rawFolder = source.get('export.outputFolder');
  if (typeof rawFolder === 'string') {
    outputFolder = rawFolder.trim() === '' ? undefined : expandHome(rawFolder.trim(), context.homeDir);
  } else if (!unset(rawFolder)) {
    outputFolder = fallback('outputFolder', rawFolder, 'a folder path');
  }

  const fileNames: Partial<Record<ExportFormatId, string>> = {};
  const rawNames = source.get('export.fileNames');
  if (!unset(rawNames)) {
    if (typeof rawNames !== 'object' || Array.isArray(rawNames)) {
      fallback('fileNames', rawNames, 'an object of file names by format');
    } else {
      for (const [id, pattern] of Object.entries(rawNames as Record<string, unknown>)) {
        if (!isExportFormatId(id)) {
          warn(`Setting ${key('fileNames')} names a file for "${id}", which is not a format (${EXPORT_FORMAT_IDS.join(', ')}); ignored.`);
          continue;
        }
        if (typeof pattern !== 'string') {
          warn(`Setting ${key('fileNames')}: the ${id} file name ${describe(pattern)} is not text; using ${DEFAULT_FILE_NAMES[id]}.`);
          continue;
        }
        const problem = fileNamePatternProblem(id, pattern.trim());
        if (problem) {
          warn(`Setting ${key('fileNames')}: ${problem}; using ${DEFAULT_FILE_NAMES[id]}.`);
          continue;
        }
        fileNames[id] = pattern.trim();
      }
      // Two formats writing one file: a custom name another format's file also has is dropped
      // (checked in registry order), and its format keeps its default name.
      for (const id of EXPORT_FORMAT_IDS) {
        if (fileNames[id] === undefined) continue;
        const mine = path.normalize(fileNames[id]);
        const other = EXPORT_FORMAT_IDS.find((o) => o !== id && path.normalize(fileNames[o] ?? DEFAULT_FILE_NAMES[o]) === mine);
        if (other !== undefined) {
          warn(`Setting ${key('fileNames')}: the ${id} file name "${fileNames[id]}" is also the ${other} file's; using ${DEFAULT_FILE_NAMES[id]}.`);
          delete fileNames[id];
        }
      }
    }
  }

  const rawTolerance = source.get('export.polygonTolerance');
  const polygonTolerance =
    unset(rawTolerance) ? DEFAULT_EXPORT_SETTINGS.polygonTolerance
    : typeof rawTolerance === 'number' && rawTolerance >= 0 && rawTolerance <= MAX_POLYGON_TOLERANCE ? rawTolerance
    : fallback('polygonTolerance', rawTolerance, `a number of pixels from 0 to ${MAX_POLYGON_TOLERANCE}`);

  const rawCoco = source.get('export.cocoSegmentation');
  const cocoSegmentation =
    unset(rawCoco) ? DEFAULT_EXPORT_SETTINGS.cocoSegmentation
    : COCO_SEGMENTATION_CHOICES.includes(rawCoco as CocoSegmentationKind) ? (rawCoco as CocoSegmentationKind)
    : fallback('cocoSegmentation', rawCoco, COCO_SEGMENTATION_CHOICES.map((c) => `"${c}"`).join(' or '));

  return { formats, outputFolder, fileNames, polygonTolerance, cocoSegmentation };
}

/**
 * The absolute output folder for images under `context.workspaceFolder` (the
 * workspace folder holding them): a relative setting is taken from there, or,
 * outside any workspace folder, from `imageFolder`. Undefined: beside each image.
 */
export function resolveOutputFolder(outputFolder: string | undefined, context: { workspaceFolder?: string; imageFolder: string }): string | undefined {
  if (outputFolder === undefined) return undefined;
  if (path.isAbsolute(outputFolder)) return path.normalize(outputFolder);
  return path.normalize(path.join(context.workspaceFolder ?? context.imageFolder, outputFolder));
}

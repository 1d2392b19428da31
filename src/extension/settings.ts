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
  const home = context.homeDir ?? os.homedir();
  let p = value;
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(home, p.slice(1));
  if (!path.isAbsolute(p) && context.workspaceFolder) p = path.join(context.workspaceFolder, p);
  return path.normalize(p);
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

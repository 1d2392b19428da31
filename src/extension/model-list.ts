/**
 * The downloadable models as the model commands show them: which are in the
 * extension's models folder (complete, or a resumable partial download), their
 * size and recorded SHA-256, whether `fastsam.modelPath` uses one, and the
 * words of the quick picks and progress messages built from that.
 *
 * No 'vscode' import: the unit tests cover it directly; model-prompts.ts turns
 * these items into quick pick items.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { convertedModelPath } from '../core/models/model-paths';
import type { DownloadProgress } from '../core/models/download';
import type { ModelManifest, ModelManifestEntry } from '../core/models/manifest';
import { downloadRecordPath, modelFileStatus, type ModelFileState } from '../core/models/model-files';

export interface ModelListEntry {
  readonly entry: ModelManifestEntry;
  readonly state: ModelFileState;
  /** The checkpoint's path in the models folder (there or not). */
  readonly path: string;
  /** Its ONNX conversion, when there is one. */
  readonly onnxPath: string | undefined;
  /** Bytes of the checkpoint ('ready'), else undefined. */
  readonly size: number | undefined;
  /** Bytes of a resumable partial download. */
  readonly partialBytes: number;
  /** The SHA-256 recorded when it was downloaded (null: none recorded). */
  readonly sha256: string | null;
  /** Why the record could not be read, when it could not. */
  readonly recordProblem?: string;
  /** fastsam.modelPath is the checkpoint or its conversion. */
  readonly inUse: boolean;
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string) => (process.platform === 'win32' ? path.resolve(p).toLowerCase() : path.resolve(p));
  return norm(a) === norm(b);
}

/** Whether `modelPath` (the setting) uses the checkpoint `file`: the file itself or its conversion. */
export function usesModel(modelPath: string | undefined, file: string): boolean {
  return modelPath !== undefined && (samePath(modelPath, file) || samePath(modelPath, convertedModelPath(file)));
}

/** Every manifest model with its state in `folder`, in the manifest's order. */
export async function listModels(manifest: ModelManifest, folder: string, modelPath: string | undefined): Promise<ModelListEntry[]> {
  return Promise.all(
    manifest.models.map(async (entry): Promise<ModelListEntry> => {
      let status;
      let recordProblem: string | undefined;
      try {
        status = await modelFileStatus(entry, folder);
      } catch (e) {
        // A damaged record: the file is listed (to be deleted), its hash unknown.
        recordProblem = e instanceof Error ? e.message : String(e);
        const file = path.join(folder, entry.fileName);
        status = { state: 'ready' as const, path: file, partialBytes: 0, record: null };
      }
      const size = status.state === 'ready' ? await fs.stat(status.path).then((s) => s.size, () => undefined) : undefined;
      const onnx = convertedModelPath(status.path);
      const onnxPresent = await fs.stat(onnx).then((s) => s.isFile(), () => false);
      return {
        entry,
        state: status.state,
        path: status.path,
        onnxPath: onnxPresent ? onnx : undefined,
        size,
        partialBytes: status.partialBytes,
        sha256: status.record?.sha256 ?? null,
        ...(recordProblem !== undefined ? { recordProblem } : {}),
        inUse: usesModel(modelPath, status.path),
      };
    }),
  );
}

/** Every file a downloaded model has in the models folder: checkpoint, record, conversion, partial download. */
export function modelFiles(file: string): string[] {
  return [file, downloadRecordPath(file), convertedModelPath(file), `${file}.part`, `${file}.part.json`];
}

/** Deletes a model's files; returns those that were there. */
export async function deleteModelFiles(file: string): Promise<string[]> {
  const removed: string[] = [];
  for (const f of modelFiles(file)) {
    const present = await fs.stat(f).then(() => true, () => false);
    if (!present) continue;
    await fs.rm(f, { force: true });
    removed.push(f);
  }
  return removed;
}

// ---- words -----------------------------------------------------------------------

/** Decimal megabytes, as the download messages of the core say them: "23.8 MB". */
export function formatBytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : bytes >= 1e3 ? `${Math.round(bytes / 1e3)} kB` : `${bytes} bytes`;
}

/** "Downloading FastSAM-s.pt: 12.3 of 23.8 MB (52%)"; without a known total, the bytes so far. */
export function downloadProgressMessage(fileName: string, p: DownloadProgress): string {
  return p.total !== null && p.percent !== null
    ? `Downloading ${fileName}: ${formatBytes(p.bytes)} of ${formatBytes(p.total)} (${Math.floor(p.percent)}%)`
    : `Downloading ${fileName}: ${formatBytes(p.bytes)}`;
}

/** What the status bar names a model by: a conversion by its checkpoint ("FastSAM-s.pt", not "FastSAM-s.pt.onnx"). */
export function modelLabel(modelPath: string): string {
  const name = path.basename(modelPath);
  return /\.(pt|pth)\.onnx$/i.test(name) ? name.slice(0, -'.onnx'.length) : name;
}

export interface PickItem<T> {
  readonly label: string;
  readonly description?: string;
  readonly detail?: string;
  /** Items of one group are shown under a separator with this name. */
  readonly group?: string;
  readonly value: T;
}

function sizeText(m: ModelListEntry): string {
  return m.size !== undefined ? formatBytes(m.size) : `about ${formatBytes(m.entry.approximateSize)}`;
}

function licenseText(entry: ModelManifestEntry): string {
  return `Weights by Ultralytics, ${entry.license} license.`;
}

/** Download…'s choices: every manifest model, with its size, license and whether it is downloaded. */
export function downloadChoices(list: readonly ModelListEntry[]): PickItem<ModelManifestEntry>[] {
  return list.map((m) => {
    const state =
      m.state === 'ready' ? ['downloaded', ...(m.inUse ? ['in use'] : [])]
      : m.state === 'partial' ? [`${formatBytes(m.partialBytes)} downloaded, resumes`]
      : [];
    return {
      label: m.entry.displayName,
      description: [sizeText(m), ...state].join(' · '),
      detail: `${m.entry.description} ${licenseText(m.entry)}`,
      value: m.entry,
    };
  });
}

export type ManageChoice = { readonly kind: 'model'; readonly model: ModelListEntry } | { readonly kind: 'download'; readonly entry: ModelManifestEntry };

/** Manage Models…'s list: downloaded models and interrupted downloads, then the others to download. */
export function manageChoices(list: readonly ModelListEntry[]): PickItem<ManageChoice>[] {
  const items: PickItem<ManageChoice>[] = [];
  for (const m of list) {
    if (m.state === 'ready') {
      items.push({
        label: m.entry.displayName,
        description: [sizeText(m), m.inUse ? 'in use' : 'not in use'].join(' · '),
        detail: m.recordProblem ?? (m.sha256 !== null ? `SHA-256 ${m.sha256} (recorded at download)` : 'No SHA-256 recorded'),
        group: 'Downloaded',
        value: { kind: 'model', model: m },
      });
    } else if (m.state === 'partial') {
      items.push({
        label: m.entry.displayName,
        description: `${formatBytes(m.partialBytes)} of about ${formatBytes(m.entry.approximateSize)} downloaded`,
        detail: 'An interrupted download: resume or delete it.',
        group: 'Downloaded',
        value: { kind: 'model', model: m },
      });
    }
  }
  for (const m of list) {
    if (m.state !== 'missing') continue;
    items.push({
      label: `Download ${m.entry.displayName}…`,
      description: sizeText(m),
      detail: `${m.entry.description} ${licenseText(m.entry)}`,
      group: 'Available',
      value: { kind: 'download', entry: m.entry },
    });
  }
  return items;
}

export type ModelAction = 'use' | 'reveal' | 'delete' | 'resume';

/** What can be done with a listed model: a downloaded one is used, revealed or deleted; a partial one resumed or deleted. */
export function modelActions(m: ModelListEntry): PickItem<ModelAction>[] {
  if (m.state === 'partial') {
    return [
      { label: 'Resume Download', description: `${formatBytes(m.partialBytes)} kept`, value: 'resume' },
      { label: 'Delete', description: 'the partial download', value: 'delete' },
    ];
  }
  return [
    ...(m.inUse ? [] : [{ label: 'Use', description: 'set fastsam.modelPath to it', value: 'use' as const }]),
    { label: 'Reveal', description: m.path, value: 'reveal' },
    { label: 'Delete', description: m.inUse ? 'and clear fastsam.modelPath' : 'the checkpoint and its ONNX conversion', value: 'delete' },
  ];
}

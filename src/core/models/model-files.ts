/**
 * Downloaded model files and their records. The manifest does not know the
 * official files' SHA-256, so the first download records size and hash in
 * `<file>.download.json`, and every later load checks the file against it
 * (`verifyModelFile`): a file that changed or rotted on disk is caught before
 * it is converted or run.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../errors';
import { writeFileAtomic } from '../io/atomic-write';
import { type DownloadOptions, type DownloadProgress, downloadFile, sha256File } from './download';
import type { ModelManifestEntry } from './manifest';

export interface DownloadRecord {
  readonly schemaVersion: 1;
  readonly modelId: string;
  readonly size: number;
  readonly sha256: string;
  /** The source it came from. */
  readonly url: string;
  /** ISO 8601. */
  readonly downloadedAt: string;
}

export function downloadRecordPath(file: string): string {
  return `${file}.download.json`;
}

export async function readDownloadRecord(file: string): Promise<DownloadRecord | null> {
  let text: string;
  try {
    text = await fs.readFile(downloadRecordPath(file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const r = JSON.parse(text) as Partial<DownloadRecord>;
  if (r.schemaVersion !== 1 || typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256) || typeof r.size !== 'number') {
    throw new ModelError('corrupt', `${downloadRecordPath(file)} is not a valid download record; delete it and ${path.basename(file)}, then download again`);
  }
  return r as DownloadRecord;
}

/**
 * Checks a model file against its download record, when it has one. Returns the
 * record (null for a file that was not downloaded here, which is not checked).
 */
export async function verifyModelFile(file: string, signal?: AbortSignal): Promise<DownloadRecord | null> {
  const record = await readDownloadRecord(file);
  if (!record) return null;
  const damaged = (what: string) => new ModelError('corrupt', `${file} ${what}: it was changed or damaged. Delete it and download it again.`);
  const size = (await fs.stat(file)).size;
  if (size !== record.size) throw damaged(`has ${size.toLocaleString('en-US')} bytes but had ${record.size.toLocaleString('en-US')} when it was downloaded`);
  if ((await sha256File(file, signal)) !== record.sha256) throw damaged('no longer has the SHA-256 it had when it was downloaded');
  return record;
}

async function writeRecord(file: string, record: DownloadRecord): Promise<void> {
  await writeFileAtomic(downloadRecordPath(file), JSON.stringify(record, null, 2) + '\n', { overwrite: true });
}

export type ModelFileState = 'missing' | 'partial' | 'ready';

export interface ModelFileStatus {
  readonly state: ModelFileState;
  /** Where the file is (or will be). */
  readonly path: string;
  /** Bytes of a resumable partial download. */
  readonly partialBytes: number;
  readonly record: DownloadRecord | null;
}

/** Where a manifest model lives in a folder, and whether it is there (cheap: no hashing). */
export async function modelFileStatus(entry: ModelManifestEntry, folder: string): Promise<ModelFileStatus> {
  const file = path.join(folder, entry.fileName);
  const present = await fs.stat(file).then((s) => s.isFile(), () => false);
  const partialBytes = await fs.stat(`${file}.part`).then((s) => s.size, () => 0);
  const record = present ? await readDownloadRecord(file) : null;
  return { state: present ? 'ready' : partialBytes > 0 ? 'partial' : 'missing', path: file, partialBytes, record };
}

export interface ModelDownloadOptions extends Pick<DownloadOptions, 'proxy' | 'noProxy' | 'env' | 'signal' | 'logger' | 'retries' | 'retryDelayMs' | 'idleTimeoutMs'> {
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** What the user can do offline; default: download elsewhere and set fastsam.modelPath. */
  readonly manualHint?: string;
}

export interface ModelDownloadResult {
  readonly path: string;
  readonly record: DownloadRecord;
  /** The file was already there and verified: nothing was downloaded. */
  readonly alreadyPresent: boolean;
}

/**
 * Makes sure a manifest model is in `folder`: verified if present, else
 * downloaded (resuming a partial download) and recorded.
 */
export async function downloadModel(entry: ModelManifestEntry, folder: string, options: ModelDownloadOptions = {}): Promise<ModelDownloadResult> {
  const file = path.join(folder, entry.fileName);
  const status = await modelFileStatus(entry, folder);
  if (status.state === 'ready') {
    if (status.record) return { path: file, record: (await verifyModelFile(file, options.signal))!, alreadyPresent: true };
    // A file put there by hand: checked against the manifest when it can be, then recorded as it is.
    const sha256 = await sha256File(file, options.signal);
    const size = (await fs.stat(file)).size;
    if ((entry.sha256 !== null && sha256 !== entry.sha256) || (entry.size !== null && size !== entry.size)) {
      throw new ModelError('corrupt', `${file} is not the ${entry.displayName} file this version expects (size or SHA-256 differ); move it away and download again`);
    }
    const record: DownloadRecord = { schemaVersion: 1, modelId: entry.id, size, sha256, url: `file://${file}`, downloadedAt: new Date().toISOString() };
    await writeRecord(file, record);
    return { path: file, record, alreadyPresent: true };
  }
  const manualHint = options.manualHint ?? `Download ${entry.fileName} elsewhere and set fastsam.modelPath to it.`;
  let record: DownloadRecord | undefined;
  await downloadFile({
    ...options,
    urls: entry.urls,
    destination: file,
    size: entry.size,
    approximateSize: entry.approximateSize,
    sha256: entry.sha256,
    manualHint,
    // The record is written before the file appears, so a file without one was never downloaded here.
    beforePlace: async (verified) => {
      record = { schemaVersion: 1, modelId: entry.id, size: verified.size, sha256: verified.sha256, url: verified.url, downloadedAt: new Date().toISOString() };
      await writeRecord(file, record);
    },
  });
  return { path: file, record: record!, alreadyPresent: false };
}

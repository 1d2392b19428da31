/**
 * Writing output files without ever leaving a half-written file or silently
 * replacing one: data goes to a temporary file in the destination folder, then is
 * renamed into place (atomic on one file system). Without `overwrite`, the final
 * step is a hard link, which fails if the destination appeared meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UserFacingError } from '../errors';

export type WriteErrorCode = 'exists' | 'read-only' | 'no-space' | 'not-found' | 'io';

export class OutputWriteError extends UserFacingError {
  override name = 'OutputWriteError';
  constructor(
    readonly code: WriteErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AtomicWriteOptions {
  /** Replace an existing file. Default false: an existing file is an 'exists' error. */
  overwrite?: boolean;
}

export function describeWriteError(e: unknown, target: string): OutputWriteError {
  if (e instanceof OutputWriteError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
      return new OutputWriteError('exists', target, `${target} already exists; it was not overwritten`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new OutputWriteError('read-only', target, `Cannot write ${target}: the folder is read-only or not writable`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new OutputWriteError('no-space', target, `Cannot write ${target}: the disk is full`);
    case 'ENOENT':
      return new OutputWriteError('not-found', target, `Cannot write ${target}: the folder does not exist`);
    default:
      return new OutputWriteError('io', target, `Cannot write ${target}: ${(e as Error).message}`);
  }
}

/** A temporary file next to `target`, holding `data`; the caller places or removes it. */
async function writeTemporary(target: string, data: Uint8Array | string): Promise<string> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, data, { flag: 'wx' });
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw describeWriteError(e, target);
  }
  return temp;
}

async function place(temp: string, target: string, overwrite: boolean): Promise<void> {
  try {
    if (overwrite) {
      await fs.rename(temp, target);
    } else {
      await fs.link(temp, target);
      await fs.rm(temp, { force: true });
    }
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw describeWriteError(e, target);
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFilesAtomic([{ path: target, data }], options);
}

/**
 * Writes several files that belong together (an index PNG and its JSON): all are
 * written to temporary files first, and only if every write succeeded are they
 * placed. When placing fails half-way, the files already placed are removed.
 */
export async function writeFilesAtomic(
  files: readonly { path: string; data: Uint8Array | string }[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  const overwrite = options.overwrite ?? false;
  if (!overwrite) {
    for (const f of files) {
      if (await exists(f.path)) throw new OutputWriteError('exists', f.path, `${f.path} already exists; it was not overwritten`);
    }
  }
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemporary(f.path, f.data));
  } catch (e) {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
    throw e;
  }
  const placed: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      await place(temps[i]!, files[i]!.path, overwrite);
      placed.push(files[i]!.path);
    }
  } catch (e) {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
    // Files this call created are removed; with overwrite, what they replaced is already gone.
    if (!overwrite) await Promise.all(placed.map((p) => fs.rm(p, { force: true })));
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

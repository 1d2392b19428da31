/**
 * Writing output files without ever leaving a half-written file or silently
 * replacing one: data goes to a temporary file in the destination folder, then is
 * renamed into place (atomic on one file system). Without `overwrite`, the final
 * step is a hard link, which fails if the destination appeared meanwhile. A set
 * of files is written all or nothing: when one cannot be placed, those placed
 * before it are removed, and files they replaced come back.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
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
    case 'ENOTDIR':
      return new OutputWriteError('not-found', target, `Cannot write ${target}: part of its path is a file, not a folder`);
    case 'EISDIR':
      return new OutputWriteError('exists', target, `Cannot write ${target}: a folder of that name is in the way`);
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
    // Where the temporary file could not be made (a file in the path), removing it fails too.
    await fs.rm(temp, { force: true }).catch(() => undefined);
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
 * placed. When placing fails half-way, the files already placed are removed and,
 * with `overwrite`, the files they replaced are put back: each is kept (a hard
 * link, or a copy where links are refused) until the whole set is in place. A
 * single file needs no copy: a rename that fails leaves the old file as it was.
 * A target that is a folder is refused before anything is written.
 */
export async function writeFilesAtomic(
  files: readonly { path: string; data: Uint8Array | string }[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  const overwrite = options.overwrite ?? false;
  if (new Set(files.map((f) => path.resolve(f.path))).size !== files.length) throw new TypeError('writeFilesAtomic: the same file is given twice');
  const replaced = new Set<string>();
  for (const f of files) {
    const stat = await fs.lstat(f.path).catch(() => null);
    if (!stat) continue;
    if (stat.isDirectory()) throw new OutputWriteError('exists', f.path, `Cannot write ${f.path}: a folder of that name is in the way`);
    if (!overwrite) throw new OutputWriteError('exists', f.path, `${f.path} already exists; it was not overwritten`);
    replaced.add(f.path);
  }
  const removeQuietly = (p: string) => fs.rm(p, { force: true }).catch(() => undefined);
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemporary(f.path, f.data));
  } catch (e) {
    await Promise.all(temps.map(removeQuietly));
    throw e;
  }
  const placed: { target: string; previous: string | null }[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const target = files[i]!.path;
      const previous = files.length > 1 && replaced.has(target) ? await keepPrevious(target) : null;
      try {
        await place(temps[i]!, target, overwrite);
      } catch (e) {
        // A rename that failed left the previous file in place.
        if (previous) await removeQuietly(previous);
        throw e;
      }
      placed.push({ target, previous });
    }
  } catch (e) {
    await Promise.all(temps.map(removeQuietly));
    // Last placed first, so that each file ends as it was before this call.
    const lost: string[] = [];
    for (const { target, previous } of placed.reverse()) {
      if (!previous) await removeQuietly(target);
      else await fs.rename(previous, target).catch(() => lost.push(`${target} could not be restored; its previous content is in ${previous}`));
    }
    if (lost.length > 0 && e instanceof Error) e.message += `; ${lost.join('; ')}`;
    throw e;
  }
  await Promise.all(placed.map(({ previous }) => (previous ? removeQuietly(previous) : undefined)));
}

/**
 * A copy of `target` beside it, so that replacing `target` can be undone: a hard
 * link, or a real copy where links are refused (file systems without them, or
 * Linux's protected_hardlinks for another user's file); null when `target` has
 * gone meanwhile, leaving nothing to restore.
 */
async function keepPrevious(target: string): Promise<string | null> {
  const keep = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.previous`);
  try {
    await fs.link(target, keep);
    return keep;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
  }
  try {
    await fs.copyFile(target, keep, fsConstants.COPYFILE_EXCL);
    return keep;
  } catch (e) {
    await fs.rm(keep, { force: true }).catch(() => undefined);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw describeWriteError(e, target);
  }
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

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

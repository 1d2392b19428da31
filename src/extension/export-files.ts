/**
 * One image's export in several formats from the editor: its files are
 * written together (all or none, by the engine worker) and, as for the single
 * mask (mask-export.ts), nothing is replaced without the user's say-so:
 *
 *   some of the files exist → ask once: Overwrite | Keep Both (the whole set
 *                             under the first free number: a.mask-1.png,
 *                             a.coco-1.json, …) | Cancel;
 *   a file appears meanwhile → ask again (after Keep Both: the next number);
 *   not writable            → say why and offer another folder (the set is
 *                             written there, still without replacing anything);
 *   anything else           → thrown, for the caller to show.
 *
 * No 'vscode' import: the questions and the writer are injected (unit tests,
 * the extension-host tests' scripted answers).
 */
import * as path from 'node:path';
import { exists, OutputWriteError } from '../core/io/atomic-write';
import { type ConflictChoice, numberedPath } from './mask-export';

export interface FileSetQuestions {
  /** `target` (and the files `also`) exist: replace them, write the set under numbered names, or stop. */
  whenExists(target: string, also: readonly string[]): Promise<ConflictChoice>;
  /** The set cannot be written in `folder` (`reason` says why): another folder, or undefined to stop. */
  saveToFolder(folder: string, reason: string): Promise<string | undefined>;
}

/** Writes the files at `paths` (in the order planned), replacing existing ones only with `overwrite`; resolves with the paths written. */
export type FileSetWriter = (paths: readonly string[], options: { overwrite: boolean }) => Promise<string[]>;

export type FileSetOutcome = { status: 'written'; paths: string[] } | { status: 'cancelled' };

/** The deepest folder holding every path. */
function commonFolder(paths: readonly string[]): string {
  let common = path.dirname(path.resolve(paths[0]!));
  for (const p of paths.slice(1)) {
    const dir = path.dirname(path.resolve(p));
    while (common !== dir && !dir.startsWith(common.endsWith(path.sep) ? common : common + path.sep)) common = path.dirname(common);
  }
  return common;
}

/** The set under the smallest number n ≥ 1 for which none of its numbered names is taken. */
async function freeNumberedSet(paths: readonly string[], fileExists: (p: string) => Promise<boolean>): Promise<string[]> {
  for (let n = 1; ; n++) {
    const candidate = paths.map((p) => numberedPath(p, n));
    const taken = await Promise.all(candidate.map(fileExists));
    if (!taken.some(Boolean)) return candidate;
  }
}

export async function exportFileSet(
  targets: readonly string[],
  write: FileSetWriter,
  questions: FileSetQuestions,
  fileExists: (p: string) => Promise<boolean> = exists,
): Promise<FileSetOutcome> {
  if (targets.length === 0) return { status: 'written', paths: [] };
  let planned = [...targets];
  let paths = planned;
  let overwrite = false;
  let keepBoth = false;
  for (;;) {
    if (!overwrite) {
      const taken = (await Promise.all(paths.map(async (p) => ((await fileExists(p)) ? p : undefined)))).filter((p): p is string => p !== undefined);
      if (taken.length > 0) {
        if (!keepBoth) {
          const choice = await questions.whenExists(taken[0]!, taken.slice(1));
          if (choice === 'cancel') return { status: 'cancelled' };
          if (choice === 'overwrite') overwrite = true;
          else keepBoth = true;
        }
        if (keepBoth) paths = await freeNumberedSet(planned, fileExists);
      }
    }
    try {
      return { status: 'written', paths: await write(paths, { overwrite }) };
    } catch (e) {
      if (!(e instanceof OutputWriteError)) throw e;
      // Appeared since it was checked: the check above asks (or numbers) again.
      if (e.code === 'exists' && !overwrite) continue;
      if (e.code === 'read-only') {
        const from = commonFolder(planned);
        const folder = await questions.saveToFolder(from, e.message);
        if (folder === undefined) return { status: 'cancelled' };
        // Subfolders of the file names are kept below the chosen folder.
        planned = planned.map((p) => path.join(folder, path.relative(from, path.resolve(p))));
        paths = planned;
        overwrite = false;
        keepBoth = false;
        continue;
      }
      throw e;
    }
  }
}

/**
 * Where an exported mask goes and what happens when that place is taken or not
 * writable. The questions are injected, so the rules run without VS Code (unit
 * tests, the extension-host tests' scripted answers):
 *
 *   <stem>.mask.png next to the image, written without replacing anything;
 *   it exists      → ask: Overwrite | Keep Both (<stem>.mask-1.png, -2, … first free) | Cancel;
 *   not writable   → say why and offer Save As (the chosen path is written, replacing:
 *                    the save dialog has already asked about that);
 *   anything else (disk full, …) → OutputWriteError, for the caller to show.
 * Every write is atomic (src/core/io/atomic-write.ts).
 */
import * as path from 'node:path';
import { describeWriteError, exists, writeFileAtomic } from '../core/io/atomic-write';

export type ConflictChoice = 'overwrite' | 'keep-both' | 'cancel';

export interface ExportQuestions {
  /** `target` exists: replace it, write beside it under a numbered name, or stop. */
  whenExists(target: string): Promise<ConflictChoice>;
  /** `target` cannot be written (`reason` says why): another path to write, or undefined to stop. */
  saveAs(target: string, reason: string): Promise<string | undefined>;
}

/** The file operations used; the defaults are the atomic ones of src/core. */
export interface ExportFileSystem {
  write(target: string, data: Uint8Array, options: { overwrite: boolean }): Promise<void>;
  exists(target: string): Promise<boolean>;
}

export const atomicFileSystem: ExportFileSystem = {
  write: (target, data, options) => writeFileAtomic(target, data, options),
  exists,
};

export type ExportOutcome = { status: 'written'; path: string } | { status: 'cancelled' };

const MASK_SUFFIX = '.mask';

/** `photo.jpg` → `photo.mask.png`, in the image's folder. */
export function maskPathFor(imagePath: string): string {
  const stem = path.basename(imagePath, path.extname(imagePath));
  return path.join(path.dirname(imagePath), `${stem}${MASK_SUFFIX}.png`);
}

/** `photo.mask.png`, 2 → `photo.mask-2.png`. */
export function numberedPath(target: string, n: number): string {
  const ext = path.extname(target);
  return path.join(path.dirname(target), `${path.basename(target, ext)}-${n}${ext}`);
}

/** The first of `target`'s numbered names (from 1) that does not exist. */
export async function firstFreeNumberedPath(target: string, fileExists: (p: string) => Promise<boolean>): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = numberedPath(target, n);
    if (!(await fileExists(candidate))) return candidate;
  }
}

export interface ExportMaskOptions {
  /** Replace `target` without asking (the user already chose it in a save dialog). */
  overwrite?: boolean;
  fs?: ExportFileSystem;
}

/** Writes `data` to `target` under the rules above. */
export async function exportMaskFile(target: string, data: Uint8Array, questions: ExportQuestions, options: ExportMaskOptions = {}): Promise<ExportOutcome> {
  const fs = options.fs ?? atomicFileSystem;
  let overwrite = options.overwrite ?? false;
  // After "Keep Both", a numbered name taken meanwhile moves on to the next one instead of asking again.
  let numberedFrom: string | undefined;
  for (;;) {
    try {
      await fs.write(target, data, { overwrite });
      return { status: 'written', path: target };
    } catch (e) {
      const error = describeWriteError(e, target);
      if (error.code === 'exists' && !overwrite) {
        if (numberedFrom) {
          target = await firstFreeNumberedPath(numberedFrom, fs.exists);
          continue;
        }
        const choice = await questions.whenExists(target);
        if (choice === 'cancel') return { status: 'cancelled' };
        if (choice === 'overwrite') {
          overwrite = true;
        } else {
          numberedFrom = target;
          target = await firstFreeNumberedPath(target, fs.exists);
        }
        continue;
      }
      if (error.code === 'read-only') {
        const other = await questions.saveAs(target, error.message);
        if (other === undefined) return { status: 'cancelled' };
        target = other;
        overwrite = true;
        numberedFrom = undefined;
        continue;
      }
      throw error;
    }
  }
}

/**
 * A folder nothing can be written to, for tests of the read-only fallbacks.
 * chmod does not stop root, which these tests often run as; the immutable
 * attribute (chattr +i) does, where the file system supports it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

function writable(folder: string): boolean {
  const probe = path.join(folder, '.write-probe');
  try {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** Makes `folder` read-only; false where this machine cannot (root without chattr), and then it is left writable. */
export function makeReadOnly(folder: string): boolean {
  fs.chmodSync(folder, 0o555);
  if (!writable(folder)) return true;
  try {
    execFileSync('chattr', ['+i', folder], { stdio: 'ignore' });
  } catch {
    undoReadOnly(folder);
    return false;
  }
  if (writable(folder)) {
    undoReadOnly(folder);
    return false;
  }
  return true;
}

export function undoReadOnly(folder: string): void {
  try {
    execFileSync('chattr', ['-i', folder], { stdio: 'ignore' });
  } catch {
    // Never set.
  }
  fs.chmodSync(folder, 0o755);
}

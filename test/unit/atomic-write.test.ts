/**
 * A set of output files is written all or nothing, and nothing a user had is lost:
 * an existing file is kept without overwrite, a folder in the way is refused up
 * front, and when one file cannot be placed the others are undone, the files they
 * replaced included.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { OutputWriteError, writeFilesAtomic } from '../../src/core/io/atomic-write';

function folder(): string {
  return mkdtempSync(path.join(tmpdir(), 'fastsam-atomic-'));
}

/** Whether `chattr +i` works here (root on a file system with the immutable flag); the undo test needs a file that refuses to be replaced. */
function immutable(file: string, on: boolean): boolean {
  try {
    execFileSync('chattr', [on ? '+i' : '-i', file], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('writeFilesAtomic', () => {
  it('writes every file, and leaves no temporary file', async () => {
    const dir = folder();
    await writeFilesAtomic([{ path: path.join(dir, 'a.png'), data: 'A' }, { path: path.join(dir, 'a.json'), data: 'J' }]);
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'a.png']);
    assert.equal(readFileSync(path.join(dir, 'a.json'), 'utf8'), 'J');
  });

  it('without overwrite, one existing file stops the whole set and is kept', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'a.json'), 'mine');
    await assert.rejects(
      writeFilesAtomic([{ path: path.join(dir, 'a.png'), data: 'A' }, { path: path.join(dir, 'a.json'), data: 'J' }]),
      (e: unknown) => e instanceof OutputWriteError && e.code === 'exists' && /a\.json already exists/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), ['a.json']);
    assert.equal(readFileSync(path.join(dir, 'a.json'), 'utf8'), 'mine');
  });

  it('a folder where a file should go is refused before anything is written, with or without overwrite', async () => {
    for (const overwrite of [false, true]) {
      const dir = folder();
      mkdirSync(path.join(dir, 'a.json'));
      await assert.rejects(
        writeFilesAtomic([{ path: path.join(dir, 'a.png'), data: 'A' }, { path: path.join(dir, 'a.json'), data: 'J' }], { overwrite }),
        (e: unknown) => e instanceof OutputWriteError && /a\.json: a folder of that name is in the way/.test(e.message),
      );
      assert.deepEqual(readdirSync(dir), ['a.json'], `overwrite ${overwrite}: nothing written`);
    }
  });

  it('with overwrite, a file that cannot be replaced undoes the set: new files removed, replaced files back', async (t) => {
    const dir = folder();
    const [replaced, added, locked] = ['a.png', 'a.txt', 'a.json'].map((n) => path.join(dir, n));
    writeFileSync(replaced!, 'old png');
    writeFileSync(locked!, 'locked json');
    if (!immutable(locked!, true)) return t.skip('chattr +i is not available here');
    try {
      await assert.rejects(
        writeFilesAtomic([{ path: replaced!, data: 'new png' }, { path: added!, data: 'new txt' }, { path: locked!, data: 'new json' }], { overwrite: true }),
        (e: unknown) => e instanceof OutputWriteError && e.path === locked,
      );
    } finally {
      immutable(locked!, false);
    }
    assert.equal(readFileSync(replaced!, 'utf8'), 'old png', 'the replaced file is back');
    assert.equal(readFileSync(locked!, 'utf8'), 'locked json');
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'a.png'], 'the new file is gone, and no temporary or kept copy is left');
  });

  it('with overwrite, replaces existing files and keeps no copy of them', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'a.png'), 'old');
    await writeFilesAtomic([{ path: path.join(dir, 'a.png'), data: 'new' }, { path: path.join(dir, 'a.json'), data: 'J' }], { overwrite: true });
    assert.equal(readFileSync(path.join(dir, 'a.png'), 'utf8'), 'new');
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'a.png']);
  });
});

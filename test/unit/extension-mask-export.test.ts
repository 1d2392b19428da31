import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { OutputWriteError } from '../../src/core/io/atomic-write';
import {
  type ConflictChoice,
  type ExportFileSystem,
  exportMaskFile,
  type ExportQuestions,
  firstFreeNumberedPath,
  maskPathFor,
  numberedPath,
} from '../../src/extension/mask-export';

const data = new Uint8Array([1, 2, 3]);

/** Scripted answers, recording every question asked. */
function questions(answers: { exists?: ConflictChoice[]; saveAs?: (string | undefined)[] }): ExportQuestions & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async whenExists(target) {
      asked.push(`exists ${path.basename(target)}`);
      const a = answers.exists?.shift();
      assert.ok(a, `unexpected question: ${target} exists`);
      return a;
    },
    async saveAs(target, reason) {
      asked.push(`saveAs ${path.basename(target)}: ${reason}`);
      assert.ok(answers.saveAs && answers.saveAs.length > 0, `unexpected question: save ${target} as`);
      return answers.saveAs.shift();
    },
  };
}

describe('mask file names', () => {
  test('<stem>.mask.png beside the image, whatever its extension', () => {
    assert.equal(maskPathFor('/photos/cat.jpg'), '/photos/cat.mask.png');
    assert.equal(maskPathFor('/photos/scan.v2.TIFF'), '/photos/scan.v2.mask.png');
    assert.equal(maskPathFor('/photos/noext'), '/photos/noext.mask.png');
  });

  test('numbered names go before the extension', () => {
    assert.equal(numberedPath('/p/cat.mask.png', 1), '/p/cat.mask-1.png');
    assert.equal(numberedPath('/p/cat.mask.png', 12), '/p/cat.mask-12.png');
  });

  test('the first free numbered name', async () => {
    const taken = new Set(['/p/cat.mask-1.png', '/p/cat.mask-2.png', '/p/cat.mask-4.png']);
    assert.equal(await firstFreeNumberedPath('/p/cat.mask.png', async (p) => taken.has(p)), '/p/cat.mask-3.png');
    assert.equal(await firstFreeNumberedPath('/p/dog.mask.png', async (p) => taken.has(p)), '/p/dog.mask-1.png');
  });
});

const writable = (folder: string): boolean => {
  const probe = path.join(folder, '.probe');
  try {
    writeFileSync(probe, '');
    rmSync(probe);
    return true;
  } catch {
    return false;
  }
};

/** chmod a-w; as root that does not stop writes, so the immutable attribute (chattr +i) is tried too. */
function makeReadOnly(folder: string): boolean {
  chmodSync(folder, 0o555);
  if (!writable(folder)) return true;
  try {
    execFileSync('chattr', ['+i', folder], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return !writable(folder);
}

function undoReadOnly(folder: string): void {
  try {
    execFileSync('chattr', ['-i', folder], { stdio: 'ignore' });
  } catch {
    // Never set: chmod was enough.
  }
  chmodSync(folder, 0o755);
}

describe('exportMaskFile on disk', () => {
  let dir: string;
  let target: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fastsam-export-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const fresh = (name: string): string => {
    const folder = path.join(dir, name);
    mkdirSync(folder);
    target = path.join(folder, 'cat.mask.png');
    return folder;
  };

  test('no file there: writes it without asking', async () => {
    fresh('new');
    const q = questions({});
    assert.deepEqual(await exportMaskFile(target, data, q), { status: 'written', path: target });
    assert.deepEqual(new Uint8Array(readFileSync(target)), data);
    assert.deepEqual(q.asked, []);
  });

  test('exists → Overwrite replaces it', async () => {
    fresh('overwrite');
    writeFileSync(target, 'old');
    const q = questions({ exists: ['overwrite'] });
    assert.deepEqual(await exportMaskFile(target, data, q), { status: 'written', path: target });
    assert.deepEqual(new Uint8Array(readFileSync(target)), data);
    assert.deepEqual(q.asked, ['exists cat.mask.png']);
  });

  test('exists → Keep Both writes the first free numbered name and keeps the old file', async () => {
    const folder = fresh('keep-both');
    writeFileSync(target, 'old');
    const first = await exportMaskFile(target, data, questions({ exists: ['keep-both'] }));
    assert.deepEqual(first, { status: 'written', path: path.join(folder, 'cat.mask-1.png') });
    const second = await exportMaskFile(target, data, questions({ exists: ['keep-both'] }));
    assert.deepEqual(second, { status: 'written', path: path.join(folder, 'cat.mask-2.png') });
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(readdirSync(folder).sort(), ['cat.mask-1.png', 'cat.mask-2.png', 'cat.mask.png']);
  });

  test('exists → Cancel writes nothing', async () => {
    const folder = fresh('cancel');
    writeFileSync(target, 'old');
    assert.deepEqual(await exportMaskFile(target, data, questions({ exists: ['cancel'] })), { status: 'cancelled' });
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(readdirSync(folder), ['cat.mask.png']);
  });

  test('a read-only folder offers Save As, and the chosen path is written (replacing)', async (t) => {
    const folder = fresh('read-only');
    if (!makeReadOnly(folder)) {
      t.skip('cannot make a folder read-only here (root without chattr): the simulated read-only tests below cover the rules');
      return;
    }
    t.after(() => undoReadOnly(folder));
    const elsewhere = path.join(dir, 'elsewhere.png');
    writeFileSync(elsewhere, 'old');
    const q = questions({ saveAs: [elsewhere] });
    assert.deepEqual(await exportMaskFile(target, data, q), { status: 'written', path: elsewhere });
    assert.deepEqual(new Uint8Array(readFileSync(elsewhere)), data);
    assert.match(q.asked[0]!, /^saveAs cat\.mask\.png: .*read-only/);
  });
});

describe('exportMaskFile with a simulated file system', () => {
  /** Files that exist, folders that refuse writes, and the writes made. */
  function fakeFs(existing: string[], readOnlyFolders: string[] = [], full = false): ExportFileSystem & { files: Set<string> } {
    const files = new Set(existing);
    return {
      files,
      async exists(p) {
        return files.has(p);
      },
      async write(p, _data, { overwrite }) {
        if (readOnlyFolders.includes(path.dirname(p))) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
        if (full) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        if (!overwrite && files.has(p)) throw new OutputWriteError('exists', p, `${p} already exists`);
        files.add(p);
      },
    };
  }

  test('read-only → Save As → the chosen path', async () => {
    const fs = fakeFs([], ['/ro']);
    const q = questions({ saveAs: ['/home/me/cat.mask.png'] });
    assert.deepEqual(await exportMaskFile('/ro/cat.mask.png', data, q, { fs }), { status: 'written', path: '/home/me/cat.mask.png' });
    assert.equal(q.asked.length, 1);
    assert.match(q.asked[0]!, /read-only/);
  });

  test('read-only → Save As dismissed → cancelled', async () => {
    const fs = fakeFs([], ['/ro']);
    assert.deepEqual(await exportMaskFile('/ro/cat.mask.png', data, questions({ saveAs: [undefined] }), { fs }), { status: 'cancelled' });
    assert.equal(fs.files.size, 0);
  });

  test('Save As into another read-only folder asks again', async () => {
    const fs = fakeFs([], ['/ro', '/ro2']);
    const q = questions({ saveAs: ['/ro2/cat.png', '/ok/cat.png'] });
    assert.deepEqual(await exportMaskFile('/ro/cat.mask.png', data, q, { fs }), { status: 'written', path: '/ok/cat.png' });
    assert.equal(q.asked.length, 2);
  });

  test('exists and read-only: Overwrite, then Save As', async () => {
    const fs = fakeFs(['/ro/cat.mask.png'], []);
    // The file exists (the no-clobber write says so first); the replacing write then meets the read-only folder.
    const guarded: ExportFileSystem = {
      exists: fs.exists,
      write: async (p, d, o) => {
        if (o.overwrite && p.startsWith('/ro/')) throw Object.assign(new Error('EROFS'), { code: 'EROFS' });
        await fs.write(p, d, o);
      },
    };
    const q = questions({ exists: ['overwrite'], saveAs: ['/ok/cat.png'] });
    assert.deepEqual(await exportMaskFile('/ro/cat.mask.png', data, q, { fs: guarded }), { status: 'written', path: '/ok/cat.png' });
    assert.deepEqual(q.asked.map((a) => a.split(' ')[0]), ['exists', 'saveAs']);
  });

  test('Keep Both: a numbered name taken meanwhile moves on without asking again', async () => {
    const fs = fakeFs(['/p/cat.mask.png']);
    let raced = false;
    const racing: ExportFileSystem = {
      exists: async (p) => {
        const there = await fs.exists(p);
        // Another writer creates cat.mask-1.png right after it was found free.
        if (!there && p === '/p/cat.mask-1.png' && !raced) {
          raced = true;
          fs.files.add(p);
        }
        return there;
      },
      write: fs.write,
    };
    const q = questions({ exists: ['keep-both'] });
    assert.deepEqual(await exportMaskFile('/p/cat.mask.png', data, q, { fs: racing }), { status: 'written', path: '/p/cat.mask-2.png' });
    assert.equal(q.asked.length, 1);
  });

  test('a full disk is an error for the caller, not a question', async () => {
    await assert.rejects(exportMaskFile('/p/cat.mask.png', data, questions({}), { fs: fakeFs([], [], true) }), (e: unknown) => {
      assert.ok(e instanceof OutputWriteError);
      assert.equal(e.code, 'no-space');
      return true;
    });
  });

  test('overwrite: true (a path from a save dialog) replaces without asking', async () => {
    const fs = fakeFs(['/p/chosen.png']);
    assert.deepEqual(await exportMaskFile('/p/chosen.png', data, questions({}), { fs, overwrite: true }), { status: 'written', path: '/p/chosen.png' });
  });
});

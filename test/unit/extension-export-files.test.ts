/**
 * The editor's export of one image in several formats (export-files.ts):
 * written together, and nothing replaced without the user's say-so.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { OutputWriteError, writeFilesAtomic } from '../../src/core/io/atomic-write';
import { exportFileSet, type FileSetQuestions, type FileSetWriter } from '../../src/extension/export-files';
import type { ConflictChoice } from '../../src/extension/mask-export';

/** Scripted answers, recording every question asked. */
function questions(answers: { exists?: ConflictChoice[]; folder?: (string | undefined)[] }): FileSetQuestions & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async whenExists(target, also) {
      asked.push(`exists ${[target, ...also].map((p) => path.basename(p)).join(' ')}`);
      const a = answers.exists?.shift();
      assert.ok(a, `unexpected question: ${target} exists`);
      return a;
    },
    async saveToFolder(folder, reason) {
      asked.push(`folder ${folder}: ${reason}`);
      assert.ok(answers.folder && answers.folder.length > 0, `unexpected question: another folder than ${folder}`);
      return answers.folder.shift();
    },
  };
}

/** Writes "new <name>" into each file, all or none, making their folders, as the worker's job does. */
const writer: FileSetWriter = async (paths, { overwrite }) => {
  for (const p of paths) mkdirSync(path.dirname(p), { recursive: true });
  await writeFilesAtomic(
    paths.map((p) => ({ path: p, data: `new ${path.basename(p)}` })),
    { overwrite },
  );
  return [...paths];
};

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-fileset-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function folder(name: string, existing: Record<string, string> = {}): { folder: string; targets: string[] } {
  const f = path.join(dir, name);
  mkdirSync(f);
  for (const [file, content] of Object.entries(existing)) writeFileSync(path.join(f, file), content);
  return { folder: f, targets: ['cat.mask.png', 'cat.coco.json', 'cat.json'].map((n) => path.join(f, n)) };
}

describe('exportFileSet', () => {
  test('nothing there: writes every file without asking', async () => {
    const { folder: f, targets } = folder('new');
    const q = questions({});
    assert.deepEqual(await exportFileSet(targets, writer, q), { status: 'written', paths: targets });
    assert.deepEqual(q.asked, []);
    assert.deepEqual(readdirSync(f).sort(), ['cat.coco.json', 'cat.json', 'cat.mask.png']);
  });

  test('some exist: asks once, naming them; Overwrite replaces them and writes the rest', async () => {
    const { folder: f, targets } = folder('overwrite', { 'cat.coco.json': 'old', 'cat.json': 'old' });
    const q = questions({ exists: ['overwrite'] });
    assert.deepEqual(await exportFileSet(targets, writer, q), { status: 'written', paths: targets });
    assert.deepEqual(q.asked, ['exists cat.coco.json cat.json']);
    for (const t of targets) assert.equal(readFileSync(t, 'utf8'), `new ${path.basename(t)}`);
    assert.equal(readdirSync(f).length, 3);
  });

  test('Keep Both writes the whole set under the first number free for all of it, keeping the old files', async () => {
    const { folder: f, targets } = folder('keep-both', { 'cat.mask.png': 'old', 'cat.coco-1.json': 'other' });
    const first = await exportFileSet(targets, writer, questions({ exists: ['keep-both'] }));
    const two = ['cat.mask-2.png', 'cat.coco-2.json', 'cat-2.json'].map((n) => path.join(f, n));
    assert.deepEqual(first, { status: 'written', paths: two });
    const second = await exportFileSet(targets, writer, questions({ exists: ['keep-both'] }));
    assert.deepEqual(second, { status: 'written', paths: ['cat.mask-3.png', 'cat.coco-3.json', 'cat-3.json'].map((n) => path.join(f, n)) });
    assert.equal(readFileSync(path.join(f, 'cat.mask.png'), 'utf8'), 'old');
    assert.equal(readFileSync(path.join(f, 'cat.coco-1.json'), 'utf8'), 'other');
    assert.equal(existsSync(path.join(f, 'cat.coco.json')), false, 'the unnumbered names are left alone');
  });

  test('Cancel writes nothing', async () => {
    const { folder: f, targets } = folder('cancel', { 'cat.json': 'old' });
    assert.deepEqual(await exportFileSet(targets, writer, questions({ exists: ['cancel'] })), { status: 'cancelled' });
    assert.deepEqual(readdirSync(f), ['cat.json']);
    assert.equal(readFileSync(path.join(f, 'cat.json'), 'utf8'), 'old');
  });

  test('a file that appears between the check and the write is asked about, never replaced silently', async () => {
    const { targets } = folder('race');
    let writes = 0;
    const racing: FileSetWriter = async (paths, options) => {
      if (writes++ === 0) writeFileSync(paths[1]!, 'theirs');
      return writer(paths, options);
    };
    const q = questions({ exists: ['cancel'] });
    assert.deepEqual(await exportFileSet(targets, racing, q), { status: 'cancelled' });
    assert.deepEqual(q.asked, ['exists cat.coco.json']);
    assert.equal(readFileSync(targets[1]!, 'utf8'), 'theirs');
    assert.equal(existsSync(targets[0]!), false, 'all or none: the first file was not left behind');
  });

  test('not writable: offers another folder, keeping subfolders of the names; dismissed: cancelled', async () => {
    const readOnly = '/ro/photos';
    const targets = [`${readOnly}/cat.mask.png`, `${readOnly}/coco/cat.json`];
    const refusing = (inner: FileSetWriter): FileSetWriter => async (paths, options) => {
      if (paths.some((p) => p.startsWith('/ro/'))) throw new OutputWriteError('read-only', paths[0]!, `Cannot write ${paths[0]}: the folder is read-only or not writable`);
      return inner(paths, options);
    };
    const elsewhere = path.join(dir, 'elsewhere');
    const q = questions({ folder: [elsewhere] });
    const outcome = await exportFileSet(targets, refusing(writer), q, async () => false);
    assert.deepEqual(outcome, { status: 'written', paths: [path.join(elsewhere, 'cat.mask.png'), path.join(elsewhere, 'coco', 'cat.json')] });
    assert.equal(q.asked.length, 1);
    assert.match(q.asked[0]!, /^folder \/ro\/photos: .*read-only/);

    const dismissed = questions({ folder: [undefined] });
    assert.deepEqual(await exportFileSet(targets, refusing(writer), dismissed, async () => false), { status: 'cancelled' });
  });

  test('in the other folder, existing files are asked about again', async () => {
    const { folder: other } = folder('other-folder', { 'cat.mask.png': 'old' });
    const refusing: FileSetWriter = async (paths, options) => {
      if (paths[0]!.startsWith('/ro/')) throw new OutputWriteError('read-only', paths[0]!, 'read-only');
      return writer(paths, options);
    };
    const q = questions({ folder: [other], exists: ['cancel'] });
    assert.deepEqual(await exportFileSet(['/ro/cat.mask.png'], refusing, q), { status: 'cancelled' });
    assert.equal(readFileSync(path.join(other, 'cat.mask.png'), 'utf8'), 'old');
  });

  test('other errors are thrown for the caller to show', async () => {
    const full: FileSetWriter = async (paths) => {
      throw new OutputWriteError('no-space', paths[0]!, 'the disk is full');
    };
    await assert.rejects(exportFileSet(['/x/a.png'], full, questions({}), async () => false), /the disk is full/);
  });
});

/**
 * A set of output files is written all or nothing, and nothing a user had is lost:
 * an existing file is kept without overwrite, a folder in the way is refused up
 * front, and when one file cannot be placed the others are undone, the files they
 * replaced included.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildSync } from 'esbuild';
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

  it('the same file twice in one set is a programming error', async () => {
    const dir = folder();
    const file = path.join(dir, 'a.png');
    await assert.rejects(writeFilesAtomic([{ path: file, data: '1' }, { path: path.join(dir, '.', 'a.png'), data: '2' }]), TypeError);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('replaces another user\'s files where hard links to them are refused (protected_hardlinks), keeping copies instead', async (t) => {
    // Root's files in a folder anyone may write to, replaced by the user nobody, for whom Linux refuses a hard link to them.
    const dir = folder();
    chmodSync(dir, 0o777);
    for (const name of ['one.png', 'two.png', 'two.json']) writeFileSync(path.join(dir, name), `old ${name}`);
    // nobody may not be able to read this checkout (a clone in a private temporary folder), so
    // the module runs from a bundle of its own in a folder anyone can read.
    const bundle = path.join(folder(), 'atomic-write.js');
    chmodSync(path.dirname(bundle), 0o755);
    buildSync({ entryPoints: [path.resolve(__dirname, '../../src/core/io/atomic-write.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
    const script = `
      const { writeFilesAtomic } = require(${JSON.stringify(bundle)});
      const dir = ${JSON.stringify(dir)};
      (async () => {
        await writeFilesAtomic([{ path: dir + '/one.png', data: 'new one' }], { overwrite: true });
        await writeFilesAtomic([{ path: dir + '/two.png', data: 'new png' }, { path: dir + '/two.json', data: 'new json' }], { overwrite: true });
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
    try {
      execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script], { cwd: dir, stdio: 'pipe', env: { ...process.env, HOME: dir } });
    } catch (e) {
      const err = e as { code?: string; stderr?: Buffer };
      if (err.code === 'ENOENT' || /setpriv: |not permitted/.test(String(err.stderr))) return t.skip('setpriv as nobody is not available here');
      throw new Error(`the write as nobody failed: ${String(err.stderr)}`);
    }
    assert.equal(readFileSync(path.join(dir, 'one.png'), 'utf8'), 'new one');
    assert.equal(readFileSync(path.join(dir, 'two.png'), 'utf8'), 'new png');
    assert.equal(readFileSync(path.join(dir, 'two.json'), 'utf8'), 'new json');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no kept copy or temporary file left');
  });
});

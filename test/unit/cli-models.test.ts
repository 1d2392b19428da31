/**
 * `fastsam convert`, `fastsam download` and `fastsam segment --model <file.pt>`
 * as users run them: the built dist/cli.js (npm test builds first) in a child process.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const CHECKPOINT = path.resolve(__dirname, '../../models/fixtures/checkpoints/tiny-s.pt');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fastsam(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-cli-models-'));
});

describe('fastsam convert', () => {
  test('writes the ONNX model, prints its path, reports stages and a summary on stderr', async () => {
    const out = path.join(dir, 'tiny.onnx');
    const run = await fastsam(['convert', CHECKPOINT, out]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${out}\n`);
    assert.match(run.stderr, /tiny-s\.pt: reading the checkpoint…\n.*reading the model…\n.*building the network…\n.*serializing…\n.*writing…\n/);
    assert.match(run.stderr, /YOLOv8-seg scale s, 1 class, 422,899 parameters, dynamic input; converted in \d+\.\d s/);
    assert.ok(existsSync(out));

    const again = await fastsam(['convert', CHECKPOINT, out]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `fastsam: ${out} already exists; add --overwrite to replace it\n`);
    const fixed = await fastsam(['convert', CHECKPOINT, out, '--imgsz', '96', '--overwrite']);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stderr, /input 96×96/);
  });

  test('usage errors exit with 2', async () => {
    for (const args of [['convert', CHECKPOINT], ['convert', CHECKPOINT, path.join(dir, 'x.onnx'), '--imgsz', '100'], ['convert', CHECKPOINT, path.join(dir, 'x.bin')]]) {
      const run = await fastsam(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /Run "fastsam --help" for usage/);
    }
  });

  test('a file that is not a checkpoint is one error line', async () => {
    const run = await fastsam(['convert', CLI, path.join(dir, 'y.onnx')]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^fastsam: .*cli\.js is not a readable PyTorch checkpoint: not a PyTorch checkpoint: not a zip archive/);
    assert.ok(lines.slice(0, -1).every((l) => l.endsWith('…')), 'only progress lines before it');
  });
});

describe('fastsam convert and download: outputs that cannot be written', () => {
  test('a path through a file, a read-only folder: one line saying so, nothing left behind', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const convert = await fastsam(['convert', CHECKPOINT, path.join(file, 'x.onnx')]);
    assert.equal(convert.code, 1);
    assert.match(convert.stderr.trim().split('\n').at(-1)!, /^fastsam: Cannot write .*a-file\/x\.onnx: part of its path is a file, not a folder$/);

    const download = await fastsam(['download', 'fastsam-s', '--to', file]);
    assert.equal(download.code, 1);
    assert.match(download.stderr.trim().split('\n').at(-1)!, /^fastsam: Cannot create the folder .*a-file: part of its path is a file, not a folder$/);

    const locked = mkdtempSync(path.join(dir, 'locked-'));
    try {
      execFileSync('chattr', ['+i', locked], { stdio: 'ignore' });
    } catch {
      return; // no immutable folders here (not root, or a file system without them)
    }
    try {
      const run = await fastsam(['download', 'fastsam-s', '--to', locked]);
      assert.equal(run.code, 1);
      assert.match(run.stderr.trim().split('\n').at(-1)!, /^fastsam: Cannot write .*FastSAM-s\.pt\.part\.lock: the folder is read-only or not writable$/);
    } finally {
      execFileSync('chattr', ['-i', locked]);
    }
    assert.deepEqual(readdirSync(locked), []);
  });

  test('a folder given as the model says so', async () => {
    const run = await fastsam(['segment', CHECKPOINT, '--model', dir]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^fastsam: Model path .* is a folder; give the model file \(\.onnx or \.pt\) in it\n$/);
  });
});

describe('fastsam download', () => {
  test('an unknown model is a usage error naming the known ones', async () => {
    const run = await fastsam(['download', 'fastsam-l']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown model "fastsam-l"; the models are fastsam-s, fastsam-x/);
  });

  test('an unreachable proxy fails quickly with one line, after the license notice', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const to = mkdtempSync(path.join(dir, 'download-'));
    const run = await fastsam(['download', 'fastsam-s', '--to', to, '--proxy', `http://127.0.0.1:${port}`]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines[0], 'FastSAM-s weights are published by Ultralytics under the AGPL-3.0 license: https://github.com/ultralytics/ultralytics/blob/main/LICENSE');
    assert.equal(
      lines.at(-1),
      `fastsam: Cannot reach the proxy 127.0.0.1:${port} (ECONNREFUSED): check the proxy setting (http.proxy, HTTPS_PROXY). ` +
        'Download FastSAM-s.pt elsewhere (https://github.com/ultralytics/assets/releases/download/v8.3.0/FastSAM-s.pt) and pass it to --model.',
    );
    assert.deepEqual(readdirSync(to), []);
  });
});

describe('fastsam segment --model <checkpoint.pt>', () => {
  test('converts the checkpoint once, next to it, and segments with it', async () => {
    const model = path.join(dir, 'FastSAM-tiny.pt');
    copyFileSync(CHECKPOINT, model);
    const image = path.join(dir, 'scene.png');
    await sharp({ create: { width: 120, height: 80, channels: 3, background: { r: 200, g: 60, b: 40 } } }).png().toFile(image);
    const first = await fastsam(['segment', image, '--model', model, '--imgsz', '96', '--conf', '0', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /FastSAM-tiny\.pt: building the network…/);
    assert.ok(existsSync(`${model}.onnx`));
    const json = JSON.parse(first.stdout) as { width: number; height: number };
    assert.deepEqual([json.width, json.height], [120, 80]);

    const second = await fastsam(['segment', image, '--model', model, '--imgsz', '96', '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /building the network/);
  });
});

/**
 * `fastsam segment … --format …` and folder arguments, on the built
 * `dist/cli.js` (npm test builds first), with the palette fixture model.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { assertCliBuilt, CLI, fastsam, type CliRun } from '../helpers/cli';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import { paletteColors, paletteModelPath, shapeCentre } from '../helpers/fixture-model';
import { encodeScene, maskIoU, randomScene, type Scene, shapeMask } from '../helpers/shapes';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? (Date.now() % 1_000_000) + 1);
console.log(`cli-export: FASTSAM_TEST_SEED=${SEED}`);



let model: string;
let dir: string;
before(async () => {
  assertCliBuilt();
  model = await paletteModelPath();
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-cli-export-'));
});

/** A folder of generated images at the given relative paths; returns their scenes. */
async function imageFolder(name: string, files: string[], seed: number): Promise<{ folder: string; scenes: Map<string, Scene> }> {
  const folder = path.join(dir, name);
  const scenes = new Map<string, Scene>();
  for (const [i, rel] of files.entries()) {
    const scene = randomScene(seed + i, 160, 120, paletteColors);
    mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    writeFileSync(path.join(folder, rel), await encodeScene(scene, 'png'));
    scenes.set(rel, scene);
  }
  return { folder, scenes };
}

describe('fastsam segment --format', () => {
  it('exports a folder, subfolders included, with a COCO dataset; running again skips everything', async () => {
    const { folder, scenes } = await imageFolder('dataset', ['a.png', 'b.png', 'deep/c.png'], SEED);
    const out = path.join(dir, 'dataset-out');
    const args = ['segment', folder, '--model', model, '--imgsz', '160', '--format', 'coco,yolo', '--format', 'labelme', '--out', out];
    const run = await fastsam(args);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /^\[1\/3\] .*a\.png: \d+ masks? → .*a\.coco\.json, .*a\.txt, .*a\.json$/);
    assert.match(lines[2]!, /^\[3\/3\] .*deep.c\.png/);
    assert.match(lines[3]!, /^3 images: 3 written, 0 skipped \(files exist\), 0 failed$/);
    assert.match(lines[4]!, /COCO dataset .*_annotations\.coco\.json: 3 images, \d+ annotations$/);
    assert.deepEqual(readdirSync(path.join(out, 'deep')).sort(), ['c.coco.json', 'c.json', 'c.txt']);

    const dataset = JSON.parse(readFileSync(path.join(out, '_annotations.coco.json'), 'utf8'));
    assert.deepEqual(dataset.images.map((im: { file_name: string }) => im.file_name), ['../dataset/a.png', '../dataset/b.png', '../dataset/deep/c.png']);
    for (const image of dataset.images) {
      const scene = scenes.get(image.file_name.replace('../dataset/', ''))!;
      const decoded = dataset.annotations.filter((a: { image_id: number }) => a.image_id === image.id).map((a: { segmentation: { size: [number, number]; counts: string } }) => decodeRleToFull(a.segmentation));
      scene.shapes.forEach((_, s) => assert.ok(Math.max(...decoded.map((d: Uint8Array) => maskIoU(d, shapeMask(scene, s)))) >= 0.8));
    }

    const again = await fastsam(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /\[2\/3\] .*b\.png: skipped, its files exist/);
    assert.match(again.stdout, /3 images: 0 written, 3 skipped/);
    assert.match(again.stdout, /\(unchanged\)/);
  });

  it('a point prompt exports the selected shape: mask and cut-out next to the image', async () => {
    const { folder, scenes } = await imageFolder('prompt', ['p.png'], SEED + 10);
    const scene = scenes.get('p.png')!;
    const [x, y] = shapeCentre(scene, 1);
    const run = await fastsam(['segment', path.join(folder, 'p.png'), '--model', model, '--imgsz', '160', '--point', `${x},${y}`, '--format', 'mask,cutout']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /p\.png: 1 mask →/);
    const { data, info } = await sharp(path.join(folder, 'p.mask.png')).raw().toBuffer({ resolveWithObject: true });
    const mask = Uint8Array.from({ length: info.width * info.height }, (_, i) => (data[i * info.channels] ? 1 : 0));
    assert.ok(maskIoU(mask, shapeMask(scene, 1)) >= 0.9);
    const cut = await sharp(path.join(folder, 'p.cutout.png')).raw().toBuffer({ resolveWithObject: true });
    assert.equal(cut.info.channels, 4);
    for (let i = 0; i < mask.length; i++) assert.equal(cut.data[i * 4 + 3], mask[i] ? 255 : 0);
  });

  it('--json prints one status object per image and a summary; a failed image exits 1', async () => {
    const { folder } = await imageFolder('json', ['ok.png'], SEED + 20);
    writeFileSync(path.join(folder, 'broken.png'), 'not an image');
    const run = await fastsam(['segment', folder, '--model', model, '--imgsz', '160', '--format', 'coco', '--coco-polygons', '--json']);
    assert.equal(run.code, 1);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.status ?? 'summary'), ['failed', 'written', 'summary']);
    assert.match(lines[0].message, /broken\.png/);
    assert.deepEqual([lines[2].summary.total, lines[2].summary.written, lines[2].summary.failed, lines[2].summary.dataset.status], [2, 1, 1, 'not-written']);
    assert.match(run.stderr, /broken\.png.*not a supported image/);
    assert.match(run.stderr, /COCO dataset not written: 1 of 2 images failed/);
    const coco = JSON.parse(readFileSync(path.join(folder, 'ok.coco.json'), 'utf8'));
    assert.ok(Array.isArray(coco.annotations[0].segmentation), 'polygons');
  });

  it('Ctrl-C stops after the current image; the same command then finishes the rest', async () => {
    const { folder } = await imageFolder('interrupt', Array.from({ length: 12 }, (_, i) => `i${String(i).padStart(2, '0')}.png`), SEED + 30);
    const args = [CLI, 'segment', folder, '--model', model, '--imgsz', '160', '--format', 'yolo,overlay'];
    const first = await new Promise<CliRun>((resolve) => {
      const child = spawn(process.execPath, args);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
        if (/\[1\/12\]/.test(stdout) && !child.killed) child.kill('SIGINT');
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    assert.equal(first.code, 130, first.stderr);
    assert.match(first.stderr, /cancelled with (\d+) of 12 images left; run the same command again to continue/);
    const done = readdirSync(folder).filter((f) => f.endsWith('.txt')).length;
    assert.ok(done >= 1 && done < 12, `${done} images written before stopping`);
    assert.equal(readdirSync(folder).filter((f) => f.endsWith('.overlay.png')).length, done, 'whole images only');

    const second = await fastsam(args.slice(1));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`12 images: ${12 - done} written, ${done} skipped`));
  });

  it('rejects bad export options as usage errors', async () => {
    for (const extra of [['--format', 'png'], ['--format', ''], ['--coco-polygons'], ['--format', 'yolo', '--coco-dataset', 'x.json'], ['--format', 'yolo', '--tolerance', '-1'], ['--tolerance', '1'], ['--format', 'mask,coco', '--tolerance', '2']]) {
      const run = await fastsam(['segment', 'x.png', '--model', model, ...extra]);
      assert.equal(run.code, 2, `${extra.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^fastsam: .*(--format|--tolerance|--coco)/);
    }
  });

  it('a COCO dataset that would replace an image\'s own COCO file, or that names a folder, is refused', async () => {
    const { folder } = await imageFolder('dataset-clash', ['a.png', 'b.png'], SEED + 40);
    const clash = await fastsam(['segment', folder, '--model', model, '--format', 'coco', '--coco-dataset', path.join(folder, 'a.coco.json'), '--overwrite']);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /The COCO dataset file .*a\.coco\.json would replace .*a\.png's coco file; give the dataset another name/);
    assert.deepEqual(readdirSync(folder).sort(), ['a.png', 'b.png'], 'refused before any image');

    mkdirSync(path.join(folder, 'dataset'));
    const asFolder = await fastsam(['segment', folder, '--model', model, '--format', 'coco', '--coco-dataset', path.join(folder, 'dataset')]);
    assert.equal(asFolder.code, 1);
    assert.match(asFolder.stderr, /COCO dataset not written: .*dataset is a folder; name a file for the dataset/);
  });

  it('an empty folder is an error', async () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    const run = await fastsam(['segment', empty, '--model', model, '--format', 'mask']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no image files found/);
  });
});

describe('fastsam segment <folder> without --format', () => {
  it('segments every image of the folder as before, with subfolders kept under --out', async () => {
    const { folder } = await imageFolder('plain', ['x.png', 'sub/y.png'], SEED + 40);
    const out = path.join(dir, 'plain-out');
    const run = await fastsam(['segment', folder, '--model', model, '--imgsz', '160', '--json', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n').map((l) => path.relative(folder, JSON.parse(l).image)), [path.join('sub', 'y.png'), 'x.png']);
    assert.deepEqual(readdirSync(out).sort(), ['sub', 'x.masks.json', 'x.masks.png']);
    assert.deepEqual(readdirSync(path.join(out, 'sub')).sort(), ['y.masks.json', 'y.masks.png']);
  });
});

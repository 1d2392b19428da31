/**
 * The batch exporter end to end with the palette fixture model: an export of
 * 50 images interrupted half-way and resumed writes the same bytes as an
 * uninterrupted one; failures are reported and skipped; unwritable folders
 * and a full disk give clear errors and leave no partial files.
 */
import assert from 'node:assert/strict';
import { promises as fsp, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { FastSamEngine } from '../../src/core/engine';
import { type BatchEngine, type BatchProgress, collectImages, DATASET_FILE_NAME, defaultDatasetPath, exportBatch } from '../../src/core/export/batch';
import { EXPORT_FORMAT_IDS, type ExportFormatId } from '../../src/core/export/formats';
import { OutputWriteError } from '../../src/core/io/atomic-write';
import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import { paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { encodeScene, maskIoU, randomScene, type Scene, shapeMask } from '../helpers/shapes';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`export-batch: FASTSAM_TEST_SEED=${SEED}`);

const COUNT = 50;
let root: string;
let images: string;
let scenes: Map<string, Scene>;
let engine: FastSamEngine;
/** Segmentations asked of the engine, to see which images were skipped without one. */
let segmented: string[];
let batchEngine: BatchEngine;

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'fastsam-batch-'));
  images = path.join(root, 'images');
  scenes = new Map();
  // Small images keep 150 segmentations fast; every seventh in a subfolder, to see them kept apart.
  for (let i = 0; i < COUNT; i++) {
    const rel = i % 7 === 3 ? `sub/img-${String(i).padStart(2, '0')}.png` : `img-${String(i).padStart(2, '0')}.png`;
    const scene = randomScene(SEED + i, 160, 120, paletteColors);
    mkdirSync(path.dirname(path.join(images, rel)), { recursive: true });
    writeFileSync(path.join(images, rel), await encodeScene(scene, 'png'));
    scenes.set(rel, scene);
  }
  engine = await FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'cpu' });
  batchEngine = {
    segment: (image, { signal }) => {
      segmented.push(image);
      return engine.segment(image, { imageSize: 160, signal });
    },
  };
  segmented = [];
});
after(async () => engine?.dispose());

/** Every file under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  if (existsSync(dir)) walk('');
  return out.sort();
}

describe('batch export: interrupted and resumed', () => {
  it('writes the same files, byte for byte, as an uninterrupted run', async () => {
    const formats = EXPORT_FORMAT_IDS;
    const full = path.join(root, 'full');
    const progress: BatchProgress[] = [];
    const whole = await exportBatch({ inputs: [images], formats, engine: batchEngine, output: { outDir: full }, cocoDataset: true, onProgress: (p) => progress.push(p) });
    assert.equal(whole.total, COUNT);
    assert.equal(whole.written.length, COUNT, JSON.stringify(whole.failed));
    assert.deepEqual(whole.dataset && [whole.dataset.status, whole.dataset.images], ['written', COUNT]);

    // Progress: n of N before each image, then N of N; times grow; an estimate once an image was done.
    assert.deepEqual(progress.map((p) => p.done), [...Array(COUNT + 1).keys()]);
    assert.ok(progress.every((p) => p.total === COUNT));
    assert.equal(progress[0]!.remainingMs, undefined);
    assert.ok(progress.slice(1).every((p, k) => p.remainingMs! >= 0 && p.elapsedMs >= progress[k]!.elapsedMs));
    assert.equal(progress[COUNT]!.remainingMs, 0);
    const sorted = [...scenes.keys()].sort((a, b) => (a < b ? -1 : 1)).map((rel) => path.join(images, rel));
    assert.deepEqual(progress.slice(0, COUNT).map((p) => p.image), sorted, 'sorted by path, subfolders included');

    const resumed = path.join(root, 'resumed');
    const controller = new AbortController();
    let written = 0;
    const options = { inputs: [images], formats, engine: batchEngine, output: { outDir: resumed }, cocoDataset: true } as const;
    const first = await exportBatch({
      ...options,
      signal: controller.signal,
      onImage: (r) => {
        if (r.status === 'written' && ++written === 25) controller.abort();
      },
    });
    assert.deepEqual(first.stopped, { reason: 'cancelled' });
    assert.equal(first.written.length, 25);
    assert.equal(first.remaining, 25);
    assert.equal(first.dataset, undefined, 'no dataset from an incomplete batch');
    assert.equal(tree(resumed).length, 25 * formats.length, 'complete images only, no temporary files');

    segmented = [];
    const second = await exportBatch(options);
    assert.equal(second.skipped.length, 25);
    assert.equal(second.written.length, 25);
    assert.equal(segmented.length, 25, 'skipped images are not segmented again');
    assert.equal(second.dataset?.status, 'written');

    const files = tree(full);
    assert.deepEqual(tree(resumed), files);
    assert.equal(files.length, COUNT * formats.length + 1);
    for (const f of files) assert.ok(readFileSync(path.join(full, f)).equals(readFileSync(path.join(resumed, f))), `${f} differs`);

    // A third run finds everything in place and changes nothing.
    segmented = [];
    const third = await exportBatch(options);
    assert.deepEqual([third.skipped.length, segmented.length, third.dataset?.status], [COUNT, 0, 'unchanged']);
  });

  it('the dataset lists every image (subfolders kept) with masks that match its shapes', () => {
    const dataset = JSON.parse(readFileSync(path.join(root, 'full', DATASET_FILE_NAME), 'utf8'));
    assert.deepEqual(dataset.images.map((im: { id: number }) => im.id), [...Array(COUNT).keys()].map((i) => i + 1));
    assert.deepEqual(dataset.annotations.map((a: { id: number }) => a.id), [...Array(dataset.annotations.length).keys()].map((i) => i + 1));
    assert.ok(existsSync(path.join(root, 'full', 'sub', 'img-03.coco.json')), 'subfolders are kept under the output folder');
    for (const image of dataset.images) {
      const rel = path.posix.relative('../images', image.file_name);
      const scene = scenes.get(rel)!;
      assert.ok(scene, image.file_name);
      const anns = dataset.annotations.filter((a: { image_id: number }) => a.image_id === image.id);
      assert.equal(anns.length, scene.shapes.length, `${rel}: one annotation per shape`);
      scene.shapes.forEach((_, s) => {
        const best = Math.max(...anns.map((a: { segmentation: { size: [number, number]; counts: string } }) => maskIoU(decodeRleToFull(a.segmentation), shapeMask(scene, s))));
        assert.ok(best >= 0.8, `${rel} shape ${s}: IoU ${best}`);
      });
    }
  });
});

describe('batch export: failures', () => {
  let small: string;
  before(() => {
    small = path.join(root, 'small');
    mkdirSync(small);
    for (const name of ['img-00.png', 'img-01.png', 'img-02.png', 'img-04.png']) writeFileSync(path.join(small, name), readFileSync(path.join(images, name)));
  });

  it('a bad image is reported and skipped, the others are written, and the dataset waits for it', async () => {
    const dir = mkdtempSync(path.join(root, 'bad-'));
    for (const name of readdirSync(small)) writeFileSync(path.join(dir, name), readFileSync(path.join(small, name)));
    writeFileSync(path.join(dir, 'img-01.png'), 'not an image');
    const reports: string[] = [];
    const summary = await exportBatch({ inputs: [dir], formats: ['coco', 'yolo'], engine: batchEngine, cocoDataset: true, onImage: (r) => reports.push(`${path.basename(r.image)} ${r.status}`) });
    assert.deepEqual(reports, ['img-00.png written', 'img-01.png failed', 'img-02.png written', 'img-04.png written']);
    assert.match(summary.failed[0]!.message, /img-01\.png.*not a supported image/);
    assert.equal(summary.dataset?.status, 'not-written');
    assert.match(summary.dataset!.message!, /1 of 4 images failed/);
    assert.ok(!existsSync(path.join(dir, DATASET_FILE_NAME)));

    // Fixed, and run again: only the fixed image is segmented, and the dataset is complete.
    writeFileSync(path.join(dir, 'img-01.png'), readFileSync(path.join(small, 'img-01.png')));
    segmented = [];
    const again = await exportBatch({ inputs: [dir], formats: ['coco', 'yolo'], engine: batchEngine, cocoDataset: true });
    assert.deepEqual(segmented, [path.join(dir, 'img-01.png')]);
    assert.deepEqual([again.dataset?.status, again.dataset?.images], ['written', 4]);
  });

  it('images whose files would collide are refused, the first one is written', async () => {
    const dir = mkdtempSync(path.join(root, 'same-'));
    writeFileSync(path.join(dir, 'a.png'), readFileSync(path.join(small, 'img-00.png')));
    writeFileSync(path.join(dir, 'a.jpg'), readFileSync(path.join(small, 'img-00.png')));
    const summary = await exportBatch({ inputs: [dir], formats: ['yolo'], engine: batchEngine });
    assert.deepEqual(summary.written.map((r) => path.basename(r.image)), ['a.jpg']);
    assert.match(summary.failed[0]!.message, /a\.png: its yolo file .*a\.txt would also be .*a\.jpg's/);
  });

  it('an output folder under a file: a clear error for every image, one segmentation, nothing written', async () => {
    const blocker = path.join(root, 'somefile');
    writeFileSync(blocker, 'x');
    segmented = [];
    const summary = await exportBatch({ inputs: [small], formats: ['mask', 'coco'], engine: batchEngine, output: { outDir: path.join(blocker, 'out') } });
    assert.equal(summary.failed.length, 4);
    for (const f of summary.failed) assert.match(f.message, /somefile.out: part of its path is a file, not a folder/);
    assert.equal(segmented.length, 1, 'later images fail without being segmented');
    assert.equal(summary.stopped, undefined, 'the batch went on');
  });

  /** Makes writes of temporary files under `dir` fail with `code`, after writing half the data. */
  function failWrites(dir: string, code: string, after = 0) {
    const original = fsp.writeFile;
    let calls = 0;
    return mock.method(fsp, 'writeFile', async (file: string, data: string | Uint8Array, options?: object) => {
      if (typeof file === 'string' && file.startsWith(dir) && calls++ >= after) {
        await original(file, data.slice(0, data.length >> 1), options as never);
        throw Object.assign(new Error(`${code}: simulated`), { code });
      }
      return original(file, data, options as never);
    });
  }

  it('a folder that refuses writes (EACCES): a clear error per image, the batch goes on, no file left', async (t) => {
    const out = path.join(root, 'refusing');
    t.after(() => mock.restoreAll());
    failWrites(out, 'EACCES');
    const summary = await exportBatch({ inputs: [small], formats: ['mask', 'coco', 'labelme'], engine: batchEngine, output: { outDir: out } });
    assert.equal(summary.failed.length, 4);
    for (const f of summary.failed) {
      assert.ok(f.error instanceof OutputWriteError && f.error.code === 'read-only');
      assert.match(f.message, /read-only or not writable/);
    }
    assert.deepEqual(tree(out), []);
  });

  it('a full disk (ENOSPC) stops the batch with a clear error and leaves no partial file', async (t) => {
    const out = path.join(root, 'full-disk');
    t.after(() => mock.restoreAll());
    // Two images of three files each go through; the third image's second file hits the full disk.
    failWrites(out, 'ENOSPC', 7);
    const summary = await exportBatch({ inputs: [small], formats: ['mask', 'coco', 'labelme'], engine: batchEngine, output: { outDir: out }, cocoDataset: true });
    assert.equal(summary.written.length, 2);
    assert.equal(summary.failed.length, 1);
    assert.match(summary.failed[0]!.message, /disk is full/);
    assert.deepEqual(summary.stopped && [summary.stopped.reason, summary.remaining], ['fatal', 1]);
    assert.match((summary.stopped as { message: string }).message, /disk is full/);
    assert.equal(summary.dataset, undefined);
    assert.deepEqual(tree(out), ['img-00.coco.json', 'img-00.json', 'img-00.mask.png', 'img-01.coco.json', 'img-01.json', 'img-01.mask.png']);
  });

  it('cancelled during a segmentation: that image is not written, and the summary says how many are left', async () => {
    const out = path.join(root, 'cancel');
    const controller = new AbortController();
    const summary = await exportBatch({
      inputs: [small],
      formats: ['yolo'],
      engine: batchEngine,
      output: { outDir: out },
      signal: controller.signal,
      onProgress: (p) => p.done === 2 && controller.abort(),
    });
    assert.deepEqual([summary.stopped, summary.written.length, summary.remaining], [{ reason: 'cancelled' }, 2, 2]);
    assert.deepEqual(tree(out), ['img-00.txt', 'img-01.txt']);
  });

  it('rejects options that cannot work before doing anything', async () => {
    await assert.rejects(exportBatch({ inputs: [small], formats: [], engine: batchEngine }), /No export format/);
    await assert.rejects(exportBatch({ inputs: [small], formats: ['yolo'], engine: batchEngine, cocoDataset: true }), /needs the coco format/);
    await assert.rejects(exportBatch({ inputs: [small], formats: ['yolo'] as ExportFormatId[], engine: batchEngine, output: { names: { yolo: 'labels.txt' } } }), /must contain \{stem\}/);
  });
});

describe('collectImages', () => {
  it('walks folders in sorted order, skipping hidden files, non-images, its own outputs and links to folders', async () => {
    const dir = mkdtempSync(path.join(root, 'walk-'));
    for (const f of ['b.png', 'a.JPG', 'B.webp', 'notes.txt', '.hidden.png', 'a.mask.png', 'a.overlay.png', 'x/c.tif', 'x/y/d.avif', '.git/e.png', 'a.coco.json']) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), '');
    }
    symlinkSync(path.join(dir, 'x'), path.join(dir, 'link-to-x'));
    symlinkSync(path.join(dir, 'b.png'), path.join(dir, 'link.png'));
    const lone = path.join(root, 'missing.png');
    const { images: found, roots } = await collectImages([dir, lone, path.join(dir, 'b.png')]);
    assert.deepEqual(
      found.map((f) => [path.relative(root, f.path), f.relativeDir]),
      [
        [path.join(path.basename(dir), 'B.webp'), ''],
        [path.join(path.basename(dir), 'a.JPG'), ''],
        [path.join(path.basename(dir), 'b.png'), ''],
        [path.join(path.basename(dir), 'link.png'), ''],
        [path.join(path.basename(dir), 'x', 'c.tif'), 'x'],
        [path.join(path.basename(dir), 'x', 'y', 'd.avif'), 'x/y'],
        ['missing.png', ''],
      ],
    );
    assert.deepEqual(roots, [dir, root, dir]);
    assert.ok(statSync(path.join(dir, 'link-to-x')).isDirectory());
    rmSync(dir, { recursive: true });
  });

  it('puts the dataset in the output folder, else in the folder the inputs share', () => {
    assert.equal(defaultDatasetPath(['a', 'b'], { outDir: 'out' }), path.join('out', DATASET_FILE_NAME));
    assert.equal(defaultDatasetPath(['photos', 'photos/']), path.join('photos', DATASET_FILE_NAME));
    assert.equal(defaultDatasetPath(['/data/x/a', '/data/x/b/c', '/data/x/b']), path.join('/data/x', DATASET_FILE_NAME));
  });
});

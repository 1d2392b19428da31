/**
 * The engine worker's export jobs, through EngineClient, against the real
 * worker bundle (dist/engine-worker.js) with the palette fixture model: a
 * batch export of a folder (progress, per-image reports, every format, the
 * COCO dataset), cancelled half-way and continued, a failing image, existing
 * files kept or replaced, the editors' segmentations served between a batch's
 * images, and one image's export in several formats. `npm test` builds the
 * bundle before the unit tests; alone, run `npm run build` first.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';

import { DATASET_FILE_NAME, type BatchProgress } from '../../src/core/export/batch';
import { EXPORT_FORMAT_IDS, planOutputs } from '../../src/core/export/format-names';
import { OutputWriteError } from '../../src/core/io/atomic-write';
import { type BatchExportRequest, type BatchImageReport, EngineClient, type ModelSpec } from '../../src/extension/engine-client';
import { assertShapesFound, paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { encodeScene, randomScene, type Scene } from '../helpers/shapes';

const WORKER = path.resolve(__dirname, '../../dist/engine-worker.js');
const quiet = { info: () => {}, warn: () => {} };
const PARAMS = { imageSize: 160, confidence: 0.4, iou: 0.9, maxDetections: 300 };
const SEED = 7100;
const COUNT = 8;

let root: string;
let model: ModelSpec;
let client: EngineClient;
/** The images' scenes by path relative to their folder. */
const scenes = new Map<string, Scene>();

/** Every file under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** A folder of COCO-sized small scenes: img-0.png …, two in a subfolder, and a text file that is no image. */
async function imageFolder(name: string, count = COUNT): Promise<string> {
  const folder = path.join(root, name);
  for (let i = 0; i < count; i++) {
    const rel = i % 4 === 1 ? `sub/img-${i}.png` : `img-${i}.png`;
    const scene = randomScene(SEED + i, 160, 120, paletteColors);
    scenes.set(rel, scene);
    mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    writeFileSync(path.join(folder, rel), await encodeScene(scene, 'png'));
  }
  writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  return folder;
}

function batch(inputs: string[], extra: Partial<BatchExportRequest> = {}): BatchExportRequest {
  return { model, ...PARAMS, inputs, formats: [...EXPORT_FORMAT_IDS], output: {}, formatOptions: {}, cocoDataset: true, ...extra };
}

/** Every output file a run wrote (image and notes files left out). */
const outputs = (folder: string): string[] => tree(folder).filter((f) => !/img-\d+\.png$/.test(f) && f !== 'notes.txt');

before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run \`npm run build\` first (npm test does)`);
  root = mkdtempSync(path.join(tmpdir(), 'fastsam-worker-batch-'));
  model = { path: await paletteModelPath(), executionProvider: 'cpu', mtimeMs: 1, size: 1 };
  client = new EngineClient({ workerPath: WORKER, logger: quiet });
});
after(async () => {
  await client?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('batchExport in the engine worker', () => {
  test('a folder: every format of every image, recursively, with progress and a report per image', async () => {
    const folder = await imageFolder('all');
    const plan = await client.planBatch([folder], EXPORT_FORMAT_IDS, {});
    assert.deepEqual(plan, { images: COUNT, withFiles: 0, unreadable: [] });

    const progress: BatchProgress[] = [];
    const reports: BatchImageReport[] = [];
    const phases: string[] = [];
    const summary = await client.batchExport(batch([folder], { onProgress: (p) => progress.push(p), onImage: (r) => reports.push(r), onPhase: (p) => phases.push(p) }));
    assert.deepEqual({ ...summary, dataset: undefined }, { total: COUNT, written: COUNT, skipped: 0, failed: [], remaining: 0, dataset: undefined });
    assert.equal(summary.dataset?.status, 'written');
    assert.equal(summary.dataset?.images, COUNT);
    assert.deepEqual(phases, ['loading-model']);

    assert.deepEqual(progress.map((p) => p.done), [...Array(COUNT + 1).keys()]);
    assert.ok(progress.slice(0, COUNT).every((p) => p.total === COUNT && p.image !== undefined));
    assert.ok(progress.at(-2)!.remainingMs !== undefined, 'an estimate once images were segmented');
    assert.deepEqual(reports.map((r) => r.status), Array(COUNT).fill('written'));

    // Seven files per image, beside it, and the dataset in the folder.
    const expected = [...scenes.keys()]
      .filter((rel) => existsSync(path.join(folder, rel)))
      .flatMap((rel) => planOutputs(path.join(folder, rel), EXPORT_FORMAT_IDS).map((t) => path.relative(folder, t.path).split(path.sep).join('/')));
    assert.deepEqual(outputs(folder), [...expected, DATASET_FILE_NAME].sort());
    for (const r of reports) {
      assert.ok(r.status === 'written');
      const rel = path.relative(folder, r.image).split(path.sep).join('/');
      assert.equal(r.masks, scenes.get(rel)!.shapes.length, rel);
      const coco = JSON.parse(readFileSync(r.files.find((f) => f.endsWith('.coco.json'))!, 'utf8')) as { annotations: unknown[]; images: { width: number }[] };
      assert.equal(coco.annotations.length, r.masks);
      const mask = await sharp(r.files.find((f) => f.endsWith('.mask.png'))!).metadata();
      assert.deepEqual([mask.width, mask.height, mask.channels], [160, 120, 1]);
    }
  });

  test('cancelled half-way: stops with a summary, leaves complete images only; run again, it finishes without rewriting them', async () => {
    const folder = await imageFolder('resume');
    const controller = new AbortController();
    const first = await client.batchExport(
      batch([folder], {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.done === 3) controller.abort();
        },
      }),
    );
    assert.deepEqual(first.stopped, { reason: 'cancelled' });
    assert.equal(first.dataset, undefined, 'no dataset for an unfinished batch');
    assert.ok(first.written >= 3 && first.written < COUNT, `${first.written} images written before the cancel took effect`);
    assert.equal(first.written + first.remaining, COUNT);
    const done = outputs(folder);
    assert.equal(done.length, first.written * EXPORT_FORMAT_IDS.length, `complete sets only: ${done.join(', ')}`);
    const before = new Map(done.map((f) => [f, statSync(path.join(folder, f)).mtimeMs]));

    const plan = await client.planBatch([folder], EXPORT_FORMAT_IDS, {});
    assert.deepEqual(plan, { images: COUNT, withFiles: first.written, unreadable: [] });

    const second = await client.batchExport(batch([folder]));
    assert.equal(second.stopped, undefined);
    assert.deepEqual([second.written, second.skipped, second.failed.length], [COUNT - first.written, first.written, 0]);
    assert.equal(second.dataset?.status, 'written');
    assert.equal(outputs(folder).length, COUNT * EXPORT_FORMAT_IDS.length + 1);
    for (const [f, mtime] of before) assert.equal(statSync(path.join(folder, f)).mtimeMs, mtime, `${f} was not rewritten`);
  });

  test('a file that fails is reported and skipped; the batch goes on', async () => {
    const folder = await imageFolder('failing', 3);
    writeFileSync(path.join(folder, 'broken.png'), 'not a PNG at all');
    const reports: BatchImageReport[] = [];
    const summary = await client.batchExport(batch([folder], { formats: ['mask', 'coco'], onImage: (r) => reports.push(r) }));
    assert.deepEqual([summary.total, summary.written, summary.failed.length], [4, 3, 1]);
    assert.equal(summary.failed[0]!.image, path.join(folder, 'broken.png'));
    assert.match(summary.failed[0]!.message, /broken\.png/);
    assert.equal(reports.find((r) => r.status === 'failed')?.image, path.join(folder, 'broken.png'));
    assert.equal(summary.dataset?.status, 'not-written', 'no dataset while an image lacks its COCO file');
    assert.equal(existsSync(path.join(folder, 'broken.mask.png')), false);
  });

  test('existing files are kept unless overwrite is asked for', async () => {
    const folder = await imageFolder('existing', 2);
    const mask = path.join(folder, 'img-0.mask.png');
    writeFileSync(mask, 'mine');
    const kept = await client.batchExport(batch([folder], { formats: ['mask', 'yolo'], cocoDataset: false }));
    assert.deepEqual([kept.written, kept.skipped], [2, 0], 'img-0 still lacked its yolo file');
    assert.equal(readFileSync(mask, 'utf8'), 'mine');
    assert.ok(existsSync(path.join(folder, 'img-0.txt')));
    const again = await client.batchExport(batch([folder], { formats: ['mask', 'yolo'], cocoDataset: false }));
    assert.deepEqual([again.written, again.skipped], [0, 2]);

    const replaced = await client.batchExport(batch([folder], { formats: ['mask', 'yolo'], cocoDataset: false, output: { overwrite: true } }));
    assert.deepEqual([replaced.written, replaced.skipped], [2, 0]);
    assert.equal((await sharp(mask).metadata()).format, 'png');
  });

  test('into an output folder, keeping subfolders, with the file names given', async () => {
    const folder = await imageFolder('named', 2);
    const out = path.join(root, 'named-out');
    const summary = await client.batchExport(batch([folder], { formats: ['mask', 'labelme'], cocoDataset: false, output: { outDir: out, names: { mask: 'masks/{stem}.png' } } }));
    assert.equal(summary.written, 2, JSON.stringify(summary.failed));
    assert.deepEqual(tree(out), ['img-0.json', 'masks/img-0.png', 'sub/img-1.json', 'sub/masks/img-1.png']);
    const labelme = JSON.parse(readFileSync(path.join(out, 'sub', 'img-1.json'), 'utf8')) as { imagePath: string };
    assert.equal(labelme.imagePath, path.relative(path.join(out, 'sub'), path.join(folder, 'sub', 'img-1.png')).split(path.sep).join('/'));
  });

  test('an editor’s segmentation is served between two of a batch’s images', async () => {
    const folder = await imageFolder('interleaved', 6);
    const scene = randomScene(SEED + 99, 160, 120, paletteColors);
    const png = await encodeScene(scene, 'png');
    let done = 0;
    let imagesDoneWhenSegmented: number | undefined;
    let segmented: Promise<void> | undefined;
    const summary = await client.batchExport(
      batch([folder], {
        formats: ['mask'],
        cocoDataset: false,
        onImage: () => {
          done++;
          // Asked once the batch is under way, as an editor opened meanwhile would.
          segmented ??= client.segment({ model, image: new Uint8Array(png), name: 'editor.png', ...PARAMS }).then((result) => {
            imagesDoneWhenSegmented = done;
            assertShapesFound(scene, result, 'the editor’s image');
          });
        },
      }),
    );
    await segmented;
    assert.equal(summary.written, 6);
    assert.ok(imagesDoneWhenSegmented !== undefined && imagesDoneWhenSegmented < 6, `the editor waited for ${imagesDoneWhenSegmented} of 6 images`);
  });

  test('invalid options reject: no format, two formats with one file name', async () => {
    const folder = await imageFolder('invalid', 1);
    await assert.rejects(client.batchExport(batch([folder], { formats: [] })), /No export format chosen/);
    await assert.rejects(client.batchExport(batch([folder], { formats: ['mask', 'index'], output: { names: { index: '{stem}.mask.png' } } })), /both be named/);
  });
});

describe('exportImage in the engine worker', () => {
  test('writes the formats together; a file in the way is an OutputWriteError "exists" and nothing is written; overwrite replaces', async () => {
    const folder = path.join(root, 'one');
    mkdirSync(folder);
    const scene = randomScene(SEED + 50, 160, 120, paletteColors);
    const image = path.join(folder, 'one.png');
    writeFileSync(image, await encodeScene(scene, 'png'));
    const result = await client.segment({ model, image: new Uint8Array(readFileSync(image)), name: 'one.png', ...PARAMS });
    const targets = planOutputs(image, ['mask', 'cutout', 'overlay', 'coco'], { outDir: path.join(folder, 'out') });
    const request = { imagePath: image, width: result.width, height: result.height, masks: result.masks, targets, formatOptions: { cocoSegmentation: 'polygon' as const }, overwrite: false };
    assert.deepEqual(await client.exportImage(request), targets.map((t) => t.path));
    assert.deepEqual(tree(path.join(folder, 'out')), ['one.coco.json', 'one.cutout.png', 'one.mask.png', 'one.overlay.png']);
    const cutout = await sharp(path.join(folder, 'out', 'one.cutout.png')).metadata();
    assert.deepEqual([cutout.width, cutout.height, cutout.channels], [160, 120, 4]);
    const coco = JSON.parse(readFileSync(path.join(folder, 'out', 'one.coco.json'), 'utf8')) as { annotations: { segmentation: unknown }[]; images: { file_name: string }[] };
    assert.ok(Array.isArray(coco.annotations[0]!.segmentation), 'polygons, as asked');
    assert.equal(coco.images[0]!.file_name, '../one.png');

    rmSync(path.join(folder, 'out', 'one.mask.png'));
    writeFileSync(path.join(folder, 'out', 'one.coco.json'), 'mine');
    await assert.rejects(client.exportImage(request), (e: unknown) => {
      assert.ok(e instanceof OutputWriteError, String(e));
      assert.equal(e.code, 'exists');
      assert.equal(e.path, path.join(folder, 'out', 'one.coco.json'));
      return true;
    });
    assert.equal(existsSync(path.join(folder, 'out', 'one.mask.png')), false, 'all or none');
    await client.exportImage({ ...request, overwrite: true });
    assert.notEqual(readFileSync(path.join(folder, 'out', 'one.coco.json'), 'utf8'), 'mine');
  });
});

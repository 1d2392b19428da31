/**
 * The format registry: file names and folders, the bytes each format makes
 * from an image and its masks (cut-out and overlay included), and one image's
 * export written together without replacing anything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { UserFacingError } from '../../src/core/errors';
import {
  DEFAULT_FILE_NAMES,
  EXPORT_FORMAT_IDS,
  exportImage,
  fileNamePatterns,
  isOutputImageName,
  normalizeFormats,
  planOutputs,
  renderOutputs,
} from '../../src/core/export/formats';
import { OVERLAY_OPACITY, overlayColor } from '../../src/core/export/overlay';
import { OutputWriteError } from '../../src/core/io/atomic-write';
import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import { segmentedMask } from '../helpers/masks';
import { paletteColors } from '../helpers/fixture-model';
import { encodeScene, randomScene, renderScene, type Scene, shapeMask } from '../helpers/shapes';

let dir: string;
let imagePath: string;
let scene: Scene;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-formats-'));
  scene = randomScene(42, 150, 100, paletteColors);
  mkdirSync(path.join(dir, 'images'));
  imagePath = path.join(dir, 'images', 'photo.png');
  writeFileSync(imagePath, await encodeScene(scene, 'png'));
});

const subject = () => ({
  imagePath,
  result: { width: scene.width, height: scene.height },
  masks: scene.shapes.map((_, i) => segmentedMask(shapeMask(scene, i), scene.width, scene.height, i)),
});

async function rgba(png: Uint8Array | string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png as Buffer).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('file names', () => {
  it('puts <stem>.<suffix> next to the image by default, in registry order', () => {
    const planned = planOutputs('/data/cat.photo.jpg', ['overlay', 'coco', 'mask', 'coco']);
    assert.deepEqual(planned, [
      { format: 'mask', path: path.join('/data', 'cat.photo.mask.png') },
      { format: 'coco', path: path.join('/data', 'cat.photo.coco.json') },
      { format: 'overlay', path: path.join('/data', 'cat.photo.overlay.png') },
    ]);
    assert.deepEqual(
      planOutputs('/data/a.png', EXPORT_FORMAT_IDS).map((p) => path.basename(p.path)),
      ['a.mask.png', 'a.masks.png', 'a.coco.json', 'a.txt', 'a.json', 'a.cutout.png', 'a.overlay.png'],
    );
  });

  it('uses the output folder, keeping the subfolder an image was found in, and custom names', () => {
    const planned = planOutputs({ path: '/in/x/y/a.png', relativeDir: 'x/y' }, ['yolo', 'labelme'], { outDir: '/out', names: { yolo: 'labels/{stem}.txt' } });
    assert.deepEqual(planned, [
      { format: 'yolo', path: path.join('/out/x/y/labels/a.txt') },
      { format: 'labelme', path: path.join('/out/x/y/a.json') },
    ]);
  });

  it('rejects names without {stem}, absolute names, and two formats with one name', () => {
    const rejects = (names: Parameters<typeof fileNamePatterns>[1], pattern: RegExp) =>
      assert.throws(() => fileNamePatterns(['mask', 'coco', 'labelme'], names), (e: Error) => e instanceof UserFacingError && pattern.test(e.message));
    rejects({ mask: 'mask.png' }, /must contain \{stem\}/);
    rejects({ mask: path.resolve('/abs/{stem}.png') }, /relative/);
    rejects({ coco: '{stem}.json' }, /coco and labelme files would both be named/);
    // A name used by a format not chosen is no conflict.
    assert.doesNotThrow(() => fileNamePatterns(['mask'], { coco: '{stem}.json' }));
  });

  it('recognises its own image outputs, so a folder walk does not take them for images', () => {
    for (const name of ['a.mask.png', 'b.c.masks.png', 'x.cutout.png', 'X.OVERLAY.PNG']) assert.ok(isOutputImageName(name), name);
    for (const name of ['a.png', 'mask.png', 'a.coco.json', 'a.mask.jpg']) assert.ok(!isOutputImageName(name), name);
    assert.ok(isOutputImageName('a-cut.webp', { cutout: '{stem}-cut.webp' }));
    assert.deepEqual(normalizeFormats(['yolo', 'mask', 'yolo']), ['mask', 'yolo']);
    assert.equal(DEFAULT_FILE_NAMES.labelme, '{stem}.json');
  });
});

describe('rendering', () => {
  it('mask and index PNGs hold the masks', async () => {
    const s = subject();
    const files = await renderOutputs(s, planOutputs(imagePath, ['mask', 'index']));
    const mask = await rgba(files[0]!.data);
    const index = await rgba(files[1]!.data);
    for (let p = 0; p < scene.width * scene.height; p++) {
      const owner = s.masks.findIndex((m) => shapeMask(scene, m.id)[p]);
      assert.equal(mask.data[p * mask.channels], owner >= 0 ? 255 : 0);
      assert.equal(index.data[p * index.channels], owner + 1);
    }
  });

  it('the cut-out keeps the image where the masks are and clears the rest', async () => {
    const s = { ...subject(), masks: subject().masks.slice(0, 2) };
    const [file] = await renderOutputs(s, planOutputs(imagePath, ['cutout']));
    const cut = await rgba(file!.data);
    assert.deepEqual([cut.width, cut.height, cut.channels], [scene.width, scene.height, 4]);
    const { rgb } = renderScene(scene);
    const inside = (p: number) => s.masks.some((m) => shapeMask(scene, m.id)[p]);
    let kept = 0;
    for (let p = 0; p < scene.width * scene.height; p++) {
      const px = [...cut.data.subarray(p * 4, p * 4 + 4)];
      if (inside(p)) {
        assert.deepEqual(px, [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2], 255], `pixel ${p} kept`);
        kept++;
      } else {
        assert.deepEqual(px, [0, 0, 0, 0], `pixel ${p} cleared`);
      }
    }
    assert.equal(kept, s.masks[0]!.mask.area + s.masks[1]!.mask.area);
  });

  it('the overlay has the image size, tints mask pixels and leaves the rest as they are', async () => {
    const s = subject();
    const [file] = await renderOutputs(s, planOutputs(imagePath, ['overlay']));
    const over = await rgba(file!.data);
    assert.deepEqual([over.width, over.height, over.channels], [scene.width, scene.height, 3]);
    const { rgb } = renderScene(scene);
    const first = shapeMask(scene, 0);
    let tinted = 0;
    for (let p = 0; p < scene.width * scene.height; p++) {
      const px = [...over.data.subarray(p * 3, p * 3 + 3)];
      const owner = s.masks.findIndex((m) => shapeMask(scene, m.id)[p]);
      if (owner < 0) assert.deepEqual(px, [...rgb.subarray(p * 3, p * 3 + 3)], `pixel ${p} untouched`);
      else if (first[p]) {
        const x = p % scene.width, y = Math.floor(p / scene.width);
        const interior = [[1, 0], [-1, 0], [0, 1], [0, -1]].every(([dx, dy]) => first[(y + dy!) * scene.width + x + dx!]);
        const c = overlayColor(0);
        const expected = interior ? c.map((v, k) => Math.round(rgb[p * 3 + k]! * (1 - OVERLAY_OPACITY) + v * OVERLAY_OPACITY)) : c;
        assert.deepEqual(px, expected, `pixel ${p}: ${interior ? 'blended' : 'outline'}`);
        tinted++;
      }
    }
    assert.equal(tinted, s.masks[0]!.mask.area);
    assert.notDeepEqual(overlayColor(0), overlayColor(1));
  });

  it('JSON formats refer to the image relative to their own folder', async () => {
    const targets = planOutputs(imagePath, ['coco', 'labelme'], { outDir: path.join(dir, 'out') });
    const [coco, labelme] = await renderOutputs(subject(), targets);
    const cocoJson = JSON.parse(coco!.data as string);
    assert.equal(cocoJson.images[0].file_name, '../images/photo.png');
    assert.equal(JSON.parse(labelme!.data as string).imagePath, '../images/photo.png');
    assert.deepEqual(decodeRleToFull(cocoJson.annotations[0].segmentation), shapeMask(scene, 0));
  });

  it('refuses to draw on an image whose size changed since it was segmented', async () => {
    const s = { ...subject(), result: { width: scene.width + 1, height: scene.height } };
    await assert.rejects(renderOutputs(s, planOutputs(imagePath, ['cutout'])), /is now 150×100, not the 151×100 that was segmented/);
  });
});

describe('exportImage', () => {
  it('writes every format together, then keeps existing files unless told to overwrite', async () => {
    const out = path.join(dir, 'single', 'nested');
    const first = await exportImage(subject(), EXPORT_FORMAT_IDS, { outDir: out });
    assert.equal(first.written.length, 7);
    assert.deepEqual(first.existing, []);
    assert.deepEqual(readdirSync(out).sort(), ['photo.coco.json', 'photo.cutout.png', 'photo.json', 'photo.mask.png', 'photo.masks.png', 'photo.overlay.png', 'photo.txt']);

    writeFileSync(path.join(out, 'photo.txt'), 'mine');
    const again = await exportImage(subject(), ['yolo', 'mask'], { outDir: out });
    assert.deepEqual(again, { written: [], existing: [path.join(out, 'photo.mask.png'), path.join(out, 'photo.txt')] });
    assert.equal(readFileSync(path.join(out, 'photo.txt'), 'utf8'), 'mine');

    const replaced = await exportImage(subject(), ['yolo'], { outDir: out, overwrite: true });
    assert.deepEqual(replaced.written, [path.join(out, 'photo.txt')]);
    assert.match(readFileSync(path.join(out, 'photo.txt'), 'utf8'), /^0 /);
  });

  it('says so when the output folder cannot be created, writing nothing', async () => {
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    await assert.rejects(exportImage(subject(), ['mask'], { outDir: path.join(blocker, 'out') }), (e: Error) => e instanceof OutputWriteError && /part of its path is a file, not a folder/.test(e.message));
  });
});

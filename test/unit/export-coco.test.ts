/**
 * COCO instance JSON: RLE decodes back to exactly the mask, polygons
 * re-rasterize to IoU ≥ 0.9 (COCO unions an object's polygons), the fields
 * pycocotools reads, and the dataset merge a batch builds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserFacingError } from '../../src/core/errors';
import { type CocoAnnotation, cocoAnnotations, cocoImageFile, mergeCocoFiles, parseCocoImageFile, stringifyCoco } from '../../src/core/export/coco';
import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import { segmentedMask, testMasks } from '../helpers/masks';
import { rasterizePolygons } from '../helpers/rasterize';
import { maskIoU } from '../helpers/shapes';

const W = 160;
const H = 120;
const cases = testMasks(W, H);
const masks = cases.map((t, i) => segmentedMask(t.full, W, H, i, 0.5 + i * 0.0123456));

describe('COCO annotations', () => {
  it('RLE segmentations decode to exactly the masks, holes and parts included', () => {
    const anns = cocoAnnotations(masks, 7, 100);
    anns.forEach((a, i) => {
      const rle = a.segmentation as { size: [number, number]; counts: string };
      assert.deepEqual(rle.size, [H, W]);
      assert.equal(typeof rle.counts, 'string', 'compressed counts');
      assert.deepEqual(decodeRleToFull(rle), cases[i]!.full, cases[i]!.name);
    });
  });

  it('polygon segmentations re-rasterize to IoU ≥ 0.9, one polygon per part', () => {
    const anns = cocoAnnotations(masks, 1, 1, { segmentation: 'polygon' });
    anns.forEach((a, i) => {
      const polygons = a.segmentation as number[][];
      assert.ok(Array.isArray(polygons));
      assert.equal(polygons.length, cases[i]!.parts, `${cases[i]!.name}: parts`);
      for (const p of polygons) assert.ok(p.length >= 6 && p.length % 2 === 0, 'at least three x, y pairs');
      const iou = maskIoU(rasterizePolygons(polygons, W, H), cases[i]!.full);
      assert.ok(iou >= 0.9, `${cases[i]!.name}: IoU ${iou.toFixed(4)}`);
    });
    const exact = cocoAnnotations(masks, 1, 1, { segmentation: 'polygon', tolerance: 0 });
    exact.forEach((a, i) => assert.deepEqual(rasterizePolygons(a.segmentation as number[][], W, H), cases[i]!.full, `${cases[i]!.name} at tolerance 0`));
  });

  it('has the fields pycocotools reads: tight bbox [x, y, w, h], pixel area, ids, iscrowd 0, one category', () => {
    const anns = cocoAnnotations(masks, 7, 100);
    anns.forEach((a, i) => {
      const full = cases[i]!.full;
      let x1 = W, y1 = H, x2 = 0, y2 = 0, area = 0;
      full.forEach((v, p) => {
        if (!v) return;
        area++;
        const x = p % W, y = Math.floor(p / W);
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
      });
      assert.deepEqual(a.bbox, [x1, y1, x2 - x1, y2 - y1]);
      assert.equal(a.area, area);
      assert.equal(a.id, 100 + i);
      assert.equal(a.image_id, 7);
      assert.equal(a.category_id, 1);
      assert.equal(a.iscrowd, 0);
      assert.equal(a.score, Math.round(masks[i]!.score * 1e4) / 1e4);
    });
  });

  it('writes a per-image file with one image, the category "object", and no timings', () => {
    const coco = cocoImageFile('photo.jpg', W, H, masks);
    assert.deepEqual(coco.images, [{ id: 1, file_name: 'photo.jpg', width: W, height: H }]);
    assert.deepEqual(coco.categories, [{ id: 1, name: 'object', supercategory: 'object' }]);
    assert.deepEqual(coco.annotations.map((a) => a.id), [1, 2, 3, 4, 5]);
    assert.equal(stringifyCoco(coco), stringifyCoco(cocoImageFile('photo.jpg', W, H, masks)), 'the same bytes every time');
    assert.doesNotMatch(stringifyCoco(coco), /time|date/i);
  });
});

describe('COCO dataset', () => {
  it('merges per-image files: images and annotations renumbered, file names replaced', () => {
    const a = parseCocoImageFile(stringifyCoco(cocoImageFile('a.png', W, H, masks.slice(0, 2))), 'a.coco.json');
    const b = parseCocoImageFile(stringifyCoco(cocoImageFile('b.png', 80, 60, [])), 'b.coco.json');
    const c = parseCocoImageFile(stringifyCoco(cocoImageFile('c.png', W, H, masks.slice(2))), 'c.coco.json');
    const merged = mergeCocoFiles([
      { fileName: 'x/a.png', coco: a },
      { fileName: 'b.png', coco: b },
      { fileName: 'x/y/c.png', coco: c },
    ]);
    assert.deepEqual(merged.images, [
      { id: 1, file_name: 'x/a.png', width: W, height: H },
      { id: 2, file_name: 'b.png', width: 80, height: 60 },
      { id: 3, file_name: 'x/y/c.png', width: W, height: H },
    ]);
    assert.deepEqual(merged.annotations.map((x) => [x.id, x.image_id]), [[1, 1], [2, 1], [3, 3], [4, 3], [5, 3]]);
    const rle = (x: CocoAnnotation) => x.segmentation as { size: [number, number]; counts: string };
    merged.annotations.forEach((x, i) => assert.deepEqual(decodeRleToFull(rle(x)), cases[i]!.full));
  });

  it('rejects files that are not per-image COCO files, naming them', () => {
    for (const text of ['not json', '{}', JSON.stringify({ images: [], annotations: [] }), JSON.stringify({ images: [{ id: 1 }], annotations: [] }), JSON.stringify({ images: [{ width: 1, height: 1 }], annotations: [{ id: 1 }] })]) {
      assert.throws(() => parseCocoImageFile(text, 'odd.coco.json'), (e: Error) => e instanceof UserFacingError && /odd\.coco\.json/.test(e.message), text);
    }
  });
});

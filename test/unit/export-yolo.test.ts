/**
 * YOLO segmentation labels: the line format Ultralytics reads, and the lines
 * of each mask re-rasterized (coordinates scaled back to pixels) match it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { yoloLabels } from '../../src/core/export/yolo';
import { segmentedMask, testMasks } from '../helpers/masks';
import { rasterizePolygons } from '../helpers/rasterize';
import { maskIoU } from '../helpers/shapes';

describe('YOLO segmentation labels', () => {
  for (const [W, H] of [[160, 120], [97, 203]] as const) {
    it(`one line per part, class 0, normalized 0..1, matching the masks (IoU ≥ 0.9) on ${W}×${H}`, () => {
      const cases = testMasks(W, H);
      const text = yoloLabels(cases.map((t, i) => segmentedMask(t.full, W, H, i)), W, H);
      assert.ok(text.endsWith('\n'));
      const lines = text.trimEnd().split('\n');
      assert.equal(lines.length, cases.reduce((n, t) => n + t.parts, 0));
      const polygons = lines.map((line) => {
        const [cls, ...values] = line.split(' ');
        assert.equal(cls, '0');
        assert.ok(values.length >= 6 && values.length % 2 === 0, 'x, y pairs, at least three');
        for (const v of values) assert.match(v, /^(0|1|0\.\d{1,6})$/, 'a number between 0 and 1, at most six decimals');
        return values.map((v, k) => Number(v) * (k % 2 === 0 ? W : H));
      });
      // Lines come mask by mask, each mask's parts together.
      let next = 0;
      for (const t of cases) {
        const mine = polygons.slice(next, next + t.parts);
        next += t.parts;
        const iou = maskIoU(rasterizePolygons(mine, W, H), t.full);
        assert.ok(iou >= 0.9, `${t.name}: IoU ${iou.toFixed(4)}`);
      }
    });
  }

  it('is empty for an image without masks (a background image to YOLO)', () => {
    assert.equal(yoloLabels([], 10, 10), '');
  });
});

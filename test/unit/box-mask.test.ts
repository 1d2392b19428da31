import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countInRect, forEachRun, fromFullMask, intersectionArea, maskHas, maskIoU, tightBounds, toFullMask } from '../../src/core/masks/box-mask';

/** A full-size mask from a predicate, for building cases by hand. */
function full(width: number, height: number, inside: (x: number, y: number) => boolean): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) m[y * width + x] = inside(x, y) ? 1 : 0;
  return m;
}

describe('BoxMask', () => {
  it('round-trips a full mask through its compact form, across 32-bit word boundaries', () => {
    const w = 100, h = 40;
    const src = full(w, h, (x, y) => (x - 50) ** 2 / 1600 + (y - 20) ** 2 / 300 <= 1 && x !== 63);
    const m = fromFullMask(src, w, h);
    assert.equal(m.area, src.reduce((a, b) => a + b, 0));
    assert.deepEqual(toFullMask(m), src);
    assert.deepEqual(tightBounds(m), [10, 3, 91, 38]);
    assert.equal(maskHas(m, 50, 20), true);
    assert.equal(maskHas(m, 63, 20), false);
    assert.equal(maskHas(m, -1, 20), false);
  });

  it('counts pixels inside a rectangle', () => {
    const w = 70, h = 10;
    const src = full(w, h, (x, y) => x >= 5 && x < 65 && y >= 2 && y < 8);
    const m = fromFullMask(src, w, h);
    assert.equal(countInRect(m, 0, 0, w, h), 60 * 6);
    assert.equal(countInRect(m, 30, 0, 40, 5), 10 * 3);
    assert.equal(countInRect(m, 31, 3, 64, 4), 33);
    assert.equal(countInRect(m, 66, 0, 70, 10), 0);
  });

  it('counts pixels in random rectangles exactly as a pixel-by-pixel count', () => {
    let seed = 5;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const w = 150, h = 40;
    const src = full(w, h, (x, y) => ((x * 7 + y * 13) % 11 < 6) !== x > 90);
    const m = fromFullMask(src, w, h);
    for (let t = 0; t < 200; t++) {
      const x1 = Math.floor(rand() * w), x2 = x1 + Math.floor(rand() * (w - x1 + 1));
      const y1 = Math.floor(rand() * h), y2 = y1 + Math.floor(rand() * (h - y1 + 1));
      let expected = 0;
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) expected += src[y * w + x]!;
      assert.equal(countInRect(m, x1, y1, x2, y2), expected, `[${x1}, ${y1}, ${x2}, ${y2})`);
    }
  });

  it('computes intersection and IoU of masks with different rectangles', () => {
    const w = 90, h = 50;
    const a = fromFullMask(full(w, h, (x, y) => x >= 3 && x < 70 && y >= 5 && y < 30), w, h);
    const b = fromFullMask(full(w, h, (x, y) => x >= 40 && x < 88 && y >= 10 && y < 45), w, h);
    const inter = 30 * 20;
    assert.equal(intersectionArea(a, b), inter);
    assert.equal(maskIoU(a, b), inter / (a.area + b.area - inter));
    assert.equal(maskIoU(a, a), 1);
  });

  it('lists horizontal runs in image coordinates', () => {
    const w = 40, h = 3;
    const m = fromFullMask(full(w, h, (x, y) => y === 1 && ((x >= 2 && x < 5) || (x >= 31 && x < 38))), w, h);
    const runs: number[][] = [];
    forEachRun(m, (y, x1, x2) => runs.push([y, x1, x2]));
    assert.deepEqual(runs, [[1, 2, 5], [1, 31, 38]]);
  });

  it('handles an empty mask', () => {
    const m = fromFullMask(new Uint8Array(12), 4, 3);
    assert.equal(m.area, 0);
    assert.equal(tightBounds(m), null);
    assert.deepEqual(toFullMask(m), new Uint8Array(12));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  boxModelToImage,
  computeLetterbox,
  imageToModel,
  modelToImage,
  roundHalfEven,
} from '../../src/core/image/letterbox';

describe('roundHalfEven', () => {
  it("matches Python 3's round()", () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [12.5, 12],
      [-0.5, 0],
      [-1.5, -2],
      [-2.5, -2],
      [2.4999999, 2],
      [2.5000001, 3],
      [170.4, 170],
      [170.6, 171],
      [7, 7],
      [-7, -7],
    ];
    for (const [x, expected] of cases) assert.equal(roundHalfEven(x), expected, `round(${x})`);
  });
});

describe('computeLetterbox', () => {
  // [w, h, S, newW, newH, left, top, right, bottom], computed with Ultralytics'
  // LetterBox formulas in Python 3.
  const table: number[][] = [
    [451, 300, 1024, 1024, 681, 0, 171, 0, 172],
    [300, 451, 1024, 681, 1024, 171, 0, 172, 0],
    [1, 1, 1024, 1024, 1024, 0, 0, 0, 0],
    [6000, 4000, 1024, 1024, 683, 0, 170, 0, 171],
    [640, 640, 1024, 1024, 1024, 0, 0, 0, 0],
    [17, 1000, 1024, 17, 1024, 503, 0, 504, 0],
    [2, 480, 1024, 4, 1024, 510, 0, 510, 0],
    [451, 300, 640, 640, 426, 0, 107, 0, 107],
    [300, 451, 640, 426, 640, 107, 0, 107, 0],
    [1, 1, 640, 640, 640, 0, 0, 0, 0],
    [6000, 4000, 640, 640, 427, 0, 106, 0, 107],
    [640, 640, 640, 640, 640, 0, 0, 0, 0],
    [17, 1000, 640, 11, 640, 314, 0, 315, 0],
    [2, 480, 640, 3, 640, 318, 0, 319, 0],
    // w·r is exactly 2.5 and 12.5 here: Python rounds to the even 2 and 12
    // where Math.round would give 3 and 13.
    [1, 256, 640, 2, 640, 319, 0, 319, 0],
    [5, 256, 640, 12, 640, 314, 0, 314, 0],
  ];
  for (const [w, h, S, newWidth, newHeight, padLeft, padTop, padRight, padBottom] of table) {
    it(`${w}×${h} at ${S}`, () => {
      const lb = computeLetterbox(w, h, S);
      assert.deepEqual(lb, {
        size: S,
        scale: Math.min(S / h, S / w),
        newWidth,
        newHeight,
        padLeft,
        padTop,
        padRight,
        padBottom,
        imageWidth: w,
        imageHeight: h,
      });
    });
  }

  it('always fills the square exactly', () => {
    for (let w = 1; w <= 700; w += 7) {
      for (const h of [1, 3, 299, 300, 480, 701, 2000]) {
        for (const S of [320, 640, 1024]) {
          const lb = computeLetterbox(w, h, S);
          assert.equal(lb.newWidth + lb.padLeft + lb.padRight, S, `${w}×${h}@${S} width`);
          assert.equal(lb.newHeight + lb.padTop + lb.padBottom, S, `${w}×${h}@${S} height`);
          assert.ok(lb.newWidth === S || lb.newHeight === S, `${w}×${h}@${S} touches two sides`);
          assert.ok(lb.padRight - lb.padLeft === 0 || lb.padRight - lb.padLeft === 1);
          assert.ok(lb.padBottom - lb.padTop === 0 || lb.padBottom - lb.padTop === 1);
        }
      }
    }
  });

  it('keeps at least one pixel for extremely thin images, where Ultralytics would fail', () => {
    const lb = computeLetterbox(100_000, 1, 640);
    assert.deepEqual([lb.newWidth, lb.newHeight, lb.padTop, lb.padBottom], [640, 1, 319, 320]);
  });

  it('rejects sizes that are not positive integers', () => {
    assert.throws(() => computeLetterbox(0, 10, 640), RangeError);
    assert.throws(() => computeLetterbox(10, -1, 640), RangeError);
    assert.throws(() => computeLetterbox(10, 10, 640.5), RangeError);
    assert.throws(() => computeLetterbox(Number.NaN, 10, 640), RangeError);
  });
});

describe('coordinate mapping', () => {
  const lb = computeLetterbox(451, 300, 1024); // scale ≈ 2.2705, 171 rows of padding on top

  it('maps image corners onto the letterboxed area', () => {
    assert.deepEqual(imageToModel(lb, 0, 0), { x: 0, y: 171 });
    const corner = imageToModel(lb, 451, 300);
    assert.ok(Math.abs(corner.x - 1024) < 1e-9);
    assert.ok(Math.abs(corner.y - (171 + 300 * lb.scale)) < 1e-9);
    assert.ok(Math.abs(corner.y - (171 + lb.newHeight)) < 0.5);
  });

  it('round-trips points in both directions', () => {
    for (const [w, h, S] of [
      [451, 300, 1024],
      [300, 451, 640],
      [17, 1000, 1024],
      [6000, 4000, 640],
    ]) {
      const box = computeLetterbox(w, h, S);
      for (const [x, y] of [
        [0, 0],
        [w, h],
        [w / 3, h / 7],
        [w - 0.5, 0.25],
      ]) {
        const m = imageToModel(box, x, y);
        const back = modelToImage(box, m.x, m.y);
        assert.ok(Math.abs(back.x - x) < 1e-9 && Math.abs(back.y - y) < 1e-9, `${w}×${h}@${S} (${x}, ${y})`);
      }
      const there = modelToImage(box, 100.5, 200.25);
      const again = imageToModel(box, there.x, there.y);
      assert.ok(Math.abs(again.x - 100.5) < 1e-9 && Math.abs(again.y - 200.25) < 1e-9);
    }
  });

  it('maps a box back to image coordinates', () => {
    const inModel = { x1: 100, y1: 200, x2: 300, y2: 400 };
    const box = boxModelToImage(lb, inModel);
    assert.ok(Math.abs(box.x1 - 100 / lb.scale) < 1e-9);
    assert.ok(Math.abs(box.y1 - (200 - 171) / lb.scale) < 1e-9);
    assert.ok(Math.abs(box.x2 - 300 / lb.scale) < 1e-9);
    assert.ok(Math.abs(box.y2 - (400 - 171) / lb.scale) < 1e-9);
  });

  it('clips boxes to the image, never wrapping', () => {
    // Reaching into the top padding and past the right and bottom edges.
    const box = boxModelToImage(lb, { x1: -20, y1: 100, x2: 1100, y2: 1000 });
    assert.deepEqual(box, { x1: 0, y1: 0, x2: 451, y2: 300 });
    assert.ok(!Object.is(box.x1, -0) && !Object.is(box.y1, -0));
    // Wholly inside the bottom padding: collapses onto the bottom edge.
    const below = boxModelToImage(lb, { x1: 10, y1: 900, x2: 50, y2: 1000 });
    assert.deepEqual([below.y1, below.y2], [300, 300]);
    // Wholly inside the top padding: collapses onto the top edge.
    const above = boxModelToImage(lb, { x1: 10, y1: 5, x2: 50, y2: 150 });
    assert.deepEqual([above.y1, above.y2], [0, 0]);
  });
});

/**
 * Tracing masks to polygons: exact at tolerance 0 (re-rasterized by an
 * independent even-odd rasterizer), IoU ≥ 0.9 after simplification, holes and
 * parts found, vertices on pixel edges inside the image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFullMask } from '../../src/core/masks/box-mask';
import { bridgeHoles, maskToPolygons, signedArea, simplifyRing } from '../../src/core/export/polygons';
import { ellipse, randomBlobs, rect, testMasks, union } from '../helpers/masks';
import { rasterizeEvenOdd, rasterizePolygons } from '../helpers/rasterize';
import { maskIoU } from '../helpers/shapes';

const W = 160;
const H = 120;

function countDiff(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('maskToPolygons', () => {
  it('traces outlines that fill back to exactly the mask at tolerance 0, noise included', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const w = 5 + (seed % 37);
      const h = 4 + ((seed * 7) % 29);
      const full = randomBlobs(seed, w, h, 0.3 + (seed % 5) * 0.1);
      const parts = maskToPolygons(fromFullMask(full, w, h), { tolerance: 0 });
      // Every ring together, even-odd: holes inside outers, islands inside holes.
      const allRings = rasterizeEvenOdd(parts.flatMap((p) => [p.outer, ...p.holes]), w, h);
      assert.equal(countDiff(allRings, full), 0, `seed ${seed}: rings together`);
      // One bridged ring per part, unioned as COCO does.
      assert.equal(countDiff(rasterizePolygons(parts.map(bridgeHoles), w, h), full), 0, `seed ${seed}: bridged parts`);
    }
  });

  it('finds the parts and holes of each test mask, outer rings clockwise and holes counter-clockwise', () => {
    for (const t of testMasks(W, H)) {
      const parts = maskToPolygons(fromFullMask(t.full, W, H));
      assert.equal(parts.length, t.parts, `${t.name}: parts`);
      assert.equal(parts.reduce((n, p) => n + p.holes.length, 0), t.holes, `${t.name}: holes`);
      for (const p of parts) {
        assert.ok(signedArea(p.outer) > 0, `${t.name}: outer ring clockwise on screen`);
        for (const hole of p.holes) assert.ok(signedArea(hole) < 0, `${t.name}: hole counter-clockwise`);
      }
    }
  });

  it('keeps IoU ≥ 0.9 after simplification at 1 px, with far fewer vertices, and every vertex on a pixel edge inside the image', () => {
    let before = 0;
    let after = 0;
    for (const t of testMasks(W, H)) {
      const mask = fromFullMask(t.full, W, H);
      const exact = maskToPolygons(mask, { tolerance: 0 });
      const parts = maskToPolygons(mask);
      const iou = maskIoU(rasterizePolygons(parts.map(bridgeHoles), W, H), t.full);
      assert.ok(iou >= 0.9, `${t.name}: IoU ${iou.toFixed(4)}`);
      const count = (ps: typeof parts) => ps.reduce((n, p) => n + p.outer.length + p.holes.reduce((m, h) => m + h.length, 0), 0);
      assert.ok(count(parts) <= count(exact), `${t.name}: ${count(parts) / 2} vertices simplified from ${count(exact) / 2}`);
      before += count(exact);
      after += count(parts);
      for (const ring of parts.flatMap((p) => [p.outer, ...p.holes])) {
        assert.ok(ring.length >= 6, `${t.name}: at least 3 vertices`);
        for (let i = 0; i < ring.length; i += 2) {
          const [x, y] = [ring[i]!, ring[i + 1]!];
          assert.ok(x >= 0 && x <= W && y >= 0 && y <= H, `${t.name}: (${x}, ${y}) inside the image`);
          // A pixel corner or the midpoint of a pixel edge: one coordinate whole, the other whole or a half.
          assert.ok(Number.isInteger(2 * x) && Number.isInteger(2 * y) && (Number.isInteger(x) || Number.isInteger(y)), `${t.name}: (${x}, ${y}) on a pixel edge`);
        }
      }
    }
    assert.ok(after < before / 2, `${after / 2} vertices in all, simplified from ${before / 2}`);
  });

  it('joins pixels touching only at a corner into one part (8-connectivity)', () => {
    const full = new Uint8Array(4 * 4);
    full[0] = full[5] = full[10] = 1; // a diagonal
    full[3] = 1; // a separate corner pixel
    const parts = maskToPolygons(fromFullMask(full, 4, 4), { tolerance: 0 });
    assert.equal(parts.length, 2);
    assert.equal(countDiff(rasterizePolygons(parts.map((p) => p.outer), 4, 4), full), 0);
  });

  it('keeps rectangles square: four corners, exact', () => {
    for (const [x1, y1, x2, y2] of [[0, 0, 53, 30], [10, 10, 20, 15], [W - 7, H - 2, W, H]] as const) {
      const parts = maskToPolygons(fromFullMask(rect(W, H, x1, y1, x2, y2), W, H));
      assert.deepEqual(parts, [{ outer: [x2, y1, x2, y2, x1, y2, x1, y1], holes: [] }]);
    }
  });

  it('returns no part for an empty mask and keeps a single pixel as a diamond', () => {
    assert.deepEqual(maskToPolygons(fromFullMask(new Uint8Array(9), 3, 3)), []);
    const one = new Uint8Array(9);
    one[4] = 1;
    assert.deepEqual(maskToPolygons(fromFullMask(one, 3, 3), { tolerance: 5 }), [{ outer: [1.5, 1, 2, 1.5, 1.5, 2, 1, 1.5], holes: [] }]);
  });

  it('rejects a negative or non-numeric tolerance', () => {
    const mask = fromFullMask(rect(8, 8, 2, 2, 6, 6), 8, 8);
    assert.throws(() => maskToPolygons(mask, { tolerance: -1 }), RangeError);
    assert.throws(() => maskToPolygons(mask, { tolerance: Number.NaN }), RangeError);
  });
});

describe('simplifyRing', () => {
  it('keeps every traced vertex within the tolerance of the simplified outline', () => {
    const full = union(ellipse(W, H, 60, 50, 45, 30), rect(W, H, 90, 60, 150, 110));
    const [part] = maskToPolygons(fromFullMask(full, W, H), { tolerance: 0 });
    const ring = part!.outer;
    for (const tolerance of [0.5, 1, 2.5]) {
      const simple = simplifyRing(ring, tolerance);
      assert.ok(simple.length < ring.length);
      for (let i = 0; i < ring.length; i += 2) {
        let nearest = Infinity;
        for (let k = 0; k < simple.length; k += 2) {
          const [ax, ay, bx, by] = [simple[k]!, simple[k + 1]!, simple[(k + 2) % simple.length]!, simple[(k + 3) % simple.length]!];
          const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
          const t = Math.max(0, Math.min(1, ((ring[i]! - ax) * (bx - ax) + (ring[i + 1]! - ay) * (by - ay)) / len2));
          nearest = Math.min(nearest, Math.hypot(ring[i]! - ax - t * (bx - ax), ring[i + 1]! - ay - t * (by - ay)));
        }
        assert.ok(nearest <= tolerance + 1e-9, `tolerance ${tolerance}: vertex ${i / 2} is ${nearest.toFixed(3)} px away`);
      }
    }
  });
});

describe('simplifyRing at large tolerances', () => {
  it('never gives more vertices for a larger tolerance, down to a triangle that keeps the ring\'s orientation', () => {
    const [part] = maskToPolygons(fromFullMask(ellipse(W, H, 80, 60, 70, 40), W, H), { tolerance: 0 });
    const ring = part!.outer;
    let last = ring.length;
    for (const tolerance of [0.5, 1, 5, 20, 60, 100, 1000, 1e6]) {
      const simple = simplifyRing(ring, tolerance);
      assert.ok(simple.length <= last, `tolerance ${tolerance}: ${simple.length / 2} vertices, more than ${last / 2} at a smaller one`);
      assert.ok(simple.length >= 6);
      assert.equal(Math.sign(signedArea(simple)), Math.sign(signedArea(ring)), `tolerance ${tolerance}: orientation`);
      last = simple.length;
    }
    assert.equal(simplifyRing(ring, 1e6).length, 6);
    // Holes keep their orientation too, or the non-zero fill of a bridged ring would fill them:
    // this hole's vertex 0 is not on its hull, so a triangle on the wrong side would flip it.
    const rows = ['...####', '#####.#', '#####.#', '###...#', '#.#..##', '#.#####', '#.#####'];
    const full = Uint8Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0));
    for (const tolerance of [2, 3, 10]) {
      for (const p of maskToPolygons(fromFullMask(full, 7, 7), { tolerance })) {
        for (const hole of p.holes) assert.equal(Math.sign(signedArea(hole)), -Math.sign(signedArea(p.outer)), `tolerance ${tolerance}: a hole stays a hole`);
      }
    }
    let seed = 3;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let k = 0; k < 300; k++) {
      const noisy = Uint8Array.from({ length: 12 * 12 }, () => (random() < 0.6 ? 1 : 0));
      for (const p of maskToPolygons(fromFullMask(noisy, 12, 12), { tolerance: 1 + random() * 6 })) {
        for (const hole of p.holes) assert.equal(Math.sign(signedArea(hole)), -Math.sign(signedArea(p.outer)), `random mask ${k}`);
      }
    }
    // A pixel's diamond is kept whole.
    const diamond = [1.5, 1, 2, 1.5, 1.5, 2, 1, 1.5];
    assert.deepEqual(simplifyRing(diamond, 1e6), diamond);
  });
});

describe('bridgeHoles', () => {
  it('splices holes in through zero-width bridges that fill to the outer ring minus the holes', () => {
    const t = testMasks(W, H).find((m) => m.name.startsWith('two parts'))!;
    const parts = maskToPolygons(fromFullMask(t.full, W, H), { tolerance: 0 });
    const withHoles = parts.find((p) => p.holes.length === 2)!;
    const ring = bridgeHoles(withHoles);
    assert.equal(ring.length, withHoles.outer.length + withHoles.holes.reduce((n, h) => n + h.length + 4, 0), 'each hole adds its vertices and two bridge ends');
    const expected = rasterizeEvenOdd([withHoles.outer, ...withHoles.holes], W, H);
    assert.equal(countDiff(rasterizePolygons([ring], W, H), expected), 0);
    assert.ok(expected.some((v, i) => v !== rasterizePolygons([withHoles.outer], W, H)[i]), 'the holes are empty');
  });
});

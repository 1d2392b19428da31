import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFullMask } from '../../src/core/masks/box-mask';
import { hslToRgb, maskColor } from '../../src/webview/colors';
import { blendCoverage, levelForScale, MAX_LEVEL, maskRegion, outlineAlpha, paintRgba, rasterizeCoverage } from '../../src/webview/mask-raster';

function mask(width: number, height: number, inside: (x: number, y: number) => boolean) {
  const full = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) full[y * width + x] = inside(x, y) ? 1 : 0;
  return fromFullMask(full, width, height);
}

describe('webview mask rasterisation', () => {
  it('level 0 is one opaque pixel per set bit, across word boundaries', () => {
    // 70 wide: three words per row, a full word in the middle and a partial last one.
    const m = mask(70, 5, (x, y) => (y === 1 && x >= 3 && x < 69) || (y === 3 && x % 7 === 0));
    const cov = rasterizeCoverage(m, 0);
    assert.equal(cov.width, m.width);
    assert.equal(cov.height, m.height);
    assert.equal(cov.factor, 1);
    for (let y = 0; y < m.height; y++) {
      for (let x = 0; x < m.width; x++) {
        const gx = x + m.left, gy = y + m.top;
        const expected = (gy === 1 && gx >= 3 && gx < 69) || (gy === 3 && gx % 7 === 0) ? 255 : 0;
        assert.equal(cov.alpha[y * cov.width + x], expected, `pixel ${gx},${gy}`);
      }
    }
  });

  it('coarser levels average coverage per block, and keep the total area', () => {
    const m = mask(64, 64, (x, y) => x < 40 && y < 33);
    for (let level = 1; level <= MAX_LEVEL; level++) {
      const cov = rasterizeCoverage(m, level);
      const f = 1 << level;
      assert.equal(cov.factor, f);
      assert.equal(cov.width, Math.ceil(m.width / f));
      assert.equal(cov.height, Math.ceil(m.height / f));
      let sum = 0;
      for (const a of cov.alpha) sum += (a / 255) * f * f;
      assert.ok(Math.abs(sum - m.area) <= cov.alpha.length * 0.5 * (f * f) / 255 + 1e-6, `level ${level}: area ${sum} vs ${m.area}`);
    }
    // At level 1 a block half inside (x 40..41 is inside, y 32 only for one row) is half covered.
    const half = rasterizeCoverage(m, 1);
    assert.equal(half.alpha[0], 255);
    assert.equal(half.alpha[16 * half.width + 0], 128, 'row 32 is inside, row 33 is not');
  });

  it('puts coarse bitmaps on one image-wide grid, so masks with odd offsets line up', () => {
    // Pixels x 5..12 of rows 2..3: at level 2 (4-pixel blocks) that is blocks 1..3, block row 0.
    const m = mask(20, 8, (x, y) => x >= 5 && x < 13 && y >= 2 && y < 4);
    assert.equal(m.left, 5);
    const cov = rasterizeCoverage(m, 2);
    assert.equal(cov.x0, 1);
    assert.equal(cov.y0, 0);
    assert.equal(cov.width, 3);
    assert.equal(cov.height, 1);
    // Block 1 holds x 5..7 (3 of 4 columns), block 2 all of 8..11, block 3 only x 12; two rows of four.
    const expect = (n: number) => Math.round((n * 255) / 16);
    assert.deepEqual([...cov.alpha], [expect(3 * 2), expect(4 * 2), expect(1 * 2)]);
    // Whole words of ones straddling blocks: 40 set pixels from x = 3 at level 3 (8-pixel blocks).
    const wide = mask(64, 1, (x) => x >= 3 && x < 43);
    const c3 = rasterizeCoverage(wide, 3);
    assert.equal(c3.x0, 0);
    assert.deepEqual([...c3.alpha].map((a) => Math.round((a * 64) / 255)), [5, 8, 8, 8, 8, 3]);
  });

  it('a clipped rasterisation (one tile) equals the same part of the whole one', () => {
    // A blob with ragged edges and holes, at an odd offset, so tiles cut through partial words.
    const m = mask(300, 200, (x, y) => (x - 150) ** 2 / 12000 + (y - 100) ** 2 / 5000 < 1 && (x * 7 + y * 3) % 11 !== 0 && x > 37);
    for (let level = 0; level <= 3; level++) {
      const whole = rasterizeCoverage(m, level);
      const r = maskRegion(m, level);
      assert.deepEqual([whole.x0, whole.y0, whole.width, whole.height], [r.x1, r.y1, r.x2 - r.x1, r.y2 - r.y1]);
      for (const clip of [
        { x1: r.x1 + 3, y1: r.y1 + 2, x2: r.x1 + 40, y2: r.y1 + 29 },
        { x1: -10, y1: -10, x2: r.x1 + 1, y2: 1000 },
        { x1: r.x2 - 5, y1: r.y1, x2: r.x2 + 50, y2: r.y2 },
      ]) {
        const part = rasterizeCoverage(m, level, clip);
        for (let y = 0; y < part.height; y++) {
          for (let x = 0; x < part.width; x++) {
            const wx = part.x0 + x - whole.x0, wy = part.y0 + y - whole.y0;
            assert.equal(part.alpha[y * part.width + x], whole.alpha[wy * whole.width + wx], `level ${level} clip ${JSON.stringify(clip)} at ${x},${y}`);
          }
        }
      }
      const outside = rasterizeCoverage(m, level, { x1: r.x2 + 1, y1: r.y1, x2: r.x2 + 9, y2: r.y2 });
      assert.equal(outside.width * outside.height, 0);
    }
  });

  it('picks the coarsest level still at least as fine as the screen', () => {
    assert.equal(levelForScale(2), 0);
    assert.equal(levelForScale(1), 0);
    assert.equal(levelForScale(0.6), 0);
    assert.equal(levelForScale(0.5), 1);
    assert.equal(levelForScale(0.3), 1);
    assert.equal(levelForScale(0.25), 2);
    assert.equal(levelForScale(0.01), MAX_LEVEL);
    assert.equal(levelForScale(0), 0);
  });

  it('outlines the boundary one pixel wide and leaves the interior empty', () => {
    const m = mask(12, 10, (x, y) => x >= 2 && x < 10 && y >= 2 && y < 8);
    const cov = rasterizeCoverage(m, 0);
    const out = outlineAlpha(cov);
    let n = 0;
    for (let y = 0; y < cov.height; y++) {
      for (let x = 0; x < cov.width; x++) {
        const edge = x === 0 || y === 0 || x === cov.width - 1 || y === cov.height - 1;
        assert.equal(out[y * cov.width + x], edge ? 255 : 0, `${x},${y}`);
        if (edge) n++;
      }
    }
    assert.equal(n, 2 * 8 + 2 * 4);
  });

  it('paints straight-alpha RGBA in the mask colour', () => {
    const alpha = new Uint8ClampedArray([0, 128, 255]);
    const rgba = paintRgba(alpha, [10, 20, 30]);
    assert.deepEqual([...rgba], [0, 0, 0, 0, 10, 20, 30, 128, 10, 20, 30, 255]);
  });

  it('blends coverage into a flattened buffer: later masks on top, edges mixed, only inside the region', () => {
    const dst = { x1: 10, y1: 20, x2: 14, y2: 22 }; // 4 x 2 pixels
    const buffer = new Uint8ClampedArray(4 * 2 * 4);
    const cov = (x0: number, y0: number, width: number, alpha: number[]) => ({ x0, y0, width, height: alpha.length / width, factor: 1, alpha: new Uint8ClampedArray(alpha) });
    // A red mask over the top row, x 10..13; its last pixel half covered.
    blendCoverage(buffer, dst, cov(10, 20, 4, [255, 255, 255, 128]), dst, [255, 0, 0]);
    // A blue mask on top: fully over x 11, half over x 12 and x 13, and a pixel outside the buffer (x 14).
    blendCoverage(buffer, dst, cov(11, 20, 4, [255, 128, 128, 255]), dst, [0, 0, 255]);
    const px = (x: number, y: number) => [...buffer.subarray(((y - 20) * 4 + (x - 10)) * 4, ((y - 20) * 4 + (x - 10)) * 4 + 4)];
    assert.deepEqual(px(10, 20), [255, 0, 0, 255]);
    assert.deepEqual(px(11, 20), [0, 0, 255, 255], 'the later mask covers the earlier');
    const mixed = px(12, 20);
    assert.ok(Math.abs(mixed[0]! - 127) <= 1 && Math.abs(mixed[2]! - 128) <= 1 && mixed[3] === 255, `half blue over red: ${mixed}`);
    const edge = px(13, 20);
    // Half blue over half red: alpha 0.5 + 0.5 * 0.5 = 0.75; blue weighs 0.5 of it, red 0.25.
    assert.ok(Math.abs(edge[3]! - 191) <= 1 && Math.abs(edge[2]! - 170) <= 2 && Math.abs(edge[0]! - 85) <= 2, `edge: ${edge}`);
    assert.deepEqual(px(10, 21), [0, 0, 0, 0], 'the second row was never touched');
    // `within` limits the work to part of the buffer.
    blendCoverage(buffer, dst, cov(10, 21, 4, [255, 255, 255, 255]), { x1: 12, y1: 21, x2: 13, y2: 22 }, [0, 255, 0]);
    assert.deepEqual(px(11, 21), [0, 0, 0, 0]);
    assert.deepEqual(px(12, 21), [0, 255, 0, 255]);
  });

  it('gives neighbouring mask ids clearly different colours', () => {
    assert.deepEqual(hslToRgb(0, 1, 0.5), [255, 0, 0]);
    assert.deepEqual(hslToRgb(240, 1, 0.5), [0, 0, 255]);
    for (let id = 0; id < 50; id++) {
      const a = maskColor(id), b = maskColor(id + 1);
      const d = Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
      assert.ok(d > 60, `ids ${id} and ${id + 1} are too alike (${d})`);
    }
  });
});

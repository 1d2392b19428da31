import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFullMask, toFullMask } from '../../src/core/masks/box-mask';
import { compressCounts, decodeRle, decodeRleToFull, decompressCounts, encodeRle, maskToRunLengths } from '../../src/core/masks/coco-rle';

describe('COCO RLE', () => {
  // Strings worked out by hand from pycocotools' maskApi.c (rleToString), the format its
  // `mask.decode` reads: counts from the third on are stored as differences to the count
  // two before; each value goes out in 5-bit groups, low first, 0x20 = more follows, +48.
  const known: [number[], string][] = [
    [[4, 1, 4], '414'], // 3×3, centre pixel
    [[0, 9], '09'], // 3×3, all set: a run of zero zeros first
    [[100], 'T3'], // 100 = 4 + 3·32: 4 | 0x20 → 'T', then 3
    [[2, 5, 1, 3], '251N'], // 3 − 5 = −2 → 30 (sign bit set, no more) → 'N'
    [[1000, 20, 37, 58, 3], 'Xo0d0U1V1nN'], // multi-group values, and a negative difference (3 − 37) needing two groups
  ];

  it('compresses counts to the strings pycocotools writes', () => {
    for (const [counts, s] of known) assert.equal(compressCounts(counts), s, JSON.stringify(counts));
  });

  it('decompresses those strings back to the counts', () => {
    for (const [counts, s] of known) assert.deepEqual(decompressCounts(s), counts, s);
  });

  it('runs are column-major and start with zeros', () => {
    // 2 rows × 3 columns; set (x=1,y=0) and (x=2,y=1). Column-major: 0 0 | 1 0 | 0 1.
    const m = fromFullMask(Uint8Array.from([0, 1, 0, 0, 0, 1]), 3, 2);
    assert.deepEqual(maskToRunLengths(m), [2, 1, 2, 1]);
    assert.deepEqual(encodeRle(m), { size: [2, 3], counts: '2120' }); // the 4th count is stored as 1 − 1
  });

  it('round-trips random masks of odd sizes', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const [w, h] of [[1, 1], [5, 3], [33, 17], [64, 64], [123, 45]] as const) {
      const full = new Uint8Array(w * h);
      // Blobs rather than noise, so runs of many lengths occur, including long ones.
      const cx = rand() * w, cy = rand() * h, r = (Math.min(w, h) * (0.3 + rand())) ** 2;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) full[y * w + x] = (x - cx) ** 2 + (y - cy) ** 2 < r || rand() < 0.05 ? 1 : 0;
      const m = fromFullMask(full, w, h);
      const rle = encodeRle(m);
      assert.deepEqual(decodeRleToFull(rle), full);
      assert.deepEqual(toFullMask(decodeRle(rle)), full);
      assert.deepEqual(decodeRleToFull({ size: rle.size, counts: maskToRunLengths(m) }), full, 'uncompressed counts');
    }
  });

  it('rejects malformed strings and counts that do not fit the size', () => {
    assert.throws(() => decompressCounts('T'), /Truncated/);
    assert.throws(() => decompressCounts('0 1'), /Invalid character/);
    assert.throws(() => decodeRleToFull({ size: [2, 2], counts: [1, 2] }), /covers 3 pixels/);
    assert.throws(() => decodeRleToFull({ size: [2, 2], counts: [5] }), /do not fit/);
  });
});

/**
 * The two pure steps of text prompts: the blanked square crop CLIP sees of a
 * mask, and ranking masks by a text embedding.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BLANK_VALUE, maskCrop } from '../../src/core/clip/mask-crop';
import { CLIP_LOGIT_SCALE, isTextCandidate, rankMasks } from '../../src/core/clip/text-prompt';
import { PromptError } from '../../src/core/errors';
import type { RgbImage } from '../../src/core/image/decode';
import { fromFullMask } from '../../src/core/masks/box-mask';

/** An image whose pixel (x, y) is paint(x, y). */
function image(width: number, height: number, paint: (x: number, y: number) => readonly number[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(paint(x, y), (y * width + x) * 3);
  return { data, width, height };
}

function maskOf(width: number, height: number, inside: (x: number, y: number) => boolean) {
  return fromFullMask(Uint8Array.from({ length: width * height }, (_, i) => (inside(i % width, Math.floor(i / width)) ? 1 : 0)), width, height);
}

const pixel = (im: RgbImage, x: number, y: number) => [...im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3)];

describe('maskCrop', () => {
  // Distinct values everywhere, so any misplaced pixel shows.
  const noise = image(60, 50, (x, y) => [(x * 7 + y) % 250, (y * 11 + x * 3) % 250, (x * y) % 250]);

  it('keeps the mask pixels, blanks the rest of the box white, and centres it on a white square', () => {
    // An ellipse in the box x 10..40, y 5..25 (30 × 20): padded to 30 × 30, 5 rows above and below.
    const inside = (x: number, y: number) => ((x + 0.5 - 25) / 15) ** 2 + ((y + 0.5 - 15) / 10) ** 2 <= 1;
    const mask = maskOf(60, 50, inside);
    assert.deepEqual([mask.left, mask.top, mask.width, mask.height], [10, 5, 30, 20]);
    const crop = maskCrop(noise, mask, 224);
    assert.deepEqual([crop.width, crop.height], [30, 30], 'smaller than the CLIP side: left for the preprocessor to enlarge');
    for (let cy = 0; cy < 30; cy++) {
      for (let cx = 0; cx < 30; cx++) {
        // Crop row cy is box row cy − 5, image row 5 + (cy − 5).
        const [x, y] = [cx + 10, cy];
        const expected = cy >= 5 && cy < 25 && inside(x, y) ? pixel(noise, x, y) : [BLANK_VALUE, BLANK_VALUE, BLANK_VALUE];
        assert.deepEqual(pixel(crop, cx, cy), expected, `crop pixel ${cx},${cy}`);
      }
    }
  });

  it('shrinks large squares to the CLIP side by area averaging', () => {
    // 90 × 90 of 3 × 3 blocks, alternating two colours per block: each output pixel is one block.
    const blocks = image(90, 90, (x, y) => ((Math.floor(x / 3) + Math.floor(y / 3)) % 2 ? [200, 0, 100] : [0, 100, 250]));
    const full = maskOf(90, 90, () => true);
    const crop = maskCrop(blocks, full, 30);
    assert.deepEqual([crop.width, crop.height], [30, 30]);
    for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) assert.deepEqual(pixel(crop, x, y), (x + y) % 2 ? [200, 0, 100] : [0, 100, 250]);
    // 1 × 1 checkerboard shrunk by a non-integer factor: every output pixel is the mean colour.
    const fine = image(90, 90, (x, y) => ((x + y) % 2 ? [200, 0, 100] : [0, 100, 250]));
    const mean = maskCrop(fine, full, 40);
    for (let i = 0; i < mean.data.length; i += 3) {
      const [r, g, b] = [mean.data[i]!, mean.data[i + 1]!, mean.data[i + 2]!];
      assert.ok(Math.abs(r - 100) <= 12 && Math.abs(g - 50) <= 6 && Math.abs(b - 175) <= 9, `pixel ${i / 3}: ${r},${g},${b}`);
    }
  });

  it('blanks before shrinking: a mask holding half of its box averages with white', () => {
    const red = image(100, 100, () => [255, 0, 0]);
    const left = maskOf(100, 100, (x, y) => x < 50 && y < 100);
    // The left half's box is 50 × 100: centred in a 100 × 100 square with 25 white columns each side.
    const crop = maskCrop(red, left, 10);
    assert.deepEqual(pixel(crop, 5, 5), [255, 0, 0]);
    assert.deepEqual(pixel(crop, 1, 5), [255, 255, 255]);
    // Output column 2 covers square columns 20..30: half padding, half red.
    assert.deepEqual(pixel(crop, 2, 5), [255, 128, 128]);
  });

  it('rejects a mask of another image', () => {
    assert.throws(() => maskCrop(noise, maskOf(61, 50, () => true), 224), RangeError);
  });
});

describe('isTextCandidate', () => {
  it('needs 0.1% of the image, 100 pixels, and a box side of 8', () => {
    const rect = (w: number, h: number, iw = 1000, ih = 1000) => maskOf(iw, ih, (x, y) => x < w && y < h);
    assert.equal(isTextCandidate(rect(32, 32)), true); // 1024 px ≥ 1000
    assert.equal(isTextCandidate(rect(31, 32)), false); // 992 px < 0.1% of a megapixel
    assert.equal(isTextCandidate(rect(10, 10, 100, 100)), true); // 100 px
    assert.equal(isTextCandidate(rect(9, 11, 100, 100)), false); // 99 px
    assert.equal(isTextCandidate(rect(7, 200)), false); // box side under 8
    assert.equal(isTextCandidate(rect(8, 200)), true);
  });
});

describe('rankMasks', () => {
  const embeddings = {
    dim: 2,
    maskIndices: Int32Array.from([4, 7, 9]),
    // Unit vectors at angles whose cosines with [1, 0] are 1, 0.99 and 0.
    vectors: Float32Array.from([1, 0, 0.99, Math.sqrt(1 - 0.99 ** 2), 0, 1]),
  };
  const text = Float32Array.from([1, 0]);

  it('scores by softmax of 100 × cosine, best first, reporting mask positions', () => {
    const { ranked, selected } = rankMasks(embeddings, text);
    assert.deepEqual(ranked.map((r) => r.index), [4, 7, 9]);
    assert.deepEqual(selected, [4]);
    const e = [1, Math.exp(-CLIP_LOGIT_SCALE * 0.01), Math.exp(-CLIP_LOGIT_SCALE)];
    const sum = e[0]! + e[1]! + e[2]!;
    ranked.forEach((r, i) => assert.ok(Math.abs(r.score - e[i]! / sum) < 1e-6, `score ${r.score} vs ${e[i]! / sum}`));
    assert.ok(Math.abs(ranked[1]!.similarity - 0.99) < 1e-6);
  });

  it('selects all at or above allAbove; validates it', () => {
    assert.deepEqual(rankMasks(embeddings, text, { allAbove: 0.2 }).selected, [4, 7]);
    assert.deepEqual(rankMasks(embeddings, text, { allAbove: 0.8 }).selected, []);
    assert.throws(() => rankMasks(embeddings, text, { allAbove: 0 }), PromptError);
    assert.throws(() => rankMasks(embeddings, text, { allAbove: Number.NaN }), PromptError);
  });

  it('keeps the result order between equal scores, and ranks nothing without candidates', () => {
    const twins = { dim: 1, maskIndices: Int32Array.from([8, 3]), vectors: Float32Array.from([1, 1]) };
    assert.deepEqual(rankMasks(twins, Float32Array.from([1])).selected, [3]);
    assert.deepEqual(rankMasks({ dim: 0, maskIndices: new Int32Array(0), vectors: new Float32Array(0) }, text), { ranked: [], selected: [] });
  });
});

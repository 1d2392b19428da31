import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeLetterbox } from '../../src/core/image/letterbox';
import { tightBounds, toFullMask } from '../../src/core/masks/box-mask';
import { MaskAssembler } from '../../src/core/postprocess/assemble-masks';

/** Prototypes with channel k = +1 inside the proto-cell rectangle rects[k], −1 elsewhere. */
function prototypes(side: number, rects: [number, number, number, number][]) {
  const data = new Float32Array(rects.length * side * side).fill(-1);
  rects.forEach(([c0, r0, c1, r1], k) => {
    for (let r = r0; r <= r1; r++) data.fill(1, k * side * side + r * side + c0, k * side * side + r * side + c1 + 1);
  });
  return { data, channels: rects.length, height: side, width: side };
}

function assembler(imageWidth: number, imageHeight: number, size: number, rects: [number, number, number, number][]) {
  const lb = computeLetterbox(imageWidth, imageHeight, size);
  return new MaskAssembler(
    { imageWidth, imageHeight, modelSize: size, resizedWidth: lb.newWidth, resizedHeight: lb.newHeight, padLeft: lb.padLeft, padTop: lb.padTop },
    prototypes(size / 4, rects),
  );
}

describe('MaskAssembler', () => {
  it('upsamples prototype cells to the pixels they cover (zero crossing half-way between cells)', () => {
    // No letterbox: a 64×64 image, proto 16×16; cells x 2..5, y 3..9 cover pixels x 8..23, y 12..39.
    const a = assembler(64, 64, 64, [[2, 3, 5, 9]]);
    const m = a.assemble(Float32Array.of(1), [0, 0, 64, 64]);
    assert.deepEqual(tightBounds(m), [8, 12, 24, 40]);
    // Bilinear interpolation rounds each corner off by one pixel, as in the reference.
    assert.equal(m.area, 16 * 28 - 4);
  });

  it('crops to the box: a pixel is inside when its centre is, x1 <= x + 0.5 < x2', () => {
    const a = assembler(64, 64, 64, [[0, 0, 15, 15]]);
    const m = a.assemble(Float32Array.of(1), [10.6, 5, 20.4, 30.5]);
    assert.deepEqual(tightBounds(m), [11, 5, 20, 30]);
    assert.equal(m.area, 9 * 25);
    const wide = a.assemble(Float32Array.of(1), [10.4, 4.5, 20.6, 30.6]);
    assert.deepEqual(tightBounds(wide), [10, 4, 21, 31]);
  });

  it('combines coefficients linearly: a negative coefficient inverts a prototype', () => {
    // Channels: left half, top half, and a constant −1 (an empty rectangle).
    const a = assembler(64, 64, 64, [[0, 0, 7, 15], [0, 0, 15, 7], [1, 1, 0, 0]]);
    const left = a.assemble(Float32Array.of(1, 0, 0), [0, 0, 64, 64]);
    const bottomLeft = a.assemble(Float32Array.of(1, -1, 1), [0, 0, 64, 64]);
    assert.deepEqual(tightBounds(left), [0, 0, 32, 64]);
    // left − top − 1 is +1 in the bottom-left quarter and −1 or less elsewhere.
    assert.deepEqual(tightBounds(bottomLeft), [0, 32, 32, 64]);
  });

  it('maps through the letterbox to the original image', () => {
    // 400×200 at S = 64: scaled to 64×32, padded 16 rows on top; proto 16×16, image rows are proto rows 4..11.
    const a = assembler(400, 200, 64, [[0, 4, 7, 11]]);
    const m = a.assemble(Float32Array.of(1), [0, 0, 400, 200]);
    assert.deepEqual(tightBounds(m), [0, 0, 200, 200], 'the left half of the image');
    const full = toFullMask(m);
    assert.equal(full[100 * 400 + 199], 1);
    assert.equal(full[100 * 400 + 200], 0);
  });

  it('returns an empty mask for a box with no pixels', () => {
    const a = assembler(64, 64, 64, [[0, 0, 15, 15]]);
    assert.equal(a.assemble(Float32Array.of(1), [10, 10, 10, 30]).area, 0);
    assert.equal(a.assemble(Float32Array.of(1), [70, 10, 80, 30]).area, 0);
  });
});

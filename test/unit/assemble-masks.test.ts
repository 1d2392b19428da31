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

  it('assembles masks one after another from the same scratch, each complete and no more', () => {
    // A large mask, then a small one in its place: nothing of the first may show in the second.
    const a = assembler(64, 64, 64, [[0, 0, 15, 15], [2, 2, 3, 3]]);
    const big = a.assemble(Float32Array.of(1, 0), [0, 0, 64, 64]);
    const small = a.assemble(Float32Array.of(0, 1), [0, 0, 64, 64]);
    const again = a.assemble(Float32Array.of(1, 0), [0, 0, 64, 64]);
    assert.equal(big.area, 64 * 64);
    assert.deepEqual(tightBounds(small), [8, 8, 16, 16]);
    assert.deepEqual(again, big);
  });

  it('survives prototypes with NaN in them (a broken model): no exception, no pixel outside the box', () => {
    const protos = prototypes(16, [[2, 2, 9, 9]]);
    protos.data[5 * 16 + 5] = Number.NaN;
    protos.data[6 * 16 + 2] = Number.NaN;
    const a = new MaskAssembler({ imageWidth: 64, imageHeight: 64, modelSize: 64, resizedWidth: 64, resizedHeight: 64, padLeft: 0, padTop: 0 }, protos);
    const m = a.assemble(Float32Array.of(1), [4, 4, 60, 60]);
    assert.ok(m.area > 0 && m.area < 56 * 56, `area ${m.area}`);
    assert.ok(tightBounds(m)!.every((v) => v >= 4 && v <= 60));
  });

  it('returns an empty mask for a box with no pixels', () => {
    const a = assembler(64, 64, 64, [[0, 0, 15, 15]]);
    assert.equal(a.assemble(Float32Array.of(1), [10, 10, 10, 30]).area, 0);
    assert.equal(a.assemble(Float32Array.of(1), [70, 10, 80, 30]).area, 0);
  });
});

describe('MaskAssembler against a per-pixel reference', () => {
  /** PyTorch's bilinear upsampling (align_corners=False) at one image pixel, written out directly. */
  function referenceLogit(logits: (r: number, c: number) => number, x: number, y: number, g: { sx: number; sy: number; padLeft: number; padTop: number; toProto: number; pw: number; ph: number }): number {
    const u = Math.max(0, ((x + 0.5) * g.sx + g.padLeft) * g.toProto - 0.5);
    const v = Math.max(0, ((y + 0.5) * g.sy + g.padTop) * g.toProto - 0.5);
    const u0 = Math.min(Math.floor(u), g.pw - 1), v0 = Math.min(Math.floor(v), g.ph - 1);
    const u1 = Math.min(u0 + 1, g.pw - 1), v1 = Math.min(v0 + 1, g.ph - 1);
    const fu = u - u0, fv = v - v0;
    const top = logits(v0, u0) + (logits(v0, u1) - logits(v0, u0)) * fu;
    const bottom = logits(v1, u0) + (logits(v1, u1) - logits(v1, u0)) * fu;
    return top + (bottom - top) * fv;
  }

  it('gives exactly the pixels a direct bilinear evaluation gives, on random smooth prototypes', () => {
    let seed = 11;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    // The last two enlarge a prototype cell to 60 pixels and more: runs that span several words of a row.
    for (const [w, h, size] of [[300, 200, 128], [97, 310, 64], [640, 480, 256], [1000, 700, 64], [450, 1300, 32]] as const) {
      const lb = computeLetterbox(w, h, size);
      const side = size / 4, channels = 5; // any count: the logits kernel unrolls cells, not channels
      const data = new Float32Array(channels * side * side);
      // Sums of a few broad bumps: masks with curved edges, holes and several parts.
      for (let k = 0; k < channels; k++) {
        const bumps = Array.from({ length: 5 }, () => ({ x: rand() * side, y: rand() * side, r: 2 + rand() * side / 3, s: rand() < 0.5 ? -1 : 1 }));
        for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) {
          data[k * side * side + r * side + c] = bumps.reduce((a, b) => a + b.s * Math.exp(-((c - b.x) ** 2 + (r - b.y) ** 2) / (b.r * b.r)), -0.2);
        }
      }
      const assembler = new MaskAssembler(
        { imageWidth: w, imageHeight: h, modelSize: size, resizedWidth: lb.newWidth, resizedHeight: lb.newHeight, padLeft: lb.padLeft, padTop: lb.padTop },
        { data, channels, height: side, width: side },
      );
      for (let trial = 0; trial < 4; trial++) {
        const coefficients = Float32Array.from({ length: channels }, () => rand() * 2 - 1);
        const x1 = rand() * w * 0.5, y1 = rand() * h * 0.5;
        const box: [number, number, number, number] = [x1, y1, x1 + 10 + rand() * w * 0.5, y1 + 10 + rand() * h * 0.5];
        const m = assembler.assemble(coefficients, box);
        const logit = (r: number, c: number) => {
          let s = 0;
          for (let k = 0; k < channels; k++) s += coefficients[k]! * data[k * side * side + r * side + c]!;
          return s;
        };
        const g = { sx: lb.newWidth / w, sy: lb.newHeight / h, padLeft: lb.padLeft, padTop: lb.padTop, toProto: side / size, pw: side, ph: side };
        const full = toFullMask(m);
        let differences = 0, area = 0;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const inBox = x + 0.5 >= box[0] && x + 0.5 < box[2] && y + 0.5 >= box[1] && y + 0.5 < box[3];
            const expected = inBox && referenceLogit(logit, x, y, g) > 0 ? 1 : 0;
            area += expected;
            if (full[y * w + x] !== expected) differences++;
          }
        }
        // Float32 rounding in the assembler may flip a pixel whose logit is within ~1e-7 of 0.
        assert.ok(differences <= 2, `${w}×${h}@${size} trial ${trial}: ${differences} pixels differ (area ${area})`);
        assert.equal(m.area, full.reduce((a, b) => a + b, 0));
      }
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRgb, openImage } from '../../src/core/image/decode';
import { ImageInputError } from '../../src/core/image/errors';
import { computeLetterbox, roundHalfEven } from '../../src/core/image/letterbox';
import type { Letterbox } from '../../src/core/image/letterbox';
import { PAD_VALUE, letterboxTensor, letterboxToTensor } from '../../src/core/image/preprocess';
import { encodeScene, renderScene } from '../helpers/shapes';
import type { RGB, Scene } from '../helpers/shapes';

// shared/ sits beside the repository checkout, here and in CI; the lead copies these into the project later.
const SAMPLES = path.resolve(__dirname, '../../samples/photos');
const PAD = Math.fround(PAD_VALUE / 255);
const unit = (v: number): number => Math.fround(v / 255);

let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'preprocess-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function solidPng(width: number, height: number, [r, g, b]: RGB): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

/** Checks every tensor value: the colour inside the letterboxed area, 114/255 outside it. */
function assertSolidLetterbox(tensor: Float32Array, lb: Letterbox, colour: RGB): void {
  const { size } = lb;
  assert.equal(tensor.length, 3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      const insideY = y >= lb.padTop && y < lb.padTop + lb.newHeight;
      for (let x = 0; x < size; x++) {
        const inside = insideY && x >= lb.padLeft && x < lb.padLeft + lb.newWidth;
        const value = tensor[c * size * size + y * size + x];
        const expected = inside ? unit(colour[c]) : PAD;
        if (value !== expected) {
          assert.fail(`plane ${c} at ${x},${y} (${inside ? 'image' : 'padding'}): ${value * 255} instead of ${expected * 255}`);
        }
      }
    }
  }
}

describe('letterboxTensor', () => {
  const colour: RGB = [10, 200, 90];
  for (const [width, height, size] of [
    [300, 200, 1024], // enlarged, padded above and below
    [200, 300, 640], // enlarged, padded left and right
    [1500, 700, 640], // shrunk
    [640, 480, 640], // not resized at all
    [1, 1, 64],
  ]) {
    it(`puts a solid ${width}×${height} image exactly where the letterbox says, at ${size}`, async () => {
      const result = await letterboxTensor(await solidPng(width, height, colour), size);
      assert.deepEqual(result.letterbox, computeLetterbox(width, height, size));
      assert.deepEqual([result.info.width, result.info.height, result.info.format], [width, height, 'png']);
      assertSolidLetterbox(result.tensor, result.letterbox, colour);
    });
  }

  it('works on a 6000×4000 photo-sized JPEG', async () => {
    const file = await sharp({ create: { width: 6000, height: 4000, channels: 3, background: { r: 200, g: 40, b: 30 } } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const { tensor, letterbox, info, timings } = await letterboxTensor(file, 1024);
    assert.deepEqual([info.width, info.height], [6000, 4000]);
    assert.deepEqual([letterbox.newWidth, letterbox.newHeight, letterbox.padTop, letterbox.padBottom], [1024, 683, 170, 171]);
    assert.equal(tensor.length, 3 * 1024 * 1024);
    const plane = 1024 * 1024;
    for (const [c, v] of [200, 40, 30].entries()) {
      assert.equal(tensor[c * plane + 100 * 1024 + 500], PAD, `plane ${c} padding`);
      // JPEG shifts a flat colour by a level or two.
      assert.ok(Math.abs(tensor[c * plane + 500 * 1024 + 500] * 255 - v) <= 3, `plane ${c} image`);
    }
    assert.ok(timings.decode >= 0 && timings.preprocess > 0);
  });

  it('letterboxes the displayed image: EXIF orientation applied, RGB planes in order', async () => {
    const scene: Scene = {
      width: 90,
      height: 60,
      background: [0, 0, 0],
      shapes: [
        { kind: 'rect', color: [255, 0, 0], x: 5, y: 5, w: 30, h: 20 },
        { kind: 'ellipse', color: [0, 255, 0], x: 50, y: 20, w: 30, h: 30 },
        { kind: 'rect', color: [0, 0, 255], x: 10, y: 40, w: 20, h: 15 },
      ],
    };
    const lb = computeLetterbox(90, 60, 256);
    const expected = letterboxToTensor({ data: renderScene(scene).rgb, width: 90, height: 60 }, lb);
    for (const orientation of [1, 6, 8] as const) {
      const file = await encodeScene(scene, 'png', { orientation });
      const result = await letterboxTensor(file, 256);
      assert.deepEqual(result.letterbox, lb, `orientation ${orientation}`);
      assert.ok(Buffer.from(result.tensor.buffer).equals(Buffer.from(expected.buffer)), `orientation ${orientation}`);
    }
    // Top-left of the red box: red plane 1, green and blue 0.
    const at = (lb.padTop + Math.round(10 * lb.scale)) * 256 + Math.round(10 * lb.scale);
    assert.deepEqual([expected[at], expected[256 * 256 + at], expected[2 * 256 * 256 + at]], [1, 0, 0]);
  });

  it('sees the same pixels as decodeRgb', async () => {
    const file = await encodeScene({ width: 120, height: 80, background: [128, 128, 128], shapes: [] }, 'jpeg', {
      orientation: 5,
      cmyk: true,
    });
    const result = await letterboxTensor(file, 320);
    const expected = letterboxToTensor(await decodeRgb(file), result.letterbox);
    assert.ok(Buffer.from(result.tensor.buffer).equals(Buffer.from(expected.buffer)));
  });

  it('reads an opened image without touching the file again', async () => {
    const file = path.join(dir, 'once.png');
    await writeFile(file, await solidPng(50, 40, [1, 2, 3]));
    const opened = await openImage(file);
    await unlink(file);
    const result = await letterboxTensor(opened, 64);
    assertSolidLetterbox(result.tensor, result.letterbox, [1, 2, 3]);
  });

  it('reports a truncated file as corrupt, naming it', async () => {
    const whole = await encodeScene({ width: 200, height: 100, background: [9, 9, 9], shapes: [] }, 'png');
    const file = path.join(dir, 'cut.png');
    await writeFile(file, whole.subarray(0, whole.length - 40));
    await assert.rejects(letterboxTensor(file, 640), (err: unknown) => {
      assert.ok(err instanceof ImageInputError);
      assert.equal(err.code, 'corrupt');
      assert.match(err.message, /^Cannot read image ".*cut\.png": the file is damaged or incomplete\.$/);
      return true;
    });
  });

  it('handles the sample photos', async () => {
    for (const name of ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg']) {
      const { tensor, letterbox, info } = await letterboxTensor(path.join(SAMPLES, name), 640);
      assert.deepEqual(letterbox, computeLetterbox(info.width, info.height, 640), name);
      assert.equal(tensor.length, 3 * 640 * 640);
      let min = Infinity;
      let max = -Infinity;
      for (const v of tensor) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.ok(min >= 0 && max <= 1 && max - min > 0.5, `${name}: values ${min}..${max}`);
      if (letterbox.padTop > 0) assert.equal(tensor[0], PAD, `${name}: padding`);
    }
  });
});

describe('letterboxToTensor', () => {
  /** A small image with a different pattern in each channel. */
  function pattern(width: number, height: number): Uint8Array {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        data[i] = (x * 53 + y * 29) % 256;
        data[i + 1] = (x * 17 + y * 71 + 40) % 256;
        data[i + 2] = (x * x * 7 + 3 * y * y + 90) % 256;
      }
    }
    return data;
  }

  /** The letterboxed area of one plane, back in bytes. */
  function area(tensor: Float32Array, lb: Letterbox, plane: number): number[][] {
    const rows: number[][] = [];
    for (let y = 0; y < lb.newHeight; y++) {
      const row: number[] = [];
      for (let x = 0; x < lb.newWidth; x++) {
        row.push(Math.round(tensor[plane * lb.size * lb.size + (lb.padTop + y) * lb.size + lb.padLeft + x] * 255));
      }
      rows.push(row);
    }
    return rows;
  }

  // Expected values are cv2.resize(..., interpolation=cv2.INTER_LINEAR) from
  // opencv-python 4.14 on the same pattern, as Ultralytics' LetterBox calls it.
  it('enlarges like OpenCV INTER_LINEAR, bit for bit', () => {
    const lb = computeLetterbox(5, 3, 12);
    assert.deepEqual([lb.newWidth, lb.newHeight, lb.padTop], [12, 7, 2]);
    const tensor = letterboxToTensor({ data: pattern(5, 3), width: 5, height: 3 }, lb);
    assert.deepEqual(area(tensor, lb, 0), [
      [0, 6, 28, 51, 73, 95, 117, 139, 161, 183, 205, 212],
      [4, 11, 33, 55, 77, 99, 121, 143, 165, 187, 209, 216],
      [17, 23, 45, 67, 89, 111, 133, 156, 178, 200, 222, 228],
      [29, 36, 58, 80, 102, 124, 146, 168, 190, 212, 234, 241],
      [41, 48, 70, 92, 114, 136, 158, 181, 198, 174, 151, 144],
      [54, 60, 83, 104, 127, 149, 171, 193, 206, 136, 67, 46],
      [58, 64, 87, 109, 131, 153, 175, 197, 208, 124, 39, 14],
    ]);
  });

  it('shrinks like OpenCV INTER_LINEAR, bit for bit, in R, G, B plane order', () => {
    const lb = computeLetterbox(19, 11, 8);
    assert.deepEqual([lb.newWidth, lb.newHeight], [8, 5]);
    const tensor = letterboxToTensor({ data: pattern(19, 11), width: 19, height: 11 }, lb);
    assert.deepEqual(area(tensor, lb, 0), [
      [54, 180, 49, 175, 45, 171, 47, 167],
      [117, 227, 113, 239, 109, 120, 105, 167],
      [181, 51, 177, 47, 173, 43, 169, 39],
      [69, 115, 129, 111, 189, 106, 184, 102],
      [53, 179, 49, 175, 45, 170, 50, 166],
    ]);
    assert.deepEqual(area(tensor, lb, 1), [
      [94, 135, 175, 215, 102, 85, 80, 121],
      [110, 86, 75, 116, 156, 196, 237, 72],
      [151, 191, 231, 16, 56, 97, 137, 177],
      [51, 91, 131, 172, 161, 201, 37, 77],
      [207, 145, 118, 72, 113, 153, 193, 131],
    ]);
    assert.deepEqual(area(tensor, lb, 2), [
      [96, 158, 44, 56, 51, 174, 134, 63],
      [119, 180, 66, 78, 73, 52, 156, 85],
      [170, 215, 118, 129, 125, 103, 191, 137],
      [199, 56, 176, 162, 158, 162, 32, 182],
      [105, 166, 139, 64, 59, 124, 142, 71],
    ]);
  });

  /**
   * OpenCV's 8-bit INTER_LINEAR written out for one output value, with the taps
   * computed per pixel; the golden tests above pin it to OpenCV itself.
   */
  function referenceValue(rgb: { data: Uint8Array; width: number; height: number }, lb: Letterbox, x: number, y: number, channel: number): number {
    const tap = (d: number, from: number, to: number, pin: boolean) => {
      let f = Math.fround((d + 0.5) * (1 / (to / from)) - 0.5);
      let s = Math.floor(f);
      f = Math.fround(f - s);
      if (pin && (s < 0 || s >= from - 1)) [s, f] = [Math.min(Math.max(s, 0), from - 1), 0];
      const clampIndex = (i: number) => Math.min(Math.max(i, 0), from - 1);
      return { i0: clampIndex(s), i1: clampIndex(s + 1), w0: roundHalfEven(Math.fround(1 - f) * 2048), w1: roundHalfEven(f * 2048) };
    };
    const c = tap(x, rgb.width, lb.newWidth, true);
    const r = tap(y, rgb.height, lb.newHeight, false);
    const at = (row: number, col: number) => rgb.data[(row * rgb.width + col) * 3 + channel]!;
    const horizontal = (row: number) => at(row, c.i0) * c.w0 + at(row, c.i1) * c.w1;
    const byte = ((((horizontal(r.i0) >> 4) * r.w0) >> 16) + (((horizontal(r.i1) >> 4) * r.w1) >> 16) + 2) >> 2;
    return Math.fround(byte / 255);
  }

  function noise(width: number, height: number, seed: number): Uint8Array {
    return Uint8Array.from({ length: width * height * 3 }, () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24);
  }

  it('resamples noise exactly as the formula, shrinking, enlarging, unscaled, at widths that are not a multiple of 4', () => {
    for (const [w, h, size] of [[1503, 997, 640], [300, 410, 640], [512, 384, 512], [2000, 60, 320], [97, 31, 64], [5, 3, 12]] as const) {
      const rgb = { data: noise(w, h, w * h), width: w, height: h };
      const lb = computeLetterbox(w, h, size);
      const tensor = letterboxToTensor(rgb, lb);
      for (let ch = 0; ch < 3; ch++) {
        for (let y = 0; y < lb.newHeight; y++) {
          for (let x = 0; x < lb.newWidth; x++) {
            const value = tensor[ch * size * size + (lb.padTop + y) * size + lb.padLeft + x]!;
            const expected = referenceValue(rgb, lb, x, y, ch);
            if (value !== expected) assert.fail(`${w}×${h} at ${size}, plane ${ch}, ${x},${y}: ${value * 255} instead of ${expected * 255}`);
          }
        }
      }
      if (w === lb.newWidth && h === lb.newHeight) {
        // Unscaled, the pixels are copied: Ultralytics does not call cv2.resize then.
        assert.equal(tensor[lb.padTop * size + lb.padLeft], unit(rgb.data[0]!));
      }
    }
  });

  it('letterboxes an image larger than the kernel memory it keeps between images', () => {
    // 150 MB of pixels: more than the 128 MiB kept, so this one gets a memory of its own.
    const [w, h] = [10_000, 5_000];
    const rgb = { data: noise(w, h, 7), width: w, height: h };
    const lb = computeLetterbox(w, h, 256);
    const tensor = letterboxToTensor(rgb, lb);
    for (const y of [0, 1, 63, lb.newHeight - 1]) {
      for (let x = 0; x < lb.newWidth; x++) {
        assert.equal(tensor[(lb.padTop + y) * 256 + x], referenceValue(rgb, lb, x, y, 0), `${x},${y}`);
      }
    }
    // And the next, small image still uses the kept one.
    const small = { data: noise(40, 30, 3), width: 40, height: 30 };
    const slb = computeLetterbox(40, 30, 64);
    assert.equal(letterboxToTensor(small, slb)[slb.padTop * 64 + 5], referenceValue(small, slb, 5, 0, 0));
  });

  it('stores each byte as float32(v / 255), as PyTorch does', () => {
    const data = Uint8Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const lb = computeLetterbox(256, 1, 256);
    const tensor = letterboxToTensor({ data, width: 256, height: 1 }, lb);
    for (let v = 0; v < 256; v++) {
      assert.equal(tensor[lb.padTop * 256 + v], Math.fround(v / 255), `byte ${v}`);
    }
  });

  it('fills a reused output tensor completely, padding included, as a fresh one', () => {
    // Wide then tall then exact: each leaves values where the next one pads.
    for (const [w, h] of [[19, 11], [7, 23], [16, 16], [19, 11]] as const) {
      const lb = computeLetterbox(w, h, 16);
      const fresh = letterboxToTensor({ data: pattern(w, h), width: w, height: h }, lb);
      const reused = new Float32Array(3 * 16 * 16).fill(Number.NaN);
      assert.equal(letterboxToTensor({ data: pattern(w, h), width: w, height: h }, lb, reused), reused);
      assert.ok(Buffer.from(reused.buffer).equals(Buffer.from(fresh.buffer)), `${w}×${h}`);
    }
    assert.throws(
      () => letterboxToTensor({ data: pattern(4, 4), width: 4, height: 4 }, computeLetterbox(4, 4, 8), new Float32Array(3 * 16 * 16)),
      /needs 192/,
    );
  });

  it('pads every value outside the image, whatever an earlier image left in the kernel memory', () => {
    // Wide then tall then wide: each image's pixels lie where the next one pads.
    for (const [w, h] of [[300, 100], [100, 300], [300, 100], [64, 64]] as const) {
      const lb = computeLetterbox(w, h, 64);
      const tensor = letterboxToTensor({ data: noise(w, h, w + h), width: w, height: h }, lb);
      for (let p = 0; p < 3; p++) {
        for (let y = 0; y < 64; y++) {
          for (let x = 0; x < 64; x++) {
            const inside = y >= lb.padTop && y < lb.padTop + lb.newHeight && x >= lb.padLeft && x < lb.padLeft + lb.newWidth;
            if (!inside && tensor[p * 4096 + y * 64 + x] !== PAD) assert.fail(`${w}×${h}: plane ${p} at ${x},${y} is not padding`);
          }
        }
      }
    }
  });

  it('rejects pixel data of the wrong length', () => {
    assert.throws(
      () => letterboxToTensor({ data: new Uint8Array(11), width: 2, height: 2 }, computeLetterbox(2, 2, 8)),
      /has 12 bytes, not 11/,
    );
  });

  it('rejects pixels of another size than the letterbox', () => {
    assert.throws(
      () => letterboxToTensor({ data: new Uint8Array(12), width: 2, height: 2 }, computeLetterbox(3, 2, 8)),
      RangeError,
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeScene, luma, maskIoU, randomScene, renderScene, shapeMask } from '../helpers/shapes';
import type { EncodeFormat, Orientation, RGB, Scene } from '../helpers/shapes';

const RED: RGB = [220, 30, 40];
const GREEN: RGB = [30, 180, 60];
const BLUE: RGB = [40, 60, 210];
const PALETTE: RGB[] = [RED, GREEN, BLUE, [230, 200, 20], [200, 40, 200], [20, 200, 200], [250, 140, 20]];

/** Asymmetric on both axes, so any flip or rotation shows. */
const SCENE: Scene = {
  width: 160,
  height: 96,
  background: [255, 255, 255],
  shapes: [
    { kind: 'rect', color: RED, x: 8, y: 12, w: 48, h: 32 },
    { kind: 'ellipse', color: GREEN, x: 80, y: 40, w: 64, h: 48 },
    { kind: 'rect', color: BLUE, x: 40, y: 24, w: 24, h: 56 },
  ],
};

function pixel(image: { rgb: Uint8Array; width: number }, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return Array.from(image.rgb.subarray(i, i + 3));
}

function count(mask: Uint8Array): number {
  return mask.reduce((n, v) => n + v, 0);
}

describe('renderScene', () => {
  it('fills exactly the pixels whose centre is inside a rectangle', () => {
    const scene: Scene = {
      width: 6,
      height: 5,
      background: [0, 0, 0],
      shapes: [{ kind: 'rect', color: [9, 8, 7], x: 1, y: 1, w: 2, h: 3 }],
    };
    const image = renderScene(scene);
    assert.equal(image.rgb.length, 6 * 5 * 3);
    const inside: string[] = [];
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 6; x++) if (pixel(image, x, y)[0] === 9) inside.push(`${x},${y}`);
    }
    assert.deepEqual(inside, ['1,1', '2,1', '1,2', '2,2', '1,3', '2,3']);
    assert.deepEqual(pixel(image, 0, 0), [0, 0, 0]);
  });

  it('draws an ellipse without antialiasing, symmetric in its box', () => {
    const scene: Scene = {
      width: 12,
      height: 9,
      background: [0, 0, 0],
      shapes: [{ kind: 'ellipse', color: [255, 255, 255], x: 1, y: 1, w: 10, h: 7 }],
    };
    const image = renderScene(scene);
    const values = new Set(Array.from(image.rgb));
    assert.deepEqual([...values].sort((a, b) => a - b), [0, 255]);
    for (let y = 0; y < 9; y++) {
      for (let x = 0; x < 12; x++) {
        assert.deepEqual(pixel(image, x, y), pixel(image, 11 - x, y), `mirror of ${x},${y}`);
        assert.deepEqual(pixel(image, x, y), pixel(image, x, 8 - y), `flip of ${x},${y}`);
      }
    }
    assert.deepEqual(pixel(image, 6, 4), [255, 255, 255]); // centre
    assert.deepEqual(pixel(image, 1, 1), [0, 0, 0]); // box corner, outside the ellipse
  });

  it('paints later shapes over earlier ones, and masks show only the visible part', () => {
    const image = renderScene(SCENE);
    assert.deepEqual(pixel(image, 48, 32), BLUE); // where the blue bar covers the red box
    assert.deepEqual(pixel(image, 12, 16), RED);
    const red = shapeMask(SCENE, 0);
    const blue = shapeMask(SCENE, 2);
    assert.equal(red[32 * 160 + 48], 0);
    assert.equal(blue[32 * 160 + 48], 1);
    assert.equal(count(blue), 24 * 56);
    assert.equal(count(red), 48 * 32 - 16 * 20); // the blue bar hides columns 40–55 of rows 24–43
    for (let i = 0; i < red.length; i++) assert.ok(!(red[i] && blue[i]));
  });

  it('rejects a shape index that does not exist', () => {
    assert.throws(() => shapeMask(SCENE, 3), RangeError);
  });
});

describe('maskIoU', () => {
  it('is intersection over union', () => {
    const a = Uint8Array.from([1, 1, 1, 0, 0]);
    const b = Uint8Array.from([0, 1, 1, 1, 0]);
    assert.equal(maskIoU(a, b), 2 / 4);
    assert.equal(maskIoU(a, a), 1);
    assert.equal(maskIoU(a, Uint8Array.from([0, 0, 0, 1, 1])), 0);
    assert.equal(maskIoU(new Uint8Array(5), new Uint8Array(5)), 1);
    assert.throws(() => maskIoU(a, new Uint8Array(4)), RangeError);
  });
});

describe('encodeScene', () => {
  const rendered = renderScene(SCENE);

  async function autoOriented(file: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
    const { data, info } = await sharp(file, { autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  }

  const formats: EncodeFormat[] = ['png', 'webp', 'tiff', 'avif', 'jpeg'];
  for (const format of formats) {
    it(`stores ${format} so that sharp's autoOrient shows the scene for all 8 orientations`, async () => {
      for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8] as Orientation[]) {
        const lossless = format === 'webp' || format === 'avif';
        const file = await encodeScene(SCENE, format, lossless ? { orientation, lossless } : { orientation });
        const meta = await sharp(file).metadata();
        // AVIF keeps rotation in its container (irot/imir) and libheif applies it on load.
        if (format !== 'avif') assert.equal(meta.orientation, orientation, `${format} tag`);
        if (orientation >= 5 && format !== 'avif') assert.deepEqual([meta.width, meta.height], [96, 160]);
        const shown = await autoOriented(file);
        assert.deepEqual([shown.width, shown.height], [160, 96], `${format} ${orientation} size`);
        if (format === 'jpeg') {
          assert.ok(meanAbsDiff(shown.data, rendered.rgb) < 3, `${format} ${orientation} pixels`);
        } else {
          assert.ok(Buffer.from(rendered.rgb).equals(shown.data), `${format} ${orientation} pixels`);
        }
      }
    });
  }

  it('stores grey as luma, alpha as shape coverage, 16-bit as v·257', async () => {
    const greyFile = await encodeScene(SCENE, 'png', { grayscale: true });
    assert.equal((await sharp(greyFile).metadata()).channels, 1);
    const grey = await sharp(greyFile).toColourspace('b-w').raw().toBuffer();
    assert.equal(grey[0], luma(SCENE.background));
    assert.equal(grey[16 * 160 + 12], luma(RED));

    const rgba = await sharp(await encodeScene(SCENE, 'png', { alpha: true })).raw().toBuffer({ resolveWithObject: true });
    assert.equal(rgba.info.channels, 4);
    assert.deepEqual(Array.from(rgba.data.subarray(0, 4)), [255, 255, 255, 0]);
    const red = (16 * 160 + 12) * 4;
    assert.deepEqual(Array.from(rgba.data.subarray(red, red + 4)), [...RED, 255]);

    const deep = await encodeScene(SCENE, 'png', { sixteenBit: true });
    const meta = await sharp(deep).metadata();
    assert.equal(meta.depth, 'ushort');
    const samples = await sharp(deep).toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer();
    const u16 = new Uint16Array(samples.buffer, samples.byteOffset, samples.length / 2);
    const at = (16 * 160 + 12) * 3;
    assert.deepEqual(Array.from(u16.subarray(at, at + 3)), RED.map((v) => v * 257));
  });

  it('stores CMYK when asked', async () => {
    for (const format of ['jpeg', 'tiff'] as const) {
      const meta = await sharp(await encodeScene(SCENE, format, { cmyk: true })).metadata();
      assert.equal(meta.space, 'cmyk', format);
      assert.equal(meta.channels, 4, format);
    }
  });

  it('refuses what a format cannot store', async () => {
    await assert.rejects(encodeScene(SCENE, 'gif', { orientation: 6 }), /GIF has no EXIF orientation/);
    await assert.rejects(encodeScene(SCENE, 'jpeg', { alpha: true }), /cannot store alpha/);
    await assert.rejects(encodeScene(SCENE, 'webp', { sixteenBit: true }), /16-bit/);
    await assert.rejects(encodeScene(SCENE, 'png', { cmyk: true }), /CMYK/);
  });
});

describe('randomScene', () => {
  it('is reproducible from its seed and differs between seeds', () => {
    assert.deepEqual(randomScene(7, 200, 150, PALETTE), randomScene(7, 200, 150, PALETTE));
    assert.notDeepEqual(randomScene(7, 200, 150, PALETTE), randomScene(8, 200, 150, PALETTE));
  });

  it('places 2–6 separate shapes of distinct palette colours within the size limits', () => {
    const counts = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const [width, height] = seed % 2 ? [320, 200] : [150, 260];
      const scene = randomScene(seed, width, height, PALETTE);
      const shorter = Math.min(width, height);
      counts.add(scene.shapes.length);
      assert.ok(scene.shapes.length >= 2 && scene.shapes.length <= 6, `seed ${seed}: ${scene.shapes.length} shapes`);
      const colours = scene.shapes.map((s) => s.color.join());
      assert.equal(new Set(colours).size, colours.length, `seed ${seed}: repeated colour`);
      for (const [i, s] of scene.shapes.entries()) {
        assert.ok(PALETTE.some((p) => p.join() === s.color.join()), `seed ${seed}: colour not from the palette`);
        for (const side of [s.w, s.h]) assert.ok(side >= shorter / 10 && side <= shorter / 2, `seed ${seed}: side ${side}`);
        assert.ok(s.x >= 3 && s.y >= 3 && s.x + s.w <= width - 3 && s.y + s.h <= height - 3, `seed ${seed}: border`);
        for (const t of scene.shapes.slice(i + 1)) {
          const apart = s.x + s.w + 3 <= t.x || t.x + t.w + 3 <= s.x || s.y + s.h + 3 <= t.y || t.y + t.h + 3 <= s.y;
          assert.ok(apart, `seed ${seed}: shapes closer than 3 pixels`);
        }
        // Every shape is visible as drawn: nothing covers it.
        assert.ok(maskIoU(shapeMask(scene, i), shapeMask({ ...scene, shapes: [s] }, 0)) === 1);
      }
      assert.ok(!PALETTE.some((p) => p.join() === scene.background.join()), `seed ${seed}: background in palette`);
    }
    assert.deepEqual([...counts].sort(), [2, 3, 4, 5, 6]);
  });

  it('picks the background farthest from the palette', () => {
    const light: RGB[] = [[250, 250, 250], [240, 240, 200]];
    const dark: RGB[] = [[5, 5, 5], [20, 30, 10]];
    assert.deepEqual(randomScene(1, 100, 100, light).background, [0, 0, 0]);
    assert.deepEqual(randomScene(1, 100, 100, dark).background, [255, 255, 255]);
    assert.deepEqual(randomScene(1, 100, 100, [[255, 255, 255], [0, 0, 0]]).background, [128, 128, 128]);
  });

  it('refuses palettes and images too small for two shapes', () => {
    assert.throws(() => randomScene(1, 100, 100, [RED]), /at least 2/);
    assert.throws(() => randomScene(1, 8, 8, PALETTE), /too small/);
  });
});

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

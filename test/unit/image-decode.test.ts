import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { DECODE_THREADS, DEFAULT_MAX_PIXELS, decodeRgb, openImage, readImageInfo } from '../../src/core/image/decode';
import type { ImageFormat, RgbImage } from '../../src/core/image/decode';
import { ImageInputError } from '../../src/core/image/errors';
import type { ImageInputErrorCode } from '../../src/core/image/errors';
import { encodeScene, luma, renderScene } from '../helpers/shapes';
import type { EncodeFormat, EncodeOptions, Orientation, RGB, Scene } from '../helpers/shapes';

const RED: RGB = [220, 30, 40];
const GREEN: RGB = [30, 180, 60];
const BLUE: RGB = [40, 60, 210];

/** Not square and not symmetric, so a wrong orientation or a swapped size shows. */
const SCENE: Scene = {
  width: 160,
  height: 96,
  background: [128, 128, 128],
  shapes: [
    { kind: 'rect', color: RED, x: 8, y: 12, w: 48, h: 32 },
    { kind: 'ellipse', color: GREEN, x: 80, y: 40, w: 64, h: 48 },
    { kind: 'rect', color: BLUE, x: 40, y: 24, w: 24, h: 56 },
  ],
};
const RENDERED = renderScene(SCENE);
// shared/ sits beside the repository checkout, here and in CI; the lead copies these into the project later.
const SAMPLES = path.resolve(__dirname, '../../samples/photos');

let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'image-decode-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function save(name: string, data: Buffer | string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, data);
  return file;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length, 'pixel count');
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

function assertSameSize(image: RgbImage, width: number, height: number): void {
  assert.deepEqual([image.width, image.height, image.data.length], [width, height, width * height * 3]);
}

function assertPixelsEqual(actual: RgbImage, expected: Uint8Array, label: string): void {
  assertSameSize(actual, SCENE.width, SCENE.height);
  const diff = meanAbsDiff(actual.data, expected);
  assert.equal(diff, 0, `${label}: mean difference ${diff.toFixed(3)}`);
}

/** Expects an ImageInputError with this code whose message is one line naming the file. */
async function assertInputError(
  promise: Promise<unknown>,
  code: ImageInputErrorCode,
  file: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ImageInputError, `expected ImageInputError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(`Cannot read image "${file}": `), err.message);
    assert.ok(!err.message.includes('\n'), `message spans lines: ${JSON.stringify(err.message)}`);
    assert.match(err.message, message);
    return true;
  });
}

/** A PNG whose header claims width × height, with no real pixel data. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per sample
  header[9] = 2; // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('decodeRgb: formats', () => {
  const lossless: [EncodeFormat, EncodeOptions, ImageFormat][] = [
    ['png', {}, 'png'],
    ['gif', {}, 'gif'],
    ['tiff', {}, 'tiff'],
    ['webp', { lossless: true }, 'webp'],
    ['avif', { lossless: true }, 'avif'],
  ];
  for (const [format, opts, expected] of lossless) {
    it(`decodes lossless ${format} exactly`, async () => {
      const file = await save(`scene.${format}`, await encodeScene(SCENE, format, opts));
      const info = await readImageInfo(file);
      assert.equal(info.format, expected);
      assert.deepEqual([info.width, info.height, info.orientation], [160, 96, 1]);
      assertPixelsEqual(await decodeRgb(file), RENDERED.rgb, format);
    });
  }

  const lossy: [EncodeFormat, ImageFormat][] = [
    ['jpeg', 'jpeg'],
    ['webp', 'webp'],
    ['avif', 'avif'],
  ];
  for (const [format, expected] of lossy) {
    it(`decodes lossy ${format} close to the scene`, async () => {
      const file = await save(`lossy.${format}`, await encodeScene(SCENE, format, { quality: 90 }));
      assert.equal((await readImageInfo(file)).format, expected);
      const image = await decodeRgb(file);
      assertSameSize(image, 160, 96);
      assert.ok(meanAbsDiff(image.data, RENDERED.rgb) < 3, format);
    });
  }

  it('decodes only the first frame of an animated GIF', async () => {
    const second = renderScene({ ...SCENE, background: [250, 250, 0], shapes: [] });
    const frames = Buffer.concat([RENDERED.rgb, second.rgb]);
    const gif = await sharp(frames, { raw: { width: 160, height: 192, channels: 3, pageHeight: 96 } })
      .gif()
      .toBuffer();
    const info = await readImageInfo(gif);
    assert.deepEqual([info.format, info.pages, info.width, info.height], ['gif', 2, 160, 96]);
    assertPixelsEqual(await decodeRgb(gif), RENDERED.rgb, 'first frame');
  });

  it('decodes only the first page of a multi-page TIFF', async () => {
    const second = renderScene({ ...SCENE, background: [250, 250, 0], shapes: [] });
    const pages = Buffer.concat([RENDERED.rgb, second.rgb]);
    const tiff = await sharp(pages, { raw: { width: 160, height: 192, channels: 3, pageHeight: 96 } })
      .tiff({ compression: 'lzw' })
      .toBuffer();
    assert.equal((await readImageInfo(tiff)).pages, 2);
    assertPixelsEqual(await decodeRgb(tiff), RENDERED.rgb, 'first page');
  });
});

describe('decodeRgb: EXIF orientation', () => {
  for (const format of ['png', 'jpeg'] as const) {
    it(`shows all 8 ${format} orientations upright, with the displayed size`, async () => {
      for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8] as Orientation[]) {
        const file = await save(`o${orientation}.${format}`, await encodeScene(SCENE, format, { orientation }));
        const info = await readImageInfo(file);
        assert.equal(info.orientation, orientation);
        assert.deepEqual([info.width, info.height], [160, 96], `orientation ${orientation}`);
        const image = await decodeRgb(file);
        assertSameSize(image, 160, 96);
        const diff = meanAbsDiff(image.data, RENDERED.rgb);
        assert.ok(format === 'png' ? diff === 0 : diff < 3, `orientation ${orientation}: difference ${diff}`);
      }
    });
  }

  it('crops regions in displayed coordinates', async () => {
    const file = await save('crop-o6.png', await encodeScene(SCENE, 'png', { orientation: 6 }));
    const region = { left: 30, top: 10, width: 50, height: 40 };
    const crop = await decodeRgb(file, { region });
    assertSameSize(crop, 50, 40);
    for (let y = 0; y < 40; y++) {
      const row = crop.data.subarray(y * 50 * 3, (y + 1) * 50 * 3);
      const start = ((region.top + y) * 160 + region.left) * 3;
      assert.deepEqual(Array.from(row), Array.from(RENDERED.rgb.subarray(start, start + 50 * 3)), `row ${y}`);
    }
  });
});

describe('decodeRgb: colour models and depths', () => {
  const grey = new Uint8Array(RENDERED.rgb.length);
  for (let i = 0; i < grey.length; i += 3) {
    grey.fill(luma([RENDERED.rgb[i], RENDERED.rgb[i + 1], RENDERED.rgb[i + 2]]), i, i + 3);
  }

  it('expands 8- and 16-bit grey to equal R, G and B', async () => {
    for (const sixteenBit of [false, true]) {
      const file = await encodeScene(SCENE, 'png', { grayscale: true, sixteenBit });
      const info = await readImageInfo(file);
      assert.deepEqual([info.channels, info.space], [1, sixteenBit ? 'grey16' : 'b-w']);
      assertPixelsEqual(await decodeRgb(file), grey, `grey, 16-bit ${sixteenBit}`);
    }
  });

  it('drops alpha without compositing onto a background', async () => {
    // The scene's grey background is fully transparent in these files.
    for (const [format, opts] of [
      ['png', {}],
      ['webp', { lossless: true }],
      ['tiff', {}],
      ['avif', { lossless: true }],
    ] as const) {
      const file = await encodeScene(SCENE, format, { alpha: true, ...opts });
      const info = await readImageInfo(file);
      assert.ok(info.hasAlpha, format);
      assertPixelsEqual(await decodeRgb(file), RENDERED.rgb, `${format} with alpha`);
    }
  });

  it('reduces 16-bit RGB to 8 bits', async () => {
    for (const format of ['png', 'tiff'] as const) {
      const file = await encodeScene(SCENE, format, { sixteenBit: true });
      assert.equal((await readImageInfo(file)).depth, 'ushort');
      assertPixelsEqual(await decodeRgb(file), RENDERED.rgb, `16-bit ${format}`);
    }
  });

  it('expands a palette PNG', async () => {
    const file = await sharp(RENDERED.rgb, { raw: { width: 160, height: 96, channels: 3 } })
      .png({ palette: true })
      .toBuffer();
    assert.ok((await sharp(file).metadata()).isPalette);
    assertPixelsEqual(await decodeRgb(file), RENDERED.rgb, 'palette');
  });

  it('converts CMYK JPEG and TIFF to RGB', async () => {
    for (const format of ['jpeg', 'tiff'] as const) {
      const file = await encodeScene(SCENE, format, { cmyk: true, quality: 95 });
      const info = await readImageInfo(file);
      assert.deepEqual([info.space, info.channels], ['cmyk', 4]);
      const image = await decodeRgb(file);
      assertSameSize(image, 160, 96);
      // A trip through a CMYK profile shifts colours (grey 128 comes back as
      // about 115, saturated blue as 24,69,144), so check that each region
      // still shows the colour nearest to its own; an inverted or
      // mis-channelled CMYK decode fails this.
      const colours: RGB[] = [SCENE.background, RED, GREEN, BLUE];
      const probes: [number, number, RGB][] = [
        [2, 2, SCENE.background],
        [20, 20, RED],
        [112, 64, GREEN],
        [52, 70, BLUE],
      ];
      for (const [x, y, colour] of probes) {
        const i = (y * 160 + x) * 3;
        const seen = [image.data[i], image.data[i + 1], image.data[i + 2]];
        const distance = (c: RGB): number => Math.hypot(c[0] - seen[0], c[1] - seen[1], c[2] - seen[2]);
        const nearest = colours.reduce((a, b) => (distance(b) < distance(a) ? b : a));
        assert.deepEqual(nearest, colour, `${format} at ${x},${y} shows ${seen.join()}`);
        assert.ok(distance(colour) < 80, `${format} at ${x},${y} shows ${seen.join()}`);
      }
    }
  });
});

describe('decodeRgb: options and sources', () => {
  it('resizes to fit inside a maximum size, never enlarging', async () => {
    const file = await encodeScene(SCENE, 'png');
    assertSameSize(await decodeRgb(file, { resize: { maxWidth: 80, maxHeight: 80 } }), 80, 48);
    assertSameSize(await decodeRgb(file, { resize: { maxWidth: 1000, maxHeight: 1000 } }), 160, 96);
  });

  it('rejects a region outside the image as a programming error', async () => {
    const file = await encodeScene(SCENE, 'png');
    await assert.rejects(decodeRgb(file, { region: { left: 150, top: 0, width: 20, height: 10 } }), RangeError);
    await assert.rejects(decodeRgb(file, { region: { left: 0.5, top: 0, width: 20, height: 10 } }), RangeError);
  });

  it('decodes an opened image again without reading the file', async () => {
    const file = await save('opened.png', await encodeScene(SCENE, 'png'));
    const opened = await openImage(file);
    await unlink(file);
    assertPixelsEqual(await decodeRgb(opened), RENDERED.rgb, 'opened image');
    assertSameSize(await decodeRgb(opened, { region: { left: 0, top: 0, width: 10, height: 5 } }), 10, 5);
  });

  it('decodes the sample photos', async () => {
    const expected: Record<string, [number, number, ImageFormat]> = {
      'astronaut.png': [512, 512, 'png'],
      'chelsea.png': [451, 300, 'png'],
      'coffee.png': [600, 400, 'png'],
      'rocket.jpg': [640, 427, 'jpeg'],
    };
    for (const [name, [width, height, format]] of Object.entries(expected)) {
      const file = path.join(SAMPLES, name);
      const info = await readImageInfo(file);
      assert.deepEqual([info.width, info.height, info.format], [width, height, format], name);
      const image = await decodeRgb(file);
      assertSameSize(image, width, height);
      assert.ok(new Set(image.data).size > 100, `${name} has real content`);
    }
  });
});

describe('decoder threads', () => {
  it('decodes with at least two libvips threads where there are two cores (sharp picks one under glibc)', () => {
    const expected = availableParallelism() >= DECODE_THREADS ? DECODE_THREADS : 1;
    assert.ok(sharp.concurrency() >= expected, `sharp.concurrency() is ${sharp.concurrency()}`);
  });
});

describe('image input errors', () => {
  it('reports a missing file', async () => {
    const file = path.join(dir, 'missing.png');
    await assertInputError(readImageInfo(file), 'not-found', file, /does not exist/);
    await assertInputError(decodeRgb(file), 'not-found', file, /does not exist/);
  });

  it('reports a folder', async () => {
    const folder = path.join(dir, 'folder.png');
    await mkdir(folder);
    await assertInputError(readImageInfo(folder), 'unreadable', folder, /folder/);
  });

  it('reports an empty file', async () => {
    const file = await save('empty.png', Buffer.alloc(0));
    await assertInputError(readImageInfo(file), 'empty', file, /empty/);
  });

  it('reports a text file named .png as not an image', async () => {
    const file = await save('notes.png', 'just some notes, not pixels\n');
    await assertInputError(
      decodeRgb(file),
      'unsupported',
      file,
      /the file is not a supported image \(JPEG, PNG, WebP, GIF, TIFF or AVIF\)\.$/,
    );
  });

  it('reports formats that are images but not supported', async () => {
    const file = await save(
      'drawing.png',
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    );
    await assertInputError(readImageInfo(file), 'unsupported', file, /SVG images are not supported/);
  });

  it('reports truncated PNG and JPEG files as corrupt when decoding', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const whole = await encodeScene(SCENE, format);
      const file = await save(`truncated.${format}`, whole.subarray(0, Math.floor(whole.length / 2)));
      await assertInputError(decodeRgb(file), 'corrupt', file, /damaged or incomplete/);
    }
  });

  it('accepts a JPEG with the stray bytes libjpeg only warns about', async () => {
    // "Corrupt JPEG data: 4 extraneous bytes before marker": common in camera
    // files, ignored by viewers, and fatal under sharp's default failOn.
    const whole = await encodeScene(SCENE, 'jpeg', { quality: 95 });
    for (const marker of [0xc4, 0xda]) {
      const at = whole.indexOf(Buffer.from([0xff, marker]));
      const file = Buffer.concat([whole.subarray(0, at), Buffer.from([1, 2, 3, 4]), whole.subarray(at)]);
      await assert.rejects(sharp(file).raw().toBuffer(), /extraneous bytes/);
      const image = await decodeRgb(file);
      assert.ok(meanAbsDiff(image.data, RENDERED.rgb) < 3, `marker ${marker.toString(16)}`);
    }
  });

  it('reports a damaged header as corrupt', async () => {
    const whole = await encodeScene(SCENE, 'jpeg');
    const damaged = Buffer.from(whole);
    for (let i = 20; i < 200; i++) damaged[i] ^= 0x5a;
    const file = await save('damaged.jpeg', damaged);
    await assertInputError(readImageInfo(file), 'corrupt', file, /damaged or incomplete/);
  });

  it('reports images over the pixel limit with their size and the limit', async () => {
    const file = await save('scene.png', await encodeScene(SCENE, 'png'));
    await assertInputError(
      decodeRgb(file, { maxPixels: 10_000 }),
      'too-large',
      file,
      /160×96 = 15,360 pixels, more than the limit of 10,000 pixels\.$/,
    );
    assert.equal((await readImageInfo(file, { maxPixels: 15_360 })).width, 160);
  });

  it('applies sharp-like default limit before decoding anything', async () => {
    assert.equal(DEFAULT_MAX_PIXELS, 0x3fff * 0x3fff);
    const file = await save('huge.png', pngHeaderOnly(20_000, 20_000));
    await assertInputError(
      readImageInfo(file),
      'too-large',
      file,
      /20000×20000 = 400,000,000 pixels, more than the limit of 268,402,689 pixels/,
    );
  });

  it('names in-memory images by the label given, or "image"', async () => {
    const text = Buffer.from('not an image');
    await assertInputError(readImageInfo(text, { name: 'clipboard' }), 'unsupported', 'clipboard', /not a supported/);
    await assertInputError(readImageInfo(text), 'unsupported', 'image', /not a supported/);
  });
});

/**
 * The engine end to end with the palette fixture model, on shape images it has
 * never seen: random scenes (the seed is printed; FASTSAM_TEST_SEED repeats a run)
 * of many sizes, aspect ratios, formats, orientations and pixel formats.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FastSamEngine } from '../../src/core/engine';
import { ModelError } from '../../src/core/errors';
import { ImageInputError } from '../../src/core/image/errors';
import { OnnxGraph } from '../../src/core/onnx/graph';
import { selectMasks } from '../../src/core/prompts/select';
import { assertShapesFound, paletteColors, paletteGrays, paletteModelPath, shapeCentre } from '../helpers/fixture-model';
import { encodeScene, type EncodeFormat, type EncodeOptions, randomScene, type RGB, type Scene } from '../helpers/shapes';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? Date.now() % 1_000_000);
console.log(`engine-e2e: FASTSAM_TEST_SEED=${SEED}`);

let engine: FastSamEngine;
before(async () => {
  engine = await FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'cpu' });
});
after(async () => engine?.dispose());

async function segmentScene(scene: Scene, format: EncodeFormat, opts: EncodeOptions, imageSize: number, label: string) {
  const file = await encodeScene(scene, format, opts);
  const result = await engine.segment(file, { imageSize });
  const found = assertShapesFound(scene, result, label);
  // Prompts select the right shape: a click at its centre, and a box around it.
  scene.shapes.forEach((s, i) => {
    const [x, y] = shapeCentre(scene, i);
    const byPoint = selectMasks(result.masks, { points: [{ x, y, label: 1 }] }, result.width, result.height);
    assert.equal(byPoint[0]![0], found[i], `${label}: click on shape ${i}`);
    const byBox = selectMasks(result.masks, { boxes: [[s.x, s.y, s.x + s.w, s.y + s.h]] }, result.width, result.height);
    assert.equal(byBox[0]![0], found[i], `${label}: box around shape ${i}`);
  });
  return result;
}

describe('engine on shape images of many sizes', () => {
  const sizes: [number, number, number][] = [
    [451, 300, 1024], // landscape, sides not multiples of 32
    [300, 451, 1024], // portrait
    [640, 640, 640],
    [1000, 333, 1024], // wide
    [333, 1000, 640], // tall
    [97, 61, 1024], // small
    [48, 36, 1024], // tiny
    [1280, 720, 640],
  ];
  sizes.forEach(([w, h, s], n) => {
    it(`${w}×${h} at S=${s}`, async () => {
      await segmentScene(randomScene(SEED + n, w, h, paletteColors), 'png', {}, s, `${w}×${h}@${s} seed ${SEED + n}`);
    });
  });

  it('an image after another of the same model size gives what a fresh engine gives (the input tensor is reused)', async () => {
    const wide = await encodeScene(randomScene(SEED + 40, 900, 300, paletteColors), 'png', {});
    const tall = await encodeScene(randomScene(SEED + 41, 200, 640, paletteColors), 'png', {});
    await engine.segment(wide, { imageSize: 640 });
    const afterWide = await engine.segment(tall, { imageSize: 640 });
    // Also with the letterbox and every mask computed on this thread: the same masks.
    const fresh = await FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'cpu', poolWorkers: 0 });
    try {
      const alone = await fresh.segment(tall, { imageSize: 640 });
      assert.deepEqual(afterWide.masks, alone.masks);
    } finally {
      await fresh.dispose();
    }
  });

  it('maxDetections keeps the best masks: the first of the uncapped result', async () => {
    const [red, green, blue, yellow] = paletteColors;
    const scene: Scene = {
      width: 500,
      height: 400,
      background: [255, 255, 255],
      shapes: [
        { kind: 'rect', color: red!, x: 20, y: 30, w: 150, h: 100 },
        { kind: 'ellipse', color: green!, x: 250, y: 40, w: 120, h: 120 },
        { kind: 'rect', color: blue!, x: 60, y: 220, w: 90, h: 140 },
        { kind: 'ellipse', color: yellow!, x: 300, y: 240, w: 160, h: 110 },
      ],
    };
    const file = await encodeScene(scene, 'png', {});
    const all = await engine.segment(file, { imageSize: 640 });
    assert.ok(all.masks.length >= 3, `${all.masks.length} masks`);
    for (const cap of [1, 2, all.masks.length]) {
      assert.deepEqual((await engine.segment(file, { imageSize: 640, maxDetections: cap })).masks, all.masks.slice(0, cap), `cap ${cap}`);
    }
  });

  it('6000×4000 (24 megapixels) with compact masks', async () => {
    const scene = randomScene(SEED + 100, 6000, 4000, paletteColors);
    const result = await segmentScene(scene, 'png', {}, 1024, `6000×4000 seed ${SEED + 100}`);
    // Masks are stored inside their boxes, bit-packed: far below a byte per image pixel per mask.
    const bytes = result.masks.reduce((n, m) => n + m.mask.bits.byteLength, 0);
    assert.ok(bytes < (6000 * 4000) / 8, `masks take ${bytes} bytes`);
  });
});

describe('engine on image formats and pixel formats', () => {
  const cases: [string, EncodeFormat, EncodeOptions][] = [
    ['JPEG rotated by EXIF orientation 6', 'jpeg', { orientation: 6, quality: 95 }],
    ['JPEG mirrored by EXIF orientation 5', 'jpeg', { orientation: 5, quality: 95 }],
    ['PNG with alpha', 'png', { alpha: true }],
    ['16-bit PNG', 'png', { sixteenBit: true }],
    ['lossless WebP', 'webp', { lossless: true }],
    ['TIFF', 'tiff', {}],
    ['GIF', 'gif', {}],
  ];
  cases.forEach(([label, format, opts], n) => {
    it(label, async () => {
      await segmentScene(randomScene(SEED + 200 + n, 520, 340, paletteColors), format, opts, 1024, `${label} seed ${SEED + 200 + n}`);
    });
  });

  it('grayscale PNG (shapes in the palette grays)', async () => {
    // Gray 128 lies between the two palette grays, so no edge blends into the other gray.
    const scene = { ...randomScene(SEED + 300, 400, 300, paletteGrays), background: [128, 128, 128] as RGB };
    await segmentScene(scene, 'png', { grayscale: true }, 1024, `grayscale seed ${SEED + 300}`);
  });
});

describe('engine errors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-bad-'));

  it('a text file named .png is not an image', async () => {
    const file = path.join(dir, 'notes.png');
    writeFileSync(file, 'just some text\n');
    await assert.rejects(engine.segment(file), (e: unknown) => e instanceof ImageInputError && /notes\.png/.test(e.message) && !e.message.includes('\n'));
  });

  it('a truncated PNG is corrupt', async () => {
    const png = await encodeScene(randomScene(SEED, 200, 150, paletteColors), 'png');
    const file = path.join(dir, 'truncated.png');
    writeFileSync(file, png.subarray(0, Math.floor(png.length / 2)));
    await assert.rejects(engine.segment(file), (e: unknown) => e instanceof ImageInputError && /truncated\.png/.test(e.message));
  });

  it('an input side that is not a multiple of 32 from 32 to 4096 is refused before any work', async () => {
    for (const size of [0, 100, 4128, 99_999_968, 640.5]) {
      await assert.rejects(engine.segment(path.join(dir, 'never-read.png'), { imageSize: size }), (e: unknown) => e instanceof RangeError && /multiple of 32 from 32 to 4096/.test(e.message), `${size}`);
    }
    assert.equal(engine.effectiveImageSize(4096), 4096);
  });

  it('a missing model is a ModelError naming the file', async () => {
    await assert.rejects(FastSamEngine.create({ modelPath: path.join(dir, 'nope.onnx') }), (e: unknown) => e instanceof ModelError && e.code === 'not-found' && /nope\.onnx/.test(e.message));
  });

  it('a file that is not ONNX is a corrupt model', async () => {
    const file = path.join(dir, 'garbage.onnx');
    writeFileSync(file, Buffer.from('this is not a protobuf'));
    await assert.rejects(FastSamEngine.create({ modelPath: file, executionProvider: 'cpu' }), (e: unknown) => e instanceof ModelError && e.code === 'corrupt');
  });

  it('an ONNX model with the wrong outputs breaks the contract', async () => {
    const g = new OnnxGraph();
    const x = g.input('images', 'float32', [1, 3, 'h', 'w']);
    g.output(g.node('Relu', [x]), 'out', 'float32', [1, 3, 'h', 'w']);
    const file = path.join(dir, 'classifier.onnx');
    writeFileSync(file, g.toModelBytes());
    await assert.rejects(FastSamEngine.create({ modelPath: file, executionProvider: 'cpu' }), (e: unknown) => e instanceof ModelError && e.code === 'contract' && /classifier\.onnx/.test(e.message));
  });

  it('a forced provider that is not available says so', async () => {
    await assert.rejects(
      FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'coreml' }),
      (e: unknown) => e instanceof ModelError && e.code === 'provider' && /coreml/.test(e.message),
    );
  });
});

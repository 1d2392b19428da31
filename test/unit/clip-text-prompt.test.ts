/**
 * Text prompts end to end: the palette FastSAM fixture segments shape images
 * the tests have never seen (random scenes; FASTSAM_TEST_SEED repeats a run),
 * and the clip-palette fixture CLIP chooses among the masks by color name.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';

import { buildClipPaletteFixture, writeClipPaletteFixture } from '../../scripts/fixtures/clip-fixture';
import { type ClipLoadProgress, ClipModelError, CLIP_MODEL_FILES } from '../../src/core/clip/clip-model';
import { BLANK_VALUE } from '../../src/core/clip/mask-crop';
import { type ImageEmbeddings, isTextCandidate, rankMasks, TextPrompter, type TextQueryResult } from '../../src/core/clip/text-prompt';
import { FastSamEngine, type SegmentationResult } from '../../src/core/engine';
import { PromptError } from '../../src/core/errors';
import { toFullMask } from '../../src/core/masks/box-mask';
import { OnnxGraph } from '../../src/core/onnx/graph';
import { clipFixturePath } from '../helpers/clip-fixture';
import { assertShapesFound, colorName, iouBound, palette, paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { encodeScene, maskIoU, randomScene, renderScene, type RGB, type Scene, shapeMask } from '../helpers/shapes';
import type { ToWorker } from '../helpers/text-prompt-worker';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? (Date.now() % 1_000_000) + 7);
console.log(`clip-text-prompt: FASTSAM_TEST_SEED=${SEED}`);

let engine: FastSamEngine;
let prompter: TextPrompter;
before(async () => {
  engine = await FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'cpu' });
  prompter = await TextPrompter.load({ model: await clipFixturePath() });
});
after(async () => {
  await engine?.dispose();
  await prompter?.dispose();
});

const color = (name: string): RGB => [...palette.colors[palette.names.indexOf(name)]!] as RGB;

async function segment(scene: Scene): Promise<{ png: Buffer; result: SegmentationResult }> {
  const png = await encodeScene(scene, 'png');
  return { png, result: await engine.segment(png, { imageSize: 1024 }) };
}

/** IoU of mask `index` of the result with shape `shape` as drawn. */
function iouWithShape(scene: Scene, result: SegmentationResult, index: number, shape: number): number {
  return maskIoU(toFullMask(result.masks[index]!.mask), shapeMask(scene, shape));
}

describe('text prompts on random shape scenes', () => {
  const phrasings = [(c: string) => c, (c: string) => `the ${c} one`, (c: string) => `A ${c.toUpperCase()} shape.`, (c: string) => `${c}!`];
  const sizes: [number, number][] = [
    [800, 600],
    [600, 800],
    [1000, 640],
    [720, 720],
  ];
  sizes.forEach(([w, h], n) => {
    it(`selects each shape by its color name, ${w}×${h}`, async () => {
      const seed = SEED + n;
      const scene = randomScene(seed, w, h, paletteColors);
      const { png, result } = await segment(scene);
      const found = assertShapesFound(scene, result, `seed ${seed}`);
      const embeddings = await prompter.embedMasks(result, png);
      for (const [i, shape] of scene.shapes.entries()) {
        const text = phrasings[i % phrasings.length]!(colorName(shape.color));
        const answer = await prompter.queryText(embeddings, text);
        const what = `seed ${seed}, "${text}"`;
        assert.equal(answer.selected.length, 1, what);
        assert.equal(answer.selected[0], found[i], `${what}: selected mask ${answer.selected[0]}, the shape is mask ${found[i]}`);
        // The bound the segmentation itself meets (smaller shapes have more edge per area).
        const iou = iouWithShape(scene, result, answer.selected[0]!, i);
        assert.ok(iou >= iouBound(scene, i), `${what}: IoU ${iou.toFixed(3)} with the drawn shape`);
        assert.ok(answer.ranked[0]!.score > 0.99, `${what}: best score ${answer.ranked[0]!.score}`);
        const total = answer.ranked.reduce((s, r) => s + r.score, 0);
        assert.ok(Math.abs(total - 1) < 1e-9, `${what}: scores sum to ${total}`);
      }
    });
  });

  it('tells multi-word colors from their hue: dark green, green, dark gray, light gray', async () => {
    // Gray 128 is far from both grays, and edges blending it into a shape pass no third palette color.
    const scene: Scene = {
      width: 640,
      height: 480,
      background: [128, 128, 128],
      shapes: [
        { kind: 'rect', color: color('dark green'), x: 30, y: 30, w: 160, h: 180 },
        { kind: 'ellipse', color: color('green'), x: 240, y: 30, w: 170, h: 170 },
        { kind: 'rect', color: color('dark gray'), x: 450, y: 40, w: 160, h: 150 },
        { kind: 'ellipse', color: color('light gray'), x: 60, y: 260, w: 200, h: 190 },
        { kind: 'rect', color: color('red'), x: 330, y: 270, w: 220, h: 170 },
      ],
    };
    const { png, result } = await segment(scene);
    const embeddings = await prompter.embedMasks(result, png);
    const queries: [string, number][] = [
      ['dark green', 0],
      ['the green one', 1],
      ['Dark Gray', 2],
      ['light grey', 3],
      ['a light gray shape', 3],
      ['red', 4],
    ];
    for (const [text, shape] of queries) {
      const answer = await prompter.queryText(embeddings, text);
      const iou = iouWithShape(scene, result, answer.selected[0]!, shape);
      assert.ok(iou >= 0.95, `"${text}": IoU ${iou.toFixed(3)} with the ${colorName(scene.shapes[shape]!.color)} shape`);
    }
  });

  it('selects every mask at or above a threshold ("all the ..."), best first', async () => {
    // Without "dark green": the fixture's bag of words reads "green and dark green" as dark green twice.
    const scene = randomScene(SEED + 100, 800, 600, paletteColors.filter((c) => colorName(c) !== 'dark green'));
    const { png, result } = await segment(scene);
    const found = assertShapesFound(scene, result, `seed ${SEED + 100}`);
    const embeddings = await prompter.embedMasks(result, png);
    const [a, b] = [colorName(scene.shapes[0]!.color), colorName(scene.shapes[1]!.color)];
    const both = await prompter.queryText(embeddings, `the ${a} and the ${b}`, { allAbove: 0.2 });
    assert.deepEqual([...both.selected].sort(), [found[0], found[1]].sort(), `"${a} and ${b}" selects both`);
    assert.deepEqual(both.selected, both.ranked.slice(0, 2).map((r) => r.index), 'best first');
    const one = await prompter.queryText(embeddings, a, { allAbove: 0.2 });
    assert.deepEqual(one.selected, [found[0]]);
    const none = await prompter.queryText(embeddings, `the ${a} and the ${b}`, { allAbove: 0.9 });
    assert.deepEqual(none.selected, [], 'two equal matches each score about 0.5');
    await assert.rejects(prompter.queryText(embeddings, a, { allAbove: 0 }), PromptError);
    await assert.rejects(prompter.queryText(embeddings, a, { allAbove: 1.5 }), PromptError);
    await assert.rejects(prompter.queryText(embeddings, '   '), PromptError);
  });
});

describe('blanking outside the mask', () => {
  // A thin red L whose box holds a large blue square: the L's plain box crop is mostly blue.
  const red = color('red');
  const blue = color('blue');
  const scene: Scene = {
    width: 400,
    height: 300,
    background: [255, 255, 255],
    shapes: [
      { kind: 'rect', color: red, x: 20, y: 20, w: 8, h: 220 },
      { kind: 'rect', color: red, x: 20, y: 232, w: 220, h: 8 },
      { kind: 'rect', color: blue, x: 40, y: 40, w: 180, h: 180 },
      { kind: 'ellipse', color: color('green'), x: 280, y: 60, w: 100, h: 100 },
    ],
  };
  let result: SegmentationResult;
  let embeddings: ImageEmbeddings;
  let redL: number;
  let blueSquare: number;
  before(async () => {
    let png: Buffer;
    ({ png, result } = await segment(scene));
    embeddings = await prompter.embedMasks(result, png);
    const [bar, foot] = [shapeMask(scene, 0), shapeMask(scene, 1)];
    const ious = (truth: Uint8Array) => result.masks.map((m) => maskIoU(toFullMask(m.mask), truth));
    const lIous = ious(bar.map((v, i) => v | foot[i]!));
    redL = lIous.indexOf(Math.max(...lIous));
    const squareIous = ious(shapeMask(scene, 2));
    blueSquare = squareIous.indexOf(Math.max(...squareIous));
    assert.ok(lIous[redL]! > 0.8 && squareIous[blueSquare]! > 0.95, `the fixture segments the L (IoU ${lIous[redL]}) and the square (${squareIous[blueSquare]})`);
    // The square lies inside the L's box: the premise of this test.
    const l = result.masks[redL]!.mask;
    const s = result.masks[blueSquare]!.mask;
    assert.ok(s.left > l.left && s.top > l.top && s.left + s.width < l.left + l.width && s.top + s.height < l.top + l.height);
  });

  it('does not pick the L for "blue", nor the square for "red"', async () => {
    const forBlue = await prompter.queryText(embeddings, 'blue', { allAbove: 0.05 });
    assert.deepEqual(forBlue.selected, [blueSquare]);
    const lScore = forBlue.ranked.find((r) => r.index === redL)!.score;
    assert.ok(lScore < 1e-6, `the L scores ${lScore} for "blue"`);
    const forRed = await prompter.queryText(embeddings, 'the red one', { allAbove: 0.05 });
    assert.deepEqual(forRed.selected, [redL]);
  });

  it('without blanking (plain box crops, as FastSAM\'s reference), the L would be picked for "blue"', async () => {
    // The reference's crop: the box as it is, then (as here) padded to a square and resized for CLIP.
    const { rgb } = renderScene(scene);
    const side = prompter.clip.inputSide;
    const crops = await Promise.all(
      [...embeddings.maskIndices].map(async (i) => {
        const { left, top, width, height } = result.masks[i]!.mask;
        const square = Math.max(width, height);
        const { data, info } = await sharp(Buffer.from(rgb), { raw: { width: scene.width, height: scene.height, channels: 3 } })
          .extract({ left, top, width, height })
          .extend({
            left: Math.floor((square - width) / 2),
            right: Math.ceil((square - width) / 2),
            top: Math.floor((square - height) / 2),
            bottom: Math.ceil((square - height) / 2),
            background: { r: BLANK_VALUE, g: BLANK_VALUE, b: BLANK_VALUE },
          })
          .resize(side, side)
          .raw()
          .toBuffer({ resolveWithObject: true });
        return { data: new Uint8Array(data), width: info.width, height: info.height };
      }),
    );
    const plain = await prompter.clip.embedImages(crops);
    const text = await prompter.clip.encodeText('blue');
    const { ranked, selected } = rankMasks({ ...embeddings, vectors: plain.vectors }, text, { allAbove: 0.05 });
    const lScore = ranked.find((r) => r.index === redL)!.score;
    assert.ok(lScore > 0.2, `without blanking the L scores ${lScore} for "blue"`);
    assert.ok(selected.includes(redL), 'and is selected among "all the blue ones"');
  });
});

describe('cost of queries', () => {
  it('embeds the crops once; a second query runs the text model only, a repeated one nothing', async () => {
    const scene = randomScene(SEED + 200, 640, 480, paletteColors);
    const { png, result } = await segment(scene);
    const before = prompter.counters;
    const embeddings = await prompter.embedMasks(result, png);
    const embedded = prompter.counters;
    const candidates = result.masks.filter((m) => isTextCandidate(m.mask)).length;
    assert.equal(embedded.imagesEmbedded - before.imagesEmbedded, candidates);
    assert.equal(embedded.visionRuns - before.visionRuns, Math.ceil(candidates / 16));
    assert.equal(embedded.textRuns, before.textRuns);

    const names = scene.shapes.map((s) => colorName(s.color));
    // Texts this test has not encoded before, so the cache cannot answer the first query.
    const first = await prompter.queryText(embeddings, `${names[0]} object of seed ${SEED}`);
    const afterFirst = prompter.counters;
    assert.equal(afterFirst.visionRuns, embedded.visionRuns, 'the first query runs no vision model');
    assert.equal(afterFirst.textRuns, embedded.textRuns + 1);

    const second = await prompter.queryText(embeddings, `${names[1]} object of seed ${SEED}`);
    const afterSecond = prompter.counters;
    assert.equal(afterSecond.visionRuns, embedded.visionRuns, 'the second query runs no vision model');
    assert.equal(afterSecond.textRuns, afterFirst.textRuns + 1);
    assert.notEqual(second.selected[0], first.selected[0]);

    const again = await prompter.queryText(embeddings, `${names[0]} object of seed ${SEED}`);
    const afterAgain = prompter.counters;
    assert.equal(afterAgain.textRuns, afterSecond.textRuns, 'a repeated query runs no model at all');
    assert.equal(afterAgain.textCacheHits, afterSecond.textCacheHits + 1);
    assert.deepEqual(again.ranked, first.ranked);
  });

  it('ignores masks too small to mean anything', async () => {
    const scene: Scene = {
      width: 640,
      height: 480,
      background: [255, 255, 255],
      shapes: [
        { kind: 'rect', color: color('red'), x: 40, y: 40, w: 200, h: 150 },
        // 12×12 = 144 px: above 100 px but under 0.1% of 640×480 (307 px).
        { kind: 'rect', color: color('blue'), x: 400, y: 300, w: 12, h: 12 },
        // 6 px wide: a box side under 8 px.
        { kind: 'rect', color: color('yellow'), x: 300, y: 40, w: 6, h: 200 },
      ],
    };
    const { png, result } = await segment(scene);
    assert.equal(result.masks.length, 3, 'the fixture segments all three');
    const embeddings = await prompter.embedMasks(result, png);
    assert.equal(embeddings.maskIndices.length, 1);
    const answer = await prompter.queryText(embeddings, 'blue');
    assert.deepEqual(answer.ranked.map((r) => r.index), [...embeddings.maskIndices], 'only candidates are ranked');
  });
});

describe('hosted in a worker thread', () => {
  it('embeds in the worker; the host keeps the embeddings and queries with them', async () => {
    const scene = randomScene(SEED + 300, 640, 480, paletteColors);
    const { png, result } = await segment(scene);
    const found = assertShapesFound(scene, result, `seed ${SEED + 300}`);
    const tsx = require.resolve('tsx/cjs');
    const script = path.resolve(__dirname, '../helpers/text-prompt-worker.ts');
    const worker = new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(script)});`, { eval: true });
    const call = (message: ToWorker) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        worker.once('message', (reply: Record<string, unknown>) => (reply.type === 'error' ? reject(new Error(String(reply.message))) : resolve(reply)));
        worker.once('error', reject);
        worker.postMessage(message);
      });
    try {
      await call({ type: 'load', model: await clipFixturePath() });
      const { embeddings } = (await call({ type: 'embed', result, image: new Uint8Array(png) })) as { embeddings: ImageEmbeddings };
      assert.ok(embeddings.vectors instanceof Float32Array && embeddings.maskIndices instanceof Int32Array, 'typed arrays survive the clone');
      for (const [i, shape] of scene.shapes.entries()) {
        const { answer, counters } = (await call({ type: 'query', embeddings, text: colorName(shape.color) })) as {
          answer: TextQueryResult;
          counters: { visionRuns: number };
        };
        assert.equal(answer.selected[0], found[i]);
        assert.equal(counters.visionRuns, 1, 'queries in the worker run no vision model');
      }
    } finally {
      await worker.terminate();
    }
  });
});

describe('loading', () => {
  it('reports progress per file, as plain data a worker can post', async () => {
    const events: ClipLoadProgress[] = [];
    const loaded = await TextPrompter.load({ model: await clipFixturePath(), onProgress: (p) => events.push(structuredClone(p)) });
    await loaded.dispose();
    const done = events.filter((e) => e.status === 'done').map((e) => e.file);
    for (const file of CLIP_MODEL_FILES) assert.ok(done.includes(file), `${file} reported done (${done.join(', ')})`);
    const model = events.find((e) => e.status === 'progress' && e.file === 'onnx/vision_model.onnx');
    assert.ok(model && model.loaded === model.total && model.total! > 0, 'byte counts for the model files');
  });

  it('offline, loads a Hub model from the cache folder', async () => {
    // The cache holds Hub files at <cacheDir>/<owner>/<name>/<file>, as transformers.js writes them.
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'fastsam-clip-cache-'));
    await writeClipPaletteFixture(path.join(cacheDir, 'fixture-owner', 'clip-palette'));
    const cached = await TextPrompter.load({ model: 'fixture-owner/clip-palette', allowRemote: false, cacheDir });
    try {
      const scene = randomScene(SEED + 400, 640, 480, paletteColors);
      const { png, result } = await segment(scene);
      const found = assertShapesFound(scene, result, `seed ${SEED + 400}`);
      const answer = await cached.queryText(await cached.embedMasks(result, png), colorName(scene.shapes[0]!.color));
      assert.deepEqual(answer.selected, [found[0]]);
    } finally {
      await cached.dispose();
    }
  });
});

describe('missing or broken CLIP models', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fastsam-clip-broken-'));
  });

  /** A copy of the fixture folder with files replaced (data) or left out (null). */
  function fixtureVariant(name: string, changes: Record<string, Uint8Array | string | null>): string {
    const folder = path.join(dir, name);
    for (const [file, data] of buildClipPaletteFixture()) {
      const replaced = file in changes ? changes[file] : data;
      if (replaced === null || replaced === undefined) continue;
      mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
      writeFileSync(path.join(folder, file), replaced);
    }
    return folder;
  }

  async function rejectsWith(options: Parameters<typeof TextPrompter.load>[0], code: ClipModelError['code'], pattern: RegExp): Promise<void> {
    await assert.rejects(TextPrompter.load(options), (err: unknown) => {
      assert.ok(err instanceof ClipModelError, `a ClipModelError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /\n/, 'one line');
      return true;
    });
  }

  it('a folder that does not exist', async () => {
    await rejectsWith({ model: path.join(dir, 'nowhere') }, 'not-found', /CLIP model folder ".*nowhere" does not exist/);
  });

  it('a file instead of a folder', async () => {
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, 'x');
    await rejectsWith({ model: file }, 'not-found', /is a file; it must be a folder/);
  });

  it('a folder without its vision model', async () => {
    const folder = fixtureVariant('incomplete', { 'onnx/vision_model.onnx': null });
    await rejectsWith({ model: folder }, 'not-found', /is incomplete: onnx\/vision_model\.onnx missing/);
  });

  it('a damaged ONNX file', async () => {
    const folder = fixtureVariant('damaged', { 'onnx/vision_model.onnx': 'not a model' });
    await rejectsWith({ model: folder }, 'broken', /CLIP model ".*damaged" cannot be loaded: .*vision_model\.onnx/);
  });

  it('a damaged tokenizer.json', async () => {
    const folder = fixtureVariant('bad-tokenizer', { 'tokenizer.json': '{"model": ' });
    await rejectsWith({ model: folder }, 'broken', /cannot be loaded/);
  });

  it('a vision model without image_embeds', async () => {
    const g = new OnnxGraph();
    g.output(g.node('ReduceMean', [g.input('pixel_values', 'float32', ['batch', 3, 'h', 'w'])], { axes: [2, 3], keepdims: 0 }), 'pooled', 'float32', ['batch', 3]);
    const folder = fixtureVariant('wrong-output', { 'onnx/vision_model.onnx': g.toModelBytes() });
    await rejectsWith({ model: folder }, 'broken', /its vision model lacks image_embeds/);
  });

  it('a Hub model that is not cached, offline', async () => {
    const cacheDir = path.join(dir, 'empty-cache');
    await rejectsWith(
      { model: 'Xenova/clip-vit-base-patch32', allowRemote: false, cacheDir, localFolderHint: 'set fastsam.clipModel to a local folder' },
      'offline',
      /^CLIP model "Xenova\/clip-vit-base-patch32" is not available offline: download it .*empty-cache.* or set fastsam\.clipModel to a local folder$/,
    );
  });

  it('the fixture holds exactly the files a folder needs', () => {
    assert.deepEqual([...buildClipPaletteFixture().keys()].sort(), [...CLIP_MODEL_FILES].sort());
  });
});

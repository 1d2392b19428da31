/**
 * Text queries through the engine client and the real worker bundle
 * (dist/engine-worker.js, so `npm run build` first), with the clip-palette
 * fixture CLIP: ranking, embeddings kept per result, reloads, errors.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { UserFacingError } from '../../src/core/errors';
import type { SegmentationResult } from '../../src/core/engine';
import { type ClipSpec, EngineClient, type ModelSpec } from '../../src/extension/engine-client';
import { clipFixturePath } from '../helpers/clip-fixture';
import { paletteModelPath, TWO_SHAPES } from '../helpers/fixture-model';
import { encodeScene, type Scene } from '../helpers/shapes';

const WORKER = path.resolve(__dirname, '../../dist/engine-worker.js');
const quiet = { info: () => {}, warn: () => {} };
const PARAMS = { imageSize: 640, confidence: 0.4, iou: 0.9, maxDetections: 300 };

const scene = TWO_SHAPES;

let client: EngineClient;
let png: Buffer;
let result: SegmentationResult;
let clip: ClipSpec;

/** The mask whose box is the shape's (within 2 pixels). */
function maskOf(shape: Scene['shapes'][number]): number {
  const drawn = [shape.x, shape.y, shape.x + shape.w, shape.y + shape.h];
  const i = result.masks.findIndex((m) => m.box.every((v, k) => Math.abs(v - drawn[k]!) <= 2));
  assert.ok(i >= 0, `no mask for [${drawn}]`);
  return i;
}

function query(text: string, extra: { key?: string; clip?: ClipSpec; onProgress?: (m: string) => void } = {}) {
  return client.textQuery({ clip: extra.clip ?? clip, key: extra.key ?? 'shapes', result, image: new Uint8Array(png), name: 'shapes.png', text, ...(extra.onProgress ? { onProgress: extra.onProgress } : {}) });
}

describe('engine client: text queries in the worker', () => {
  before(async () => {
    client = new EngineClient({ workerPath: WORKER, logger: quiet });
    png = await encodeScene(scene, 'png');
    const model: ModelSpec = { path: await paletteModelPath(), executionProvider: 'cpu', mtimeMs: 1, size: 1 };
    result = await client.segment({ model, image: new Uint8Array(png), name: 'shapes.png', ...PARAMS });
    clip = { model: await clipFixturePath(), cacheDir: path.join(path.dirname(await clipFixturePath()), 'cache'), allowRemote: false };
  });
  after(() => client.dispose());

  test('ranks the blue shape first for "blue", loading CLIP and embedding the masks once', async () => {
    assert.deepEqual(await client.clipCounters(), { loads: 0, visionRuns: 0, imagesEmbedded: 0, textRuns: 0, textCacheHits: 0 });
    const progress: string[] = [];
    const ranked = await query('blue', { onProgress: (m) => progress.push(m) });
    assert.equal(ranked[0]?.index, maskOf(scene.shapes[1]!));
    assert.deepEqual(progress, ['Loading CLIP…', `Embedding ${result.masks.length} masks…`, 'Searching…']);
    const first = await client.clipCounters();
    assert.equal(first.loads, 1);
    assert.equal(first.imagesEmbedded, result.masks.length);

    const red = await query('the red one');
    assert.equal(red[0]?.index, maskOf(scene.shapes[0]!));
    const second = await client.clipCounters();
    assert.equal(second.visionRuns, first.visionRuns, 'the same result: no vision run');
    assert.equal(second.textRuns, first.textRuns + 1);
    assert.equal(second.loads, 1);

    await query('blue', { key: 'another result' });
    const third = await client.clipCounters();
    assert.ok(third.visionRuns > second.visionRuns, 'another result key embeds its masks');
  });

  test('another CLIP setting loads again; a missing folder is a one-line user error', async () => {
    const before = await client.clipCounters();
    await query('blue', { clip: { ...clip, cacheDir: `${clip.cacheDir}-2` } });
    assert.equal((await client.clipCounters()).loads, before.loads + 1);
    const missing = path.join(path.dirname(clip.model), 'no-such-clip');
    await assert.rejects(query('blue', { clip: { ...clip, model: missing } }), (e: unknown) => {
      assert.ok(e instanceof UserFacingError);
      assert.equal(e.message, `CLIP model folder "${missing}" does not exist`);
      return true;
    });
    // A failed load holds nothing: the next query with a good model works.
    assert.equal((await query('blue'))[0]?.index, maskOf(scene.shapes[1]!));
  });
});

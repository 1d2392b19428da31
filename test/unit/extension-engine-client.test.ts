/**
 * EngineClient against the real worker bundle, dist/engine-worker.js, with the
 * palette fixture model: what the extension runs, byte for byte. `npm test`
 * builds it before the unit tests; alone, run `npm run build` first.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';

import { CancelledError, ModelError, UserFacingError } from '../../src/core/errors';
import type { Logger } from '../../src/core/logger';
import { toFullMask } from '../../src/core/masks/box-mask';
import type { SegmentationResult } from '../../src/core/engine';
import { EngineClient, EngineCrashedError, type ModelSpec, type SegmentRequest, type WorkerPhase } from '../../src/extension/engine-client';
import { assertShapesFound, paletteColors, paletteModelPath, TWO_SHAPES } from '../helpers/fixture-model';
import { encodeScene, type Scene } from '../helpers/shapes';

const WORKER = path.resolve(__dirname, '../../dist/engine-worker.js');
const quiet = { info: () => {}, warn: () => {} };
const PARAMS = { imageSize: 640, confidence: 0.4, iou: 0.9, maxDetections: 300 };

const [red, green] = paletteColors as [Scene['background'], Scene['background']];
const small = TWO_SHAPES;
/** 12 megapixels: the letterbox alone takes long enough to cancel a run in the middle. */
const large: Scene = {
  width: 4000,
  height: 3000,
  background: [255, 255, 255],
  shapes: [
    { kind: 'rect', color: red, x: 200, y: 300, w: 1400, h: 900 },
    { kind: 'ellipse', color: green, x: 2200, y: 1200, w: 1500, h: 1500 },
  ],
};

let model: ModelSpec;
let smallPng: Buffer;
let largePng: Buffer;

/** A fresh copy each time: the client transfers the bytes to the worker. */
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b);

function request(png: Buffer, extra: Partial<SegmentRequest> = {}): SegmentRequest {
  return { model, image: bytes(png), name: 'scene.png', ...PARAMS, ...extra };
}

before(async () => {
  assert.ok(existsSync(WORKER), `${WORKER} is missing: run \`npm run build\` first (npm test does)`);
  const file = await paletteModelPath();
  model = { path: file, executionProvider: 'cpu', mtimeMs: 1, size: 1 };
  [smallPng, largePng] = await Promise.all([encodeScene(small, 'png'), encodeScene(large, 'png')]);
});

describe('EngineClient with dist/engine-worker.js', () => {
  let client: EngineClient;
  before(() => {
    client = new EngineClient({ workerPath: WORKER, logger: quiet });
  });
  after(() => client.dispose());

  test('round trip: loads the model once, reports phases, returns masks as plain data', async () => {
    const loads: (string | undefined)[] = [];
    const sub = client.onDidChangeModel((m) => loads.push(m?.executionProvider));
    const phases: WorkerPhase[] = [];
    const result = await client.segment(request(smallPng, { onPhase: (p) => phases.push(p) }));
    assert.deepEqual(phases, ['loading-model', 'segmenting']);
    assert.deepEqual(loads, ['cpu']);
    assert.deepEqual(client.loadedModel, { path: model.path, executionProvider: 'cpu' });
    assert.equal(result.imageSize, 640);
    assertShapesFound(small, result, 'small scene');
    for (const m of result.masks) assert.ok(m.mask.bits instanceof Uint32Array);

    const again: WorkerPhase[] = [];
    await client.segment(request(smallPng, { onPhase: (p) => again.push(p) }));
    assert.deepEqual(again, ['segmenting'], 'the model stays loaded');
    sub.dispose();
  });

  test('a model file replaced at the same path is loaded again', async () => {
    const phases: WorkerPhase[] = [];
    await client.segment(request(smallPng, { model: { ...model, mtimeMs: 2 }, onPhase: (p) => phases.push(p) }));
    assert.deepEqual(phases, ['loading-model', 'segmenting']);
  });

  test('probeImage reads the size as displayed', async () => {
    const rotated = await encodeScene(small, 'jpeg', { orientation: 6 });
    assert.deepEqual(await client.probeImage(bytes(rotated), 'rotated.jpg'), { width: 320, height: 240, orientation: 6, format: 'jpeg' });
  });

  test('encodeMaskPng writes the union as an 8-bit 0/255 PNG of the image size', async () => {
    const result = await client.segment(request(smallPng));
    const png = await client.encodeMaskPng(result.masks.map((m) => m.mask), result.width, result.height);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels, meta.depth], ['png', 320, 240, 1, 'uchar']);
    const data = await sharp(png).toColourspace('b-w').raw().toBuffer();
    const expected = new Uint8Array(320 * 240);
    for (const m of result.masks) toFullMask(m.mask, expected, 255);
    assert.deepEqual(new Uint8Array(data), expected);
  });

  test('errors keep their kind across the thread boundary', async () => {
    await assert.rejects(client.segment(request(smallPng, { model: { ...model, path: path.join(tmpdir(), 'no-such-model.onnx') } })), (e: unknown) => {
      assert.ok(e instanceof ModelError, String(e));
      assert.equal(e.code, 'not-found');
      return true;
    });
    await assert.rejects(client.segment(request(Buffer.from('not an image'), { name: 'broken.png' })), (e: unknown) => {
      assert.ok(e instanceof UserFacingError, String(e));
      assert.match(e.message, /broken\.png/);
      return true;
    });
  });

  test('a model that cannot load is reported with nothing held (the previous one released), until a model loads', async () => {
    await client.segment(request(smallPng));
    const changes: (string | undefined)[] = [];
    const sub = client.onDidChangeModel((m) => changes.push(m?.path));
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-broken-model-'));
    try {
      const broken = path.join(dir, 'broken.onnx');
      writeFileSync(broken, 'not a model');
      await assert.rejects(client.segment(request(smallPng, { model: { ...model, path: broken } })), ModelError);
      assert.equal(client.loadedModel, undefined);
      assert.equal(client.modelFailure?.path, broken);
      assert.equal(client.modelFailure.executionProvider, 'cpu');
      assert.match(client.modelFailure.message, /not a valid ONNX model/);
      assert.deepEqual(changes, [undefined, undefined], 'released, then failed');
      await client.segment(request(smallPng));
      assert.equal(client.modelFailure, undefined);
      assert.deepEqual(changes, [undefined, undefined, model.path]);
    } finally {
      sub.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cancelling a running segmentation rejects at once and leaves the worker usable', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = client.segment(
      request(largePng, {
        signal: controller.signal,
        onPhase: (p) => {
          if (p === 'segmenting') controller.abort();
        },
      }),
    );
    await assert.rejects(run, CancelledError);
    assert.ok(Date.now() - started < 5000);
    const result = await client.segment(request(smallPng));
    assert.equal(result.masks.length, 2);
  });

  test('cancelling a queued request drops it; the one ahead still completes', async () => {
    const controller = new AbortController();
    const first = client.segment(request(largePng));
    const second = client.segment(request(smallPng, { signal: controller.signal }));
    controller.abort();
    await assert.rejects(second, CancelledError);
    assertShapesFound(large, await first, 'large scene');
  });

  test('an aborted signal is refused without a round trip', async () => {
    await assert.rejects(client.segment(request(smallPng, { signal: AbortSignal.abort() })), CancelledError);
  });
});

/**
 * A client of the real worker bundle run through `script`, which sees `parentPort` and
 * `WORKER` (the bundle's path) and changes how the worker behaves; `remove` disposes of both.
 */
function wrappedWorkerClient(name: string, script: string, logger: Logger = quiet): { client: EngineClient; remove: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), `fastsam-${name}-`));
  const file = path.join(dir, `${name}-worker.js`);
  writeFileSync(file, `const { parentPort } = require('node:worker_threads');\nconst WORKER = ${JSON.stringify(WORKER)};\n${script}\n`);
  const client = new EngineClient({ workerPath: file, logger });
  return {
    client,
    remove: async () => {
      await client.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('EngineClient: a segmentation cancelled too late to stop', () => {
  // The real bundle, deaf to cancel messages: it finishes every segmentation, as the real
  // one does when the cancel arrives after its last stop (during the model's run, say).
  const { client, remove } = wrappedWorkerClient(
    'deaf',
    `const on = parentPort.on.bind(parentPort);
parentPort.on = (event, listener) => on(event, event === 'message' ? (m) => { if (m.type !== 'cancel') listener(m); } : listener);
require(WORKER);`,
  );
  after(remove);

  test('rejects at once; the result the worker still sends goes to onLateResult, and only there', async () => {
    const controller = new AbortController();
    let late: (r: SegmentationResult) => void = () => {};
    const lateResult = new Promise<SegmentationResult>((resolve) => (late = resolve));
    const asked = client.segment(request(smallPng, { signal: controller.signal, onPhase: (p) => p === 'segmenting' && controller.abort(), onLateResult: late }));
    await assert.rejects(asked, CancelledError);
    assert.equal((await lateResult).masks.length, 2);

    // Without onLateResult the late answer is dropped, and the next request is answered as usual.
    const again = new AbortController();
    await assert.rejects(client.segment(request(smallPng, { signal: again.signal, onPhase: (p) => p === 'segmenting' && again.abort() })), CancelledError);
    assert.equal((await client.segment(request(smallPng))).masks.length, 2);
  });
});

describe('EngineClient when the worker dies', () => {
  // The real bundle, plus a listener that throws (an uncaught exception in the
  // worker, as a bug would) when it sees a probe named "crash-now".
  const warnings: string[] = [];
  const { client, remove } = wrappedWorkerClient(
    'crashing',
    `require(WORKER);
parentPort.on('message', (m) => { if (m.type === 'probe' && m.name === 'crash-now') throw new Error('simulated crash'); });`,
    { info: () => {}, warn: (m: string) => void warnings.push(m) },
  );
  after(remove);

  test('pending requests fail with EngineCrashedError and the next request restarts the worker', async () => {
    await client.segment(request(smallPng));
    assert.ok(client.loadedModel);
    const changes: unknown[] = [];
    const sub = client.onDidChangeModel((m) => changes.push(m));

    const pending = client.segment(request(largePng));
    const crash = client.probeImage(bytes(smallPng), 'crash-now');
    for (const p of [crash, pending]) {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof EngineCrashedError, String(e));
        assert.match(e.message, /stopped unexpectedly \(simulated crash\)/);
        return true;
      });
    }
    assert.equal(client.loadedModel, undefined);
    assert.deepEqual(changes, [undefined]);
    assert.ok(warnings.some((w) => w.includes('simulated crash')));

    const phases: WorkerPhase[] = [];
    const result = await client.segment(request(smallPng, { onPhase: (p) => phases.push(p) }));
    assert.deepEqual(phases, ['loading-model', 'segmenting'], 'a new worker loads the model again');
    assert.equal(result.masks.length, 2);
    sub.dispose();
  });

  test('after dispose, requests are refused', async () => {
    await client.dispose();
    assert.equal(client.running, false);
    await assert.rejects(client.probeImage(bytes(smallPng), 'late.png'), CancelledError);
  });
});

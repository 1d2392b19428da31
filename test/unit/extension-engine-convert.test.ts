/**
 * Checkpoint conversion in the engine worker (dist/engine-worker.js), as the
 * extension runs it: the resolveModel job with its progress, a .pt model path
 * converted before it loads (reported as 'converting'), the fallback folder for
 * a read-only checkpoint folder, and cancellation. `npm test` builds the worker
 * before the unit tests; alone, run `npm run build` first.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CancelledError } from '../../src/core/errors';
import { fallbackConvertedModelPath } from '../../src/core/models/model-paths';
import { type ConversionNotice, EngineClient, type WorkerPhase } from '../../src/extension/engine-client';
import { makeReadOnly, undoReadOnly } from '../helpers/read-only-folder';
import { encodeScene } from '../helpers/shapes';

const WORKER = path.resolve(__dirname, '../../dist/engine-worker.js');
const CHECKPOINT = path.resolve(__dirname, '../../models/fixtures/checkpoints/tiny-s.pt');
const quiet = { info: () => {}, warn: () => {} };

/** A fresh copy of the tiny FastSAM-s-layout checkpoint in a folder of its own. */
function checkpoint(name = 'FastSAM-tiny.pt'): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fastsam-worker-convert-')), name);
  copyFileSync(CHECKPOINT, file);
  return file;
}

describe('checkpoint conversion in the engine worker', () => {
  let client: EngineClient;
  before(() => {
    assert.ok(existsSync(WORKER), `${WORKER} is missing: run \`npm run build\` first (npm test does)`);
    client = new EngineClient({ workerPath: WORKER, logger: quiet });
  });
  after(() => client.dispose());

  test('resolveModel converts once next to the checkpoint, reporting progress; then reuses it', async () => {
    const file = checkpoint();
    const notices: ConversionNotice[] = [];
    const first = await client.resolveModel({ path: file, onConverting: (n) => notices.push(n) });
    assert.deepEqual(first, { path: `${file}.onnx`, converted: true });
    assert.ok(statSync(first.path).size > 100_000);
    assert.ok(notices.length >= 3, `${notices.length} progress notices`);
    assert.ok(notices.every((n) => n.checkpoint === 'FastSAM-tiny.pt'));
    const fractions = notices.map((n) => n.fraction);
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b), 'progress only grows');
    assert.equal(fractions.at(-1), 1);

    notices.length = 0;
    assert.deepEqual(await client.resolveModel({ path: file, onConverting: (n) => notices.push(n) }), { path: `${file}.onnx`, converted: false });
    assert.deepEqual(notices, []);
    // An ONNX path is answered as it is.
    assert.deepEqual(await client.resolveModel({ path: first.path }), { path: first.path, converted: false });
  });

  test('a .pt model path is converted before it loads: converting notices, then it segments; the model is announced under the .pt path', async () => {
    const file = checkpoint('FastSAM-s.pt');
    const phases: WorkerPhase[] = [];
    const notices: ConversionNotice[] = [];
    const stat = statSync(file);
    const png = await encodeScene({ width: 200, height: 150, background: [255, 255, 255], shapes: [{ kind: 'rect', color: [200, 30, 30], x: 20, y: 20, w: 80, h: 60 }] }, 'png');
    const result = await client.segment({
      model: { path: file, executionProvider: 'cpu', mtimeMs: stat.mtimeMs, size: stat.size },
      image: new Uint8Array(png),
      name: 'scene.png',
      imageSize: 640,
      confidence: 0.4,
      iou: 0.9,
      maxDetections: 100,
      onPhase: (p) => phases.push(p),
      onConverting: (n) => notices.push(n),
    });
    assert.deepEqual(phases, ['loading-model', 'segmenting']);
    assert.ok(notices.length > 0 && notices.every((n) => n.checkpoint === 'FastSAM-s.pt'));
    assert.deepEqual([result.width, result.height, result.imageSize], [200, 150, 640]);
    assert.deepEqual(client.loadedModel, { path: file, executionProvider: 'cpu' });
    assert.ok(existsSync(`${file}.onnx`));
  });

  test('a checkpoint in a read-only folder is converted into the conversion folder', async (t) => {
    const file = checkpoint();
    const folder = path.dirname(file);
    if (!makeReadOnly(folder)) return t.skip('this machine cannot make a read-only folder');
    try {
      const conversions = path.join(mkdtempSync(path.join(tmpdir(), 'fastsam-conversions-')), 'conversions');
      const resolved = await client.resolveModel({ path: file, conversionFolder: conversions });
      assert.deepEqual(resolved, { path: fallbackConvertedModelPath(file, conversions), converted: true });
      assert.deepEqual(readdirSync(folder), ['FastSAM-tiny.pt']);
    } finally {
      undoReadOnly(folder);
    }
  });

  test('cancelling stops the conversion: CancelledError, and no ONNX file is written', async () => {
    const file = checkpoint();
    const controller = new AbortController();
    await assert.rejects(
      client.resolveModel({ path: file, signal: controller.signal, onConverting: () => controller.abort() }),
      (e: unknown) => e instanceof CancelledError,
    );
    // Jobs run in order: once a later one is answered, the cancelled one has stopped.
    await client.resolveModel({ path: checkpoint() });
    assert.deepEqual(readdirSync(path.dirname(file)), ['FastSAM-tiny.pt']);
  });
});

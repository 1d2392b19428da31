import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { SegmentationResult, SegmentedMask } from '../../src/core/engine';
import { cacheKey, type CacheKeyParts, ResultCache, resultBytes } from '../../src/extension/result-cache';

const parts: CacheKeyParts = {
  contentHash: 'a'.repeat(64),
  modelPath: '/models/FastSAM-s.onnx',
  modelMtimeMs: 1_700_000_000_000,
  modelSize: 47_000_000,
  executionProvider: 'auto',
  imageSize: 1024,
  confidence: 0.4,
  iou: 0.9,
  maxDetections: 300,
};

/** A result whose masks hold `words` 32-bit words each. */
function result(maskWords: number[]): SegmentationResult {
  const masks: SegmentedMask[] = maskWords.map((words, id) => ({
    id,
    score: 0.9,
    box: [0, 0, 32, words],
    mask: { imageWidth: 100, imageHeight: 100, left: 0, top: 0, width: 32, height: words, bits: new Uint32Array(words), area: 0 },
  }));
  return { width: 100, height: 100, imageSize: 1024, masks, timings: { decode: 0, preprocess: 0, inference: 0, postprocess: 0 } };
}

const image = (n: number): CacheKeyParts => ({ ...parts, contentHash: n.toString(16).padStart(64, '0') });

describe('cacheKey', () => {
  test('equal parts give equal keys', () => {
    assert.equal(cacheKey({ ...parts }), cacheKey(parts));
  });

  test('every part changes the key', () => {
    const changed: Partial<CacheKeyParts>[] = [
      { contentHash: 'b'.repeat(64) },
      { modelPath: '/models/FastSAM-x.onnx' },
      { modelMtimeMs: parts.modelMtimeMs + 1 },
      { modelSize: parts.modelSize + 1 },
      { executionProvider: 'cpu' },
      { imageSize: 640 },
      { confidence: 0.5 },
      { iou: 0.7 },
      { maxDetections: 100 },
    ];
    const keys = new Set([cacheKey(parts), ...changed.map((c) => cacheKey({ ...parts, ...c }))]);
    assert.equal(keys.size, changed.length + 1);
  });

  test('separators inside a path cannot make two keys collide', () => {
    const a = cacheKey({ ...parts, contentHash: 'x', modelPath: 'y|1' });
    const b = cacheKey({ ...parts, contentHash: 'x|y', modelPath: '1' });
    assert.notEqual(a, b);
  });
});

describe('ResultCache', () => {
  test('returns what was stored, for the same parts only', () => {
    const cache = new ResultCache(1 << 20);
    const r = result([4, 4]);
    assert.equal(cache.set(parts, r), true);
    assert.equal(cache.get({ ...parts }), r);
    assert.equal(cache.get({ ...parts, confidence: 0.5 }), undefined);
    assert.equal(cache.size, 1);
    assert.equal(cache.totalBytes, resultBytes(r));
  });

  test('counts the masks’ bits plus a fixed overhead per mask', () => {
    assert.equal(resultBytes(result([10, 20])) - resultBytes(result([0, 0])), 30 * 4);
    assert.ok(resultBytes(result([0])) > 0);
  });

  test('evicts the least recently used entries until the new one fits', () => {
    const one = resultBytes(result([100]));
    const cache = new ResultCache(3 * one);
    for (const n of [1, 2, 3]) cache.set(image(n), result([100]));
    cache.get(image(1)); // 2 is now the least recently used
    cache.set(image(4), result([100]));
    assert.deepEqual([1, 2, 3, 4].map((n) => cache.get(image(n)) !== undefined), [true, false, true, true]);
    assert.equal(cache.totalBytes, 3 * one);

    // A result twice as large pushes out the two least recently used (1 and 3 were read before 4).
    cache.set(image(5), result([200 + 32]));
    assert.deepEqual([1, 3, 4, 5].map((n) => cache.get(image(n)) !== undefined), [false, false, true, true]);
    assert.ok(cache.totalBytes <= cache.maxBytes);
  });

  test('a result larger than the whole budget is not stored and evicts nothing', () => {
    const cache = new ResultCache(resultBytes(result([100])));
    cache.set(image(1), result([100]));
    assert.equal(cache.set(image(2), result([1000])), false);
    assert.equal(cache.size, 1);
    assert.ok(cache.get(image(1)));
  });

  test('storing under an existing key replaces the entry and its byte count', () => {
    const cache = new ResultCache(1 << 20);
    cache.set(parts, result([100]));
    const replacement = result([10]);
    cache.set(parts, replacement);
    assert.equal(cache.size, 1);
    assert.equal(cache.totalBytes, resultBytes(replacement));
    assert.equal(cache.get(parts), replacement);
  });

  test('deleteContent drops every entry of one image, whatever the parameters', () => {
    const cache = new ResultCache(1 << 20);
    cache.set(image(1), result([1]));
    cache.set({ ...image(1), imageSize: 640 }, result([1]));
    cache.set(image(2), result([1]));
    assert.equal(cache.deleteContent(image(1).contentHash), 2);
    assert.equal(cache.size, 1);
    assert.ok(cache.get(image(2)));
    assert.equal(cache.totalBytes, resultBytes(result([1])));
    assert.equal(cache.deleteContent('unknown'), 0);
  });

  test('rejects a negative budget', () => {
    assert.throws(() => new ResultCache(-1), RangeError);
  });
});

describe('ResultCache: segmentations in flight', () => {
  test('a run is found by its key until it settles, resolved or rejected; a newer run of the key is not dropped by the older', async () => {
    const cache = new ResultCache();
    let resolveFirst!: (r: SegmentationResult) => void;
    const first = new Promise<SegmentationResult>((resolve) => (resolveFirst = resolve));
    cache.track(parts, first);
    assert.equal(cache.inFlight(parts), first);
    assert.equal(cache.inFlight(image(2)), undefined, 'another image');
    resolveFirst(result([1]));
    await first;
    await Promise.resolve();
    assert.equal(cache.inFlight(parts), undefined);

    let rejectSecond!: (e: Error) => void;
    const second = new Promise<SegmentationResult>((_, reject) => (rejectSecond = reject));
    second.catch(() => undefined);
    cache.track(parts, second);
    const third = new Promise<SegmentationResult>(() => {});
    cache.track(parts, third);
    rejectSecond(new Error('cancelled'));
    await second.catch(() => undefined);
    await Promise.resolve();
    assert.equal(cache.inFlight(parts), third, 'the older run settling leaves the newer one');
  });
});

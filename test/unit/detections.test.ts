import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectionsInOrder, greedyNms } from '../../src/core/postprocess/detections';

/** The next `n` values of an iterator, pulling no more than those and leaving it open (for-of would close it). */
function take<T>(values: Iterable<T>, n: number): T[] {
  const it = values[Symbol.iterator]();
  const out: T[] = [];
  while (out.length < n) {
    const next = it.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

/** A head output [1, 4 + 1 + nm, A] from rows of [cx, cy, w, h, score, ...coefficients]. */
function head(rows: number[][], maskChannels: number): Float32Array {
  const channels = 5 + maskChannels;
  const a = rows.length;
  const out = new Float32Array(channels * a);
  rows.forEach((r, j) => {
    for (let c = 0; c < channels; c++) out[c * a + j] = r[c] ?? 0;
  });
  return out;
}

describe('greedyNms', () => {
  it('suppresses boxes overlapping a better one above the threshold only', () => {
    const boxes = Float32Array.from([
      0, 0, 10, 10, // kept
      0, 0, 10, 9.5, // IoU 0.95 with the first: suppressed at 0.9
      0, 0, 10, 8.5, // IoU 0.85: kept at 0.9
      20, 20, 30, 30, // disjoint: kept
    ]);
    assert.deepEqual([...greedyNms(boxes, 0.9)], [0, 2, 3]);
    assert.deepEqual([...greedyNms(boxes, 0.5)], [0, 3]);
  });

  it('decides a box only when asked for it', () => {
    const boxes = Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    const kept = greedyNms(boxes, 0.9);
    assert.deepEqual(take(kept, 2), [0, 1]);
    assert.deepEqual([...kept], [2], 'the rest, after the first two');
  });
});

describe('detectionsInOrder', () => {
  it('filters by confidence (strictly above), sorts by score, converts xywh to xyxy and keeps the anchor', () => {
    const h = head(
      [
        [50, 50, 20, 10, 0.5, 1],
        [10, 10, 4, 4, 0.4, 2], // exactly at the threshold: dropped, as in Ultralytics (score > conf)
        [80, 20, 10, 10, 0.9, 3],
        [50, 50, 20, 10, 0.45, 4], // duplicate of the first with a lower score: NMS removes it
      ],
      1,
    );
    const d = [...detectionsInOrder(h, 6, 4, 1, { confidence: 0.4, iou: 0.9 })];
    assert.deepEqual(d.map((x) => x.anchor), [2, 0]);
    assert.deepEqual(d[1]!.box, [40, 45, 60, 55]);
    assert.ok(Math.abs(d[0]!.score - 0.9) < 1e-6);
  });

  it('takes the best class score when there are several classes', () => {
    const a = 2, channels = 4 + 2 + 1;
    const out = new Float32Array(channels * a);
    // anchor 0: class scores 0.1 / 0.8; anchor 1: 0.3 / 0.2
    out.set([5, 50], 0 * a); out.set([5, 50], 1 * a); out.set([4, 4], 2 * a); out.set([4, 4], 3 * a);
    out.set([0.1, 0.3], 4 * a); out.set([0.8, 0.2], 5 * a);
    const d = [...detectionsInOrder(out, channels, a, 1, { confidence: 0.25, iou: 0.9 })];
    assert.deepEqual(d.map((x) => [x.anchor, Math.round(x.score * 10)]), [[0, 8], [1, 3]]);
  });

  it('taken a few at a time, gives the detections of the whole order', () => {
    let seed = 5;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    // Overlapping boxes and tied scores: suppression and the anchor-order tie-break both matter.
    const rows = Array.from({ length: 60 }, () => [rand() * 100, rand() * 100, 5 + rand() * 40, 5 + rand() * 40, rand() < 0.3 ? 1 : rand(), rand()]);
    const h = head(rows, 1);
    const all = [...detectionsInOrder(h, 6, rows.length, 1, { confidence: 0.1, iou: 0.5 })];
    assert.ok(all.length > 10 && all.length < rows.length, `${all.length} of ${rows.length} kept`);
    for (const n of [0, 1, 7, all.length, all.length + 5]) {
      assert.deepEqual(take(detectionsInOrder(h, 6, rows.length, 1, { confidence: 0.1, iou: 0.5 }), n), all.slice(0, n), `first ${n}`);
    }
    // In batches from one iterator, as the engine takes them.
    const it = detectionsInOrder(h, 6, rows.length, 1, { confidence: 0.1, iou: 0.5 });
    assert.deepEqual([...take(it, 4), ...take(it, 3), ...it], all);
  });

  it('rejects a head without room for a class', () => {
    assert.throws(() => [...detectionsInOrder(new Float32Array(36), 36, 1, 32, { confidence: 0.4, iou: 0.9 })], /channels/);
  });
});

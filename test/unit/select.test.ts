import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PromptError } from '../../src/core/errors';
import { fromFullMask } from '../../src/core/masks/box-mask';
import { maskAtPoint, type SelectableMask, selectEverything, selectionOrder, selectMasks } from '../../src/core/prompts/select';

const W = 100, H = 80;
function rect(x1: number, y1: number, x2: number, y2: number, score = 0.9): SelectableMask {
  const full = new Uint8Array(W * H);
  for (let y = y1; y < y2; y++) full.fill(1, y * W + x1, y * W + x2);
  return { mask: fromFullMask(full, W, H), score };
}

// A table (large) holding a cup (small) with a handle (smaller, inside the cup), and a lamp elsewhere.
const table = rect(0, 40, 100, 80, 0.95);
const cup = rect(30, 20, 50, 60, 0.9);
const handle = rect(50, 30, 56, 40, 0.8);
const lamp = rect(70, 0, 90, 30, 0.85);
const cupAndHandle = rect(30, 20, 56, 60, 0.7);
const masks = [table, cup, handle, lamp, cupAndHandle];

describe('selectMasks with points', () => {
  it('a click inside a small object that a larger mask also covers selects the small one first', () => {
    const picks = selectMasks(masks, { points: [{ x: 40, y: 50, label: 1 }] }, W, H);
    assert.equal(picks.length, 1);
    assert.equal(picks[0]![0], 1, 'the cup, not the table under it');
    // Alternatives: the larger masks that also hold the point, smallest first.
    assert.deepEqual(picks[0], [1, 4, 0]);
  });

  it('several foreground points select the smallest mask holding all of them', () => {
    const picks = selectMasks(masks, { points: [{ x: 40, y: 25, label: 1 }, { x: 53, y: 35, label: 1 }] }, W, H);
    assert.equal(picks[0]![0], 4, 'cup with handle');
  });

  it('a background point excludes every mask that contains it', () => {
    const picks = selectMasks(masks, { points: [{ x: 40, y: 50, label: 1 }, { x: 10, y: 70, label: 0 }] }, W, H);
    assert.deepEqual(picks[0], [1, 4], 'the table holds the background point');
    const noCup = selectMasks(masks, { points: [{ x: 40, y: 50, label: 1 }, { x: 35, y: 25, label: 0 }] }, W, H);
    assert.deepEqual(noCup[0], [0]);
  });

  it('falls back to masks holding part of the points when none holds all', () => {
    const picks = selectMasks(masks, { points: [{ x: 40, y: 25, label: 1 }, { x: 80, y: 10, label: 1 }] }, W, H);
    assert.deepEqual(new Set(picks[0]), new Set([1, 3, 4]));
  });

  it('skips near-duplicate alternatives', () => {
    const twin = rect(30, 20, 50, 59, 0.6);
    const picks = selectMasks([cup, twin, table], { points: [{ x: 40, y: 50, label: 1 }] }, W, H);
    assert.deepEqual(picks[0], [1, 2], 'the cup and its near-twin are one object');
    // Asked again, and with the pair the other way round (the comparison is remembered per pair).
    assert.deepEqual(selectMasks([cup, twin, table], { points: [{ x: 40, y: 50, label: 1 }] }, W, H), picks);
    assert.deepEqual(selectMasks([twin, cup, table], { points: [{ x: 40, y: 50, label: 1 }] }, W, H)[0], [0, 2]);
    // A mask of the same area that is not the cup's twin stays an alternative.
    const elsewhere = rect(0, 0, 20, 40, 0.5);
    assert.equal(elsewhere.mask.area, cup.mask.area);
    assert.deepEqual(selectMasks([cup, elsewhere], { boxes: [[0, 0, 80, 80]] }, W, H)[0]!.length, 2);
  });

  it('maskAtPoint (the hover highlight) is the first choice of a single click', () => {
    for (const [x, y] of [[40, 50], [53, 35], [80, 10], [10, 70], [5, 5]] as const) {
      const best = selectMasks(masks, { points: [{ x, y, label: 1 }] }, W, H)[0]![0] ?? -1;
      assert.equal(maskAtPoint(masks, x, y), best, `at ${x},${y}`);
    }
    assert.equal(maskAtPoint(masks, 5, 5), -1);
  });

  it('a click on nothing selects nothing', () => {
    assert.deepEqual(selectMasks([cup, lamp], { points: [{ x: 5, y: 5, label: 1 }] }, W, H), [[]]);
  });

  it('rejects points outside the image and background-only prompts', () => {
    assert.throws(() => selectMasks(masks, { points: [{ x: 100, y: 5, label: 1 }] }, W, H), PromptError);
    assert.throws(() => selectMasks(masks, { points: [{ x: -1, y: 5, label: 1 }] }, W, H), /outside the image/);
    assert.throws(() => selectMasks(masks, { points: [{ x: 5, y: 5, label: 0 }] }, W, H), /foreground/);
  });
});

describe('selectMasks with boxes', () => {
  it('selects the mask with the highest IoU with each box', () => {
    const picks = selectMasks(masks, { boxes: [[29, 19, 51, 61], [69, -5, 91, 31]] }, W, H);
    assert.equal(picks[0]![0], 1);
    assert.equal(picks[1]![0], 3);
  });

  it('clips boxes to the image; negative coordinates do not wrap around', () => {
    // A box from far outside the top-left corner to the lamp's corner covers only the image's part.
    const picks = selectMasks([rect(0, 0, 20, 20), rect(80, 60, 100, 80)], { boxes: [[-1000, -1000, 20, 20]] }, W, H);
    assert.deepEqual(picks[0], [0]);
  });

  it('accepts corners in any order', () => {
    assert.equal(selectMasks(masks, { boxes: [[91, 31, 69, -5]] }, W, H)[0]![0], 3);
  });

  it('rejects a box with no area inside the image', () => {
    assert.throws(() => selectMasks(masks, { boxes: [[200, 10, 300, 20]] }, W, H), /no area inside the image/);
  });

  it('combines a box with points: masks honouring the points win', () => {
    // The box fits the table best, but the foreground point inside it is on the cup.
    const withPoint = selectMasks(masks, { boxes: [[0, 20, 100, 80]], points: [{ x: 40, y: 25, label: 1 }] }, W, H);
    assert.equal(withPoint[0]![0], 4, 'cup with handle: highest IoU among masks holding the point');
    const boxOnly = selectMasks(masks, { boxes: [[0, 20, 100, 80]] }, W, H);
    assert.equal(boxOnly[0]![0], 0);
  });
});

describe('selectEverything and selectionOrder', () => {
  it('lists every mask, largest first', () => {
    assert.deepEqual(selectEverything(masks).map((p) => p[0]), [0, 4, 1, 3, 2]);
  });

  it('orders the selection first, then the alternatives, each once', () => {
    assert.deepEqual(selectionOrder([[1, 4, 0], [3, 0]]), [
      { index: 1, selected: true },
      { index: 3, selected: true },
      { index: 4, selected: false },
      { index: 0, selected: false },
    ]);
  });
});

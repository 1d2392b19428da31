import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromFullMask } from '../../src/core/masks/box-mask';
import type { WireMask } from '../../src/shared/protocol';
import { commandForKey, type KeyContext } from '../../src/webview/keyboard';
import { imageKey, parsePersisted } from '../../src/webview/persisted-state';
import { EMPTY_SELECTION, SelectionState, TEXT_ALTERNATIVES } from '../../src/webview/selection-state';

const W = 100;
const H = 80;

/** A wire mask from a predicate over the image, as the host would send it. */
function wire(id: number, score: number, inside: (x: number, y: number) => boolean): WireMask {
  const full = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) full[y * W + x] = inside(x, y) ? 1 : 0;
  const m = fromFullMask(full, W, H);
  return { id, score, box: [m.left, m.top, m.left + m.width, m.top + m.height], area: m.area, left: m.left, top: m.top, width: m.width, height: m.height, bits: m.bits };
}

const inRect = (x: number, y: number, x1: number, y1: number, x2: number, y2: number) => x >= x1 && x < x2 && y >= y1 && y < y2;
const cupBody = (x: number, y: number) => inRect(x, y, 30, 20, 45, 50);
const handle = (x: number, y: number) => inRect(x, y, 45, 28, 52, 42);
const table = (x: number, y: number) => inRect(x, y, 10, 50, 90, 70);
const ball = (x: number, y: number) => (x - 75) ** 2 + (y - 25) ** 2 <= 64;

/**
 * A small scene with nested masks, ids in descending score (id = index, as the host sends):
 * 0 table, 1 cup body, 2 cup with handle, 3 table with the cup on it, 4 ball.
 */
const TABLE = 0, CUP = 1, CUP_HANDLE = 2, TABLE_CUP = 3, BALL = 4;
const MASKS: WireMask[] = [
  wire(TABLE, 0.97, table),
  wire(CUP, 0.95, cupBody),
  wire(CUP_HANDLE, 0.9, (x, y) => cupBody(x, y) || handle(x, y)),
  wire(TABLE_CUP, 0.85, (x, y) => table(x, y) || cupBody(x, y) || handle(x, y)),
  wire(BALL, 0.8, ball),
];

function state(): SelectionState {
  const s = new SelectionState();
  s.setMasks(MASKS, W, H);
  return s;
}

describe('webview selection: hit-testing', () => {
  it('finds the smallest mask under a point, or -1', () => {
    const s = state();
    assert.equal(s.maskAt(35.5, 30.5), CUP, 'cup body is inside three masks; the smallest wins');
    assert.equal(s.maskAt(48.5, 35.5), CUP_HANDLE, 'the handle is only in the larger cup mask and the group');
    assert.equal(s.maskAt(20.5, 60.5), TABLE);
    assert.equal(s.maskAt(75, 25), BALL);
    assert.equal(s.maskAt(5, 5), -1);
    assert.equal(s.maskAt(-1, 10), -1);
    assert.equal(s.maskAt(W + 3, 10), -1);
  });

  it('uses the host ids, not the list positions', () => {
    const s = new SelectionState();
    s.setMasks(MASKS.map((m) => ({ ...m, id: m.id + 100 })), W, H);
    assert.equal(s.maskAt(75, 25), BALL + 100);
    assert.equal(s.mask(BALL + 100)?.area, MASKS[BALL]!.area);
  });

  it('has no masks (and hits nothing) until they arrive', () => {
    const s = new SelectionState();
    s.setImageSize(W, H);
    assert.equal(s.hasMasks, false);
    assert.equal(s.maskAt(75, 25), -1);
  });
});

describe('webview selection: clicking', () => {
  it('a plain click adds the mask; clicking it again changes nothing', () => {
    const s = state();
    assert.equal(s.click(s.maskAt(75, 25), false), true);
    assert.deepEqual(s.selectedIds, [BALL]);
    assert.equal(s.click(BALL, false), false);
    assert.equal(s.canUndo, true);
    s.undo();
    assert.equal(s.canUndo, false, 'the no-op click left no history entry');
  });

  it('adds clicked masks in order, and Shift-click toggles', () => {
    const s = state();
    s.click(BALL, false);
    s.click(TABLE, false);
    assert.deepEqual(s.selected, [
      { id: BALL, source: 'click' },
      { id: TABLE, source: 'click' },
    ]);
    assert.equal(s.click(BALL, true), true);
    assert.deepEqual(s.selectedIds, [TABLE]);
    assert.equal(s.click(BALL, true), true);
    assert.deepEqual(s.selectedIds, [TABLE, BALL]);
  });

  it('a click on no mask selects nothing', () => {
    const s = state();
    assert.equal(s.click(s.maskAt(2, 2), false), false);
    assert.equal(s.click(-1, true), false);
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.addMask(999), false, 'unknown ids are refused');
  });
});

describe('webview selection: point and box prompts', () => {
  it('a foreground point selects the smallest mask, with larger ones as alternatives', () => {
    const s = state();
    assert.equal(s.addPoint({ x: 35.5, y: 30.5, label: 1 }), true);
    assert.deepEqual(s.selected, [{ id: CUP, source: 'points' }]);
    const pick = s.activePick!;
    assert.equal(pick.source, 'points');
    assert.deepEqual(pick.candidates, [CUP, CUP_HANDLE, TABLE_CUP]);
    assert.equal(pick.choice, 0);
  });

  it('steps through alternatives with wrap-around, both ways', () => {
    const s = state();
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    assert.equal(s.stepAlternative(1), true);
    assert.deepEqual(s.selectedIds, [CUP_HANDLE]);
    s.stepAlternative(1);
    assert.deepEqual(s.selectedIds, [TABLE_CUP]);
    s.stepAlternative(1);
    assert.deepEqual(s.selectedIds, [CUP], 'past the last alternative comes the first');
    s.stepAlternative(-1);
    assert.deepEqual(s.selectedIds, [TABLE_CUP], 'before the first comes the last');
    assert.equal(s.activePick!.choice, 2);
    assert.equal(s.chooseAlternative(1), true);
    assert.deepEqual(s.selectedIds, [CUP_HANDLE]);
    assert.equal(s.chooseAlternative(7), false);
  });

  it('a new point resets the choice to the best candidate', () => {
    const s = state();
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    s.stepAlternative(1);
    s.addPoint({ x: 48.5, y: 35.5, label: 1 });
    // Cup body and handle together: the cup-with-handle mask is the smallest holding both.
    assert.deepEqual(s.selectedIds, [CUP_HANDLE]);
    assert.equal(s.activePick!.choice, 0);
  });

  it('a background point rules out every mask that contains it', () => {
    const s = state();
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    s.addPoint({ x: 48.5, y: 35.5, label: 0 });
    assert.deepEqual(s.activePick!.candidates, [CUP]);
    assert.equal(s.stepAlternative(1), false, 'a single candidate has nothing to step to');
  });

  it('background points alone select nothing (and do not throw)', () => {
    const s = state();
    assert.equal(s.addPoint({ x: 5.5, y: 5.5, label: 0 }), true);
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.activePick, null);
  });

  it('ignores points outside the image', () => {
    const s = state();
    assert.equal(s.addPoint({ x: W, y: 10, label: 1 }), false);
    assert.equal(s.addPoint({ x: 10, y: -0.5, label: 1 }), false);
    assert.equal(s.canUndo, false);
  });

  it('a box selects the mask that matches it best; a new box replaces it', () => {
    const s = state();
    assert.equal(s.setBox([66, 16, 84, 34]), true);
    assert.deepEqual(s.selected, [{ id: BALL, source: 'box' }]);
    s.setBox([9, 49, 91, 71]);
    assert.deepEqual(s.selectedIds, [TABLE]);
    assert.deepEqual(s.box, [9, 49, 91, 71]);
  });

  it('a box drawn corner-first from bottom-right is normalised; a box with no area is ignored', () => {
    const s = state();
    assert.equal(s.setBox([84, 34, 66, 16]), true);
    assert.deepEqual(s.selectedIds, [BALL]);
    assert.equal(s.setBox([120, 10, 130, 20]), false, 'entirely outside the image');
    assert.equal(s.setBox([10, 10, 10, 30]), false, 'zero width');
  });

  it('a box with a point: the box pick, then the points pick; Tab steps the points', () => {
    const s = state();
    s.setBox([66, 16, 84, 34]);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    assert.deepEqual(s.selected, [
      { id: BALL, source: 'box' },
      { id: CUP, source: 'points' },
    ]);
    s.stepAlternative(1);
    assert.deepEqual(s.selectedIds, [BALL, CUP_HANDLE]);
  });

  it('clicked masks and prompt masks combine, each once', () => {
    const s = state();
    s.click(CUP, false);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    assert.deepEqual(s.selected, [{ id: CUP, source: 'click' }], 'the cup is listed once, as clicked');
    s.click(BALL, false);
    assert.deepEqual(s.selectedIds, [CUP, BALL]);
  });

  it('removing a prompt mask removes its prompt', () => {
    const s = state();
    s.setBox([66, 16, 84, 34]);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    assert.equal(s.removeMask(CUP), true);
    assert.deepEqual(s.points, []);
    assert.deepEqual(s.selectedIds, [BALL]);
    assert.equal(s.toggleMask(BALL), true);
    assert.equal(s.box, null);
    assert.deepEqual(s.selectedIds, []);
  });

  it('prompts given before the masks arrive are answered when they do', () => {
    const s = new SelectionState();
    s.setImageSize(W, H);
    s.addPoint({ x: 75.5, y: 25.5, label: 1 });
    assert.deepEqual(s.selectedIds, []);
    s.setMasks(MASKS, W, H);
    assert.deepEqual(s.selectedIds, [BALL]);
  });
});

describe('webview selection: undo, redo, clear', () => {
  it('undoes and redoes each change in order', () => {
    const s = state();
    s.click(BALL, false);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    s.stepAlternative(1);
    assert.deepEqual(s.selectedIds, [BALL, CUP_HANDLE]);
    s.undo();
    assert.deepEqual(s.selectedIds, [BALL, CUP]);
    s.undo();
    assert.deepEqual(s.selectedIds, [BALL]);
    assert.deepEqual(s.points, []);
    s.undo();
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.undo(), false);
    s.redo();
    s.redo();
    assert.deepEqual(s.selectedIds, [BALL, CUP]);
    s.redo();
    assert.deepEqual(s.selectedIds, [BALL, CUP_HANDLE]);
    assert.equal(s.redo(), false);
  });

  it('a new change after undo clears the redo stack', () => {
    const s = state();
    s.click(BALL, false);
    s.click(TABLE, false);
    s.undo();
    assert.equal(s.canRedo, true);
    s.click(CUP, false);
    assert.equal(s.canRedo, false);
    assert.equal(s.redo(), false);
    assert.deepEqual(s.selectedIds, [BALL, CUP]);
  });

  it('clear drops points, box and selection, and is undoable', () => {
    const s = state();
    s.click(TABLE, false);
    s.setBox([66, 16, 84, 34]);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    assert.equal(s.clear(), true);
    assert.deepEqual(s.snapshot, EMPTY_SELECTION);
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.clear(), false, 'clearing nothing is not a change');
    s.undo();
    assert.deepEqual(s.selectedIds, [TABLE, BALL, CUP]);
    assert.equal(s.points.length, 1);
  });

  it('keeps at most the history limit', () => {
    const s = new SelectionState(3);
    s.setMasks(MASKS, W, H);
    for (const id of [TABLE, CUP, CUP_HANDLE, TABLE_CUP, BALL]) s.click(id, false);
    let undos = 0;
    while (s.undo()) undos++;
    assert.equal(undos, 3);
    assert.deepEqual(s.selectedIds, [TABLE, CUP]);
  });

  it('reset (a new image) drops selection and history', () => {
    const s = state();
    s.click(BALL, false);
    s.reset();
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.canUndo, false);
    assert.equal(s.hasMasks, false);
  });
});

describe('webview selection: persistence', () => {
  it('survives a save and restore, history included, with masks re-sent afterwards', () => {
    const s = state();
    s.click(TABLE, false);
    s.addPoint({ x: 35.5, y: 30.5, label: 1 });
    s.stepAlternative(1);
    s.undo();
    const saved = JSON.parse(JSON.stringify(s.save()));

    const t = new SelectionState();
    t.setImageSize(W, H);
    t.restore(saved);
    t.setMasks(MASKS, W, H);
    assert.deepEqual(t.selectedIds, [TABLE, CUP]);
    assert.equal(t.canRedo, true);
    t.redo();
    assert.deepEqual(t.selectedIds, [TABLE, CUP_HANDLE]);
  });

  it('ignores malformed saved selections', () => {
    const s = state();
    s.click(BALL, false);
    for (const bad of [null, 42, { current: { clicked: 'x' } }, { current: { clicked: [], points: [{ x: 1, y: 2, label: 5 }] } }]) {
      s.restore(bad);
      assert.deepEqual(s.selectedIds, [BALL]);
    }
  });

  it('parses saved editor state, rejecting other versions and repairing bad fields', () => {
    assert.equal(parsePersisted(undefined), null);
    assert.equal(parsePersisted({ version: 99, imageKey: 'a' }), null);
    const p = parsePersisted({ version: 1, imageKey: 'k', tool: 'lasso', view: { zoom: -1, panX: 0, panY: 0 }, opacity: 3, outline: false, hidden: [1, 'x', 2.5, 4] });
    assert.ok(p);
    assert.equal(p.tool, 'everything');
    assert.equal(p.view, null);
    assert.equal(p.opacity, 0.55);
    assert.equal(p.outline, false);
    assert.deepEqual(p.hidden, [1, 4]);
    assert.notEqual(imageKey({ fileName: 'a.png', width: 10, height: 20 }), imageKey({ fileName: 'a.png', width: 20, height: 10 }));
  });
});

describe('webview keyboard shortcuts', () => {
  const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) => ({
    key: k,
    ctrlKey: false,
    metaKey: false,
    shiftKey: false,
    altKey: false,
    ...mods,
  });
  const ctx: KeyContext = { typing: false, stageFocused: true, hasAlternatives: true };

  it('maps tools, zoom, clear, undo and redo', () => {
    assert.deepEqual(commandForKey(key('e'), ctx), { type: 'tool', tool: 'everything' });
    assert.deepEqual(commandForKey(key('P', { shiftKey: true }), ctx), null, 'Shift+P is not the point tool');
    assert.deepEqual(commandForKey(key('P'), ctx), { type: 'tool', tool: 'point' }, 'Caps Lock does not matter');
    assert.deepEqual(commandForKey(key('p'), ctx), { type: 'tool', tool: 'point' });
    assert.deepEqual(commandForKey(key('b'), ctx), { type: 'tool', tool: 'box' });
    assert.deepEqual(commandForKey(key('+', { shiftKey: true }), ctx), { type: 'zoomIn' });
    assert.deepEqual(commandForKey(key('='), ctx), { type: 'zoomIn' });
    assert.deepEqual(commandForKey(key('-'), ctx), { type: 'zoomOut' });
    assert.deepEqual(commandForKey(key('0'), ctx), { type: 'fit' });
    assert.deepEqual(commandForKey(key('1'), ctx), { type: 'actualSize' });
    assert.deepEqual(commandForKey(key('Escape'), ctx), { type: 'clear' });
    assert.deepEqual(commandForKey(key('z', { ctrlKey: true }), ctx), { type: 'undo' });
    assert.deepEqual(commandForKey(key('z', { metaKey: true }), ctx), { type: 'undo' });
    assert.deepEqual(commandForKey(key('Z', { ctrlKey: true, shiftKey: true }), ctx), { type: 'redo' });
    assert.deepEqual(commandForKey(key('y', { ctrlKey: true }), ctx), { type: 'redo' });
    assert.equal(commandForKey(key('e', { ctrlKey: true }), ctx), null, 'Ctrl+E belongs to VS Code');
  });

  it('Tab steps alternatives only on the stage and only when there are some', () => {
    assert.deepEqual(commandForKey(key('Tab'), ctx), { type: 'alternative', delta: 1 });
    assert.deepEqual(commandForKey(key('Tab', { shiftKey: true }), ctx), { type: 'alternative', delta: -1 });
    assert.equal(commandForKey(key('Tab'), { ...ctx, stageFocused: false }), null);
    assert.equal(commandForKey(key('Tab'), { ...ctx, hasAlternatives: false }), null);
  });

  it('arrow keys pan on the stage (Shift: farther) and are left to other controls', () => {
    assert.deepEqual(commandForKey(key('ArrowRight'), ctx), { type: 'pan', dx: -1, dy: 0 });
    assert.deepEqual(commandForKey(key('ArrowUp', { shiftKey: true }), ctx), { type: 'pan', dx: 0, dy: 4 });
    assert.equal(commandForKey(key('ArrowLeft'), { ...ctx, stageFocused: false }), null, 'the slider keeps its arrows');
  });

  it('leaves keys to text fields', () => {
    const typing = { ...ctx, typing: true };
    assert.equal(commandForKey(key('e'), typing), null);
    assert.equal(commandForKey(key('z', { ctrlKey: true }), typing), null);
  });
});

describe('webview selection: text queries', () => {
  const RANKED = [
    { id: CUP_HANDLE, score: 0.7 },
    { id: CUP, score: 0.2 },
    { id: BALL, score: 0.06 },
    { id: TABLE, score: 0.04 },
  ];

  it('selects the best match as the active pick, with the ranking as alternatives and their scores', () => {
    const s = state();
    assert.equal(s.click(BALL, false), true);
    assert.equal(s.setText('the cup', RANKED), true);
    assert.deepEqual(s.selected, [
      { id: BALL, source: 'click' },
      { id: CUP_HANDLE, source: 'text' },
    ]);
    assert.deepEqual(s.activePick, { source: 'text', candidates: [CUP_HANDLE, CUP, BALL, TABLE], choice: 0 });
    assert.equal(s.textScore(CUP), 0.2);
    assert.equal(s.textQuery, 'the cup');
    assert.equal(s.stepAlternative(1), true);
    assert.deepEqual(s.selectedIds, [BALL, CUP]);
    assert.equal(s.stepAlternative(-2), true, 'wraps around');
    assert.deepEqual(s.selectedIds, [BALL, TABLE]);
  });

  it('is one undoable change; the same answer again is none', () => {
    const s = state();
    s.setText('the cup', RANKED);
    s.stepAlternative(1);
    assert.equal(s.setText('the cup', RANKED), true, 'back to the best match');
    assert.equal(s.setText('the cup', RANKED), false);
    s.undo();
    assert.deepEqual(s.selectedIds, [CUP]);
    s.undo();
    assert.deepEqual(s.selectedIds, [CUP_HANDLE]);
    s.undo();
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.activePick, null);
  });

  it('keeps the points, which stay selected, and is the pick Tab steps', () => {
    const s = state();
    s.addPoint({ x: 75.5, y: 25.5, label: 1 });
    s.setText('the cup', RANKED);
    assert.deepEqual(s.selectedIds, [BALL, CUP_HANDLE]);
    assert.equal(s.activePick?.source, 'text');
    s.stepAlternative(1);
    assert.deepEqual(s.selectedIds, [BALL, CUP], 'the points keep their choice');
  });

  it('removing its mask drops the text pick; ids the masks lack are ignored; at most TEXT_ALTERNATIVES kept', () => {
    const s = state();
    assert.equal(s.setText('nothing', [{ id: 99, score: 1 }]), false, 'no known mask: no change');
    s.setText('the cup', RANKED);
    assert.equal(s.removeMask(CUP_HANDLE), true);
    assert.deepEqual(s.selectedIds, []);
    assert.equal(s.textQuery, null);
    const many = Array.from({ length: 30 }, (_, i) => ({ id: i % 5, score: 1 / 30 }));
    s.setText('many', many);
    assert.equal(s.activePick?.candidates.length, TEXT_ALTERNATIVES);
  });

  it('is saved and restored with the history; a malformed text pick is dropped', () => {
    const s = state();
    s.setText('the cup', RANKED);
    s.stepAlternative(1);
    const restored = state();
    restored.restore(JSON.parse(JSON.stringify(s.save())));
    assert.deepEqual(restored.selectedIds, [CUP]);
    assert.equal(restored.textScore(CUP), 0.2);
    restored.undo();
    assert.deepEqual(restored.selectedIds, [CUP_HANDLE]);
    const bad = state();
    bad.restore({ current: { ...EMPTY_SELECTION, text: { query: 'x', ids: [CUP], scores: [] } }, past: [], future: [] });
    assert.equal(bad.textQuery, null);
  });

  it('T goes to the text field, except while typing', () => {
    const key = { key: 't', ctrlKey: false, metaKey: false, shiftKey: false, altKey: false };
    const ctx: KeyContext = { typing: false, stageFocused: true, hasAlternatives: false };
    assert.deepEqual(commandForKey(key, ctx), { type: 'focusText' });
    assert.deepEqual(commandForKey({ ...key, key: 'T' }, { ...ctx, stageFocused: false }), { type: 'focusText' }, 'Caps Lock does not matter');
    assert.equal(commandForKey(key, { ...ctx, typing: true }), null);
  });
});

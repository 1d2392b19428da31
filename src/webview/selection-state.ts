/**
 * What the user has selected and how: pure state, no DOM, unit-tested under node.
 *
 * The selection has two sources. Masks chosen by clicking (Everything mode, or
 * Shift-click in any mode) are listed by id. The Point and Box tools instead keep
 * their prompt — points and one box — and the selection follows from it through
 * `selectMasks` (src/core/prompts/select.ts), so adding a background point or
 * redrawing the box recomputes it. Each prompt pick offers ranked alternatives;
 * `choices` says which one the user stepped to.
 *
 * Every change is a snapshot; undo and redo move between snapshots. Snapshots
 * hold only ids and prompts, never mask data, so they are small enough to persist
 * with the webview's state.
 */
import type { BoxMask } from '../core/masks/box-mask';
import { type BoxPrompt, clipBox, maskAtPoint, type Pick, type PointPrompt, type SelectableMask, selectMasks } from '../core/prompts/select';
import type { WireMask } from '../shared/protocol';

export interface SelectionSnapshot {
  /** Masks chosen by clicking, in the order chosen. */
  readonly clicked: readonly number[];
  readonly points: readonly PointPrompt[];
  readonly box: BoxPrompt | null;
  /** The last text query's answer (absent in states saved before text prompts). */
  readonly text?: TextPick | null;
  /** For each pick of the prompt, the chosen candidate (0 = best); the text's comes after the points' and the box's. */
  readonly choices: readonly number[];
}

/**
 * A text query's ranking as the host sent it, cut to TEXT_ALTERNATIVES: CLIP's
 * softmax leaves the rest with scores near 0, and snapshots are persisted with
 * the undo history, so they stay a few numbers each.
 */
export interface TextPick {
  readonly query: string;
  /** Mask ids, best first. */
  readonly ids: readonly number[];
  /** The text score of each id. */
  readonly scores: readonly number[];
}

export const TEXT_ALTERNATIVES = 10;

export type SelectionSource = 'click' | 'points' | 'box' | 'text';

export interface SelectedMask {
  readonly id: number;
  readonly source: SelectionSource;
}

/** One pick of the current prompt, in mask ids. */
export interface PromptPick {
  readonly source: 'points' | 'box' | 'text';
  /** Candidate mask ids, best first; empty when no mask fits the prompt. */
  readonly candidates: readonly number[];
  /** Index into `candidates` of the chosen one. */
  readonly choice: number;
}

export interface SavedSelection {
  readonly current: SelectionSnapshot;
  readonly past: readonly SelectionSnapshot[];
  readonly future: readonly SelectionSnapshot[];
}

export const EMPTY_SELECTION: SelectionSnapshot = Object.freeze({ clicked: [], points: [], box: null, text: null, choices: [] });

/** Undo depth; each entry is a few ids, so this is about memory of the user, not of the machine. */
export const HISTORY_LIMIT = 100;

/** The engine's view of a wire mask: same fields plus the image size (bits are shared, not copied). */
export function toBoxMask(m: WireMask, imageWidth: number, imageHeight: number): BoxMask {
  return { imageWidth, imageHeight, left: m.left, top: m.top, width: m.width, height: m.height, bits: m.bits, area: m.area };
}

export class SelectionState {
  private wire: readonly WireMask[] = [];
  private selectable: SelectableMask[] = [];
  /** Mask id → index into `selectable` (ids are indices today; this keeps that an implementation detail of the host). */
  private indexById = new Map<number, number>();
  private width = 0;
  private height = 0;

  private current: SelectionSnapshot = EMPTY_SELECTION;
  private past: SelectionSnapshot[] = [];
  private future: SelectionSnapshot[] = [];
  /** selectMasks result for `current`'s prompt; invalidated when the prompt or the masks change. */
  private picksMemo: { prompt: SelectionSnapshot; picks: Pick[] } | null = null;

  constructor(private readonly historyLimit = HISTORY_LIMIT) {}

  // ---- masks ----------------------------------------------------------------

  /** New segmentation: the selection is kept (ids that no longer exist drop out when read). */
  setMasks(masks: readonly WireMask[], width: number, height: number): void {
    this.wire = masks;
    this.width = width;
    this.height = height;
    this.selectable = masks.map((m) => ({ mask: toBoxMask(m, width, height), score: m.score }));
    this.indexById = new Map(masks.map((m, i) => [m.id, i]));
    this.picksMemo = null;
  }

  /** Image size before masks exist, so that prompts can be validated. */
  setImageSize(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.picksMemo = null;
  }

  /** A different image: masks, selection and history all go. */
  reset(): void {
    this.setMasks([], this.width, this.height);
    this.current = EMPTY_SELECTION;
    this.past = [];
    this.future = [];
  }

  get hasMasks(): boolean {
    return this.wire.length > 0;
  }

  get masks(): readonly WireMask[] {
    return this.wire;
  }

  mask(id: number): WireMask | undefined {
    const i = this.indexById.get(id);
    return i === undefined ? undefined : this.wire[i];
  }

  /** The mask a click at image point (x, y) selects, or -1: O(masks) bit lookups, no allocation. */
  maskAt(x: number, y: number): number {
    const i = maskAtPoint(this.selectable, x, y);
    return i < 0 ? -1 : this.wire[i]!.id;
  }

  // ---- derived selection ----------------------------------------------------

  get snapshot(): SelectionSnapshot {
    return this.current;
  }

  get points(): readonly PointPrompt[] {
    return this.current.points;
  }

  get box(): BoxPrompt | null {
    return this.current.box;
  }

  /** The current prompt's picks, in mask ids; empty until masks exist. */
  get picks(): PromptPick[] {
    const raw = this.rawPicks();
    const sources = pickSources(this.current, raw.length);
    const picks: PromptPick[] = raw.map((pick, i) => ({
      source: sources[i]!,
      candidates: pick.map((index) => this.selectable.length > index ? this.wire[index]!.id : -1).filter((id) => id >= 0),
      choice: Math.min(this.current.choices[i] ?? 0, Math.max(0, pick.length - 1)),
    }));
    const text = this.current.text;
    if (text && this.selectable.length > 0) {
      // Ids of another segmentation (the image changed since) drop out, as clicked ones do.
      const candidates = text.ids.filter((id) => this.indexById.has(id));
      picks.push({ source: 'text', candidates, choice: Math.min(this.current.choices[raw.length] ?? 0, Math.max(0, candidates.length - 1)) });
    }
    return picks;
  }

  /** The text score of mask `id` in the current text pick, if it is ranked there. */
  textScore(id: number): number | undefined {
    const text = this.current.text;
    const i = text ? text.ids.indexOf(id) : -1;
    return i < 0 ? undefined : text!.scores[i];
  }

  get textQuery(): string | null {
    return this.current.text?.query ?? null;
  }

  /** The pick that Tab steps through: the text's when there is one, else the points', else the box's. */
  get activePick(): PromptPick | null {
    const picks = this.picks;
    return picks.length > 0 ? picks[picks.length - 1]! : null;
  }

  get activePickIndex(): number {
    return this.picks.length - 1;
  }

  /** Everything selected, each id once: clicked masks first, then the prompt's chosen candidates. */
  get selected(): SelectedMask[] {
    const out: SelectedMask[] = [];
    const seen = new Set<number>();
    for (const id of this.current.clicked) {
      if (this.indexById.has(id) && !seen.has(id)) {
        seen.add(id);
        out.push({ id, source: 'click' });
      }
    }
    for (const pick of this.picks) {
      const id = pick.candidates[pick.choice];
      if (id !== undefined && !seen.has(id)) {
        seen.add(id);
        out.push({ id, source: pick.source });
      }
    }
    return out;
  }

  get selectedIds(): number[] {
    return this.selected.map((s) => s.id);
  }

  isSelected(id: number): boolean {
    return this.selected.some((s) => s.id === id);
  }

  private rawPicks(): Pick[] {
    const prompt = this.current;
    if (this.picksMemo && samePrompt(this.picksMemo.prompt, prompt)) return this.picksMemo.picks;
    let picks: Pick[] = [];
    const hasForeground = prompt.points.some((p) => p.label === 1);
    // selectMasks treats an empty prompt as "everything" and rejects background-only
    // points; neither is a selection here, so both give no picks.
    if (this.selectable.length > 0 && (hasForeground || prompt.box)) {
      picks = selectMasks(this.selectable, { points: prompt.points, boxes: prompt.box ? [prompt.box] : [] }, this.width, this.height);
    }
    this.picksMemo = { prompt, picks };
    return picks;
  }

  // ---- changes (each one undoable; no-ops leave history alone) ---------------

  /** Adds a mask by id (a plain click in Everything mode). */
  addMask(id: number): boolean {
    if (!this.indexById.has(id) || this.isSelected(id)) return false;
    return this.commit({ ...this.current, clicked: [...this.current.clicked, id] });
  }

  /**
   * Removes a mask from the selection. A mask that comes from a prompt takes its
   * prompt with it (the points, or the box), since the prompt would select it again.
   */
  removeMask(id: number): boolean {
    const s = this.selected.find((m) => m.id === id);
    if (!s) return false;
    let next: SelectionSnapshot = { ...this.current, clicked: this.current.clicked.filter((c) => c !== id) };
    for (const pick of this.picks) {
      if (pick.candidates[pick.choice] !== id) continue;
      if (pick.source === 'points') next = { ...next, points: next.points.filter((p) => !isLoosePoint(p, this.current.box, this.width, this.height)), choices: [] };
      else if (pick.source === 'text') next = { ...next, text: null, choices: [] };
      else next = { ...next, box: null, choices: [] };
    }
    return this.commit(next);
  }

  /** Shift-click: in the selection → out, and the other way round. */
  toggleMask(id: number): boolean {
    return this.isSelected(id) ? this.removeMask(id) : this.addMask(id);
  }

  /** A plain or Shift-click on mask `id` (-1: no mask under the cursor). */
  click(id: number, toggle: boolean): boolean {
    if (id < 0) return false;
    return toggle ? this.toggleMask(id) : this.addMask(id);
  }

  /** A point prompt; points outside the image are ignored (the engine would reject them). */
  addPoint(point: PointPrompt): boolean {
    if (!(point.x >= 0 && point.y >= 0 && point.x < this.width && point.y < this.height)) return false;
    return this.commit({ ...this.current, points: [...this.current.points, { x: point.x, y: point.y, label: point.label }], choices: [] });
  }

  /** The box prompt (there is one at most; a new box replaces it). Boxes with no area in the image are ignored. */
  setBox(box: BoxPrompt): boolean {
    const r = clipBox(box, this.width, this.height);
    if (r[2] <= r[0] || r[3] <= r[1]) return false;
    return this.commit({ ...this.current, box: r, choices: [] });
  }

  /**
   * A text query's answer (`ranked`: mask ids best first, with their scores)
   * becomes the active pick, its best mask selected: one undoable change, like a
   * click. It replaces an earlier text pick; points and box stay.
   */
  setText(query: string, ranked: readonly { id: number; score: number }[]): boolean {
    const kept = ranked.filter((r) => this.indexById.has(r.id)).slice(0, TEXT_ALTERNATIVES);
    if (kept.length === 0) return false;
    const text: TextPick = { query, ids: kept.map((r) => r.id), scores: kept.map((r) => r.score) };
    return this.commit({ ...this.current, text, choices: [] });
  }

  /** Steps the active pick's choice by `delta`, wrapping around. */
  stepAlternative(delta: number): boolean {
    const active = this.activePick;
    if (!active || active.candidates.length < 2) return false;
    const n = active.candidates.length;
    return this.chooseAlternative((((active.choice + delta) % n) + n) % n);
  }

  chooseAlternative(index: number): boolean {
    const active = this.activePick;
    if (!active || index < 0 || index >= active.candidates.length || index === active.choice) return false;
    const choices = this.picks.map((p) => p.choice);
    choices[this.activePickIndex] = index;
    return this.commit({ ...this.current, choices });
  }

  /** Escape: points, box and selection all go (undoable). */
  clear(): boolean {
    return this.commit(EMPTY_SELECTION);
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  undo(): boolean {
    const prev = this.past.pop();
    if (!prev) return false;
    this.future.push(this.current);
    this.current = prev;
    return true;
  }

  redo(): boolean {
    const next = this.future.pop();
    if (!next) return false;
    this.past.push(this.current);
    this.current = next;
    return true;
  }

  private commit(next: SelectionSnapshot): boolean {
    if (sameSnapshot(next, this.current)) return false;
    this.past.push(this.current);
    if (this.past.length > this.historyLimit) this.past.splice(0, this.past.length - this.historyLimit);
    // A new change makes the undone states unreachable, as in every editor.
    this.future = [];
    this.current = next;
    return true;
  }

  // ---- persistence -------------------------------------------------------------

  save(): SavedSelection {
    return { current: this.current, past: [...this.past], future: [...this.future] };
  }

  /** Restores saved state; anything malformed is dropped rather than trusted. */
  restore(saved: unknown): void {
    if (typeof saved !== 'object' || saved === null) return;
    const s = saved as Record<string, unknown>;
    const current = parseSnapshot(s.current);
    if (!current) return;
    const list = (v: unknown) => (Array.isArray(v) ? v.map(parseSnapshot).filter((x): x is SelectionSnapshot => x !== null) : []);
    this.current = current;
    this.past = list(s.past).slice(-this.historyLimit);
    this.future = list(s.future).slice(-this.historyLimit);
    this.picksMemo = null;
  }
}

function isLoosePoint(p: PointPrompt, box: BoxPrompt | null, width: number, height: number): boolean {
  if (p.label !== 1) return true;
  if (!box) return true;
  const b = clipBox(box, width, height);
  return !(p.x >= b[0] && p.x < b[2] && p.y >= b[1] && p.y < b[3]);
}

/** selectMasks returns the box's pick first, then one for loose foreground points. */
function pickSources(prompt: SelectionSnapshot, count: number): ('points' | 'box')[] {
  const sources: ('points' | 'box')[] = [];
  if (prompt.box) sources.push('box');
  while (sources.length < count) sources.push('points');
  return sources;
}

function sameText(a: TextPick | null | undefined, b: TextPick | null | undefined): boolean {
  if (!a || !b) return !a === !b;
  return a.query === b.query && sameNumbers(a.ids, b.ids) && sameNumbers(a.scores, b.scores);
}

function samePrompt(a: SelectionSnapshot, b: SelectionSnapshot): boolean {
  return a === b || (samePoints(a.points, b.points) && sameBox(a.box, b.box));
}

function samePoints(a: readonly PointPrompt[], b: readonly PointPrompt[]): boolean {
  return a.length === b.length && a.every((p, i) => p.x === b[i]!.x && p.y === b[i]!.y && p.label === b[i]!.label);
}

function sameBox(a: BoxPrompt | null, b: BoxPrompt | null): boolean {
  return a === b || (a !== null && b !== null && a.every((v, i) => v === b[i]));
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameSnapshot(a: SelectionSnapshot, b: SelectionSnapshot): boolean {
  // Choices of 0 and "no choice recorded" mean the same thing.
  const choices = (s: SelectionSnapshot) => (s.choices.some((c) => c !== 0) ? s.choices : []);
  return samePrompt(a, b) && sameText(a.text, b.text) && sameNumbers(a.clicked, b.clicked) && sameNumbers(choices(a), choices(b));
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseSnapshot(v: unknown): SelectionSnapshot | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.clicked) || !o.clicked.every(isNum)) return null;
  if (!Array.isArray(o.points)) return null;
  const points: PointPrompt[] = [];
  for (const p of o.points as unknown[]) {
    const q = p as Record<string, unknown> | null;
    if (!q || !isNum(q.x) || !isNum(q.y) || (q.label !== 0 && q.label !== 1)) return null;
    points.push({ x: q.x, y: q.y, label: q.label });
  }
  let box: BoxPrompt | null = null;
  if (o.box !== null && o.box !== undefined) {
    if (!Array.isArray(o.box) || o.box.length !== 4 || !o.box.every(isNum)) return null;
    box = [o.box[0], o.box[1], o.box[2], o.box[3]] as BoxPrompt;
  }
  const choices = Array.isArray(o.choices) && o.choices.every((c) => isNum(c) && c >= 0) ? (o.choices as number[]) : [];
  return { clicked: [...(o.clicked as number[])], points, box, text: parseText(o.text), choices };
}

function parseText(v: unknown): TextPick | null {
  if (typeof v !== 'object' || v === null) return null;
  const t = v as Record<string, unknown>;
  if (typeof t.query !== 'string' || !Array.isArray(t.ids) || !Array.isArray(t.scores) || t.ids.length !== t.scores.length) return null;
  if (!t.ids.every(isNum) || !t.scores.every(isNum)) return null;
  return { query: t.query, ids: (t.ids as number[]).slice(0, TEXT_ALTERNATIVES), scores: (t.scores as number[]).slice(0, TEXT_ALTERNATIVES) };
}

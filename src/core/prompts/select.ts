/**
 * Stage 2 of FastSAM: choosing masks from the "everything" result with prompts.
 * Pure functions over the masks; no inference, so every prompt is instant.
 *
 * Points differ from the reference on purpose. FastSAM's `point_prompt` unions
 * every mask that contains a foreground point, so a click on a cup also selects
 * the table under it. Here the answer is the smallest mask that contains all
 * foreground points and no background point, with up to two ranked alternatives
 * (larger masks that also fit, then masks that fit only part of the points), as
 * SAM's multi-mask output offers whole / part / sub-part.
 */
import { type BoxMask, countInRect, maskContainsPoint, maskIoU } from '../masks/box-mask';
import { PromptError } from '../errors';

export interface PointPrompt {
  x: number;
  y: number;
  /** 1 = foreground (the object), 0 = background (not the object). */
  label: 0 | 1;
}

/** [x1, y1, x2, y2] in image pixels. */
export type BoxPrompt = [number, number, number, number];

export interface Prompt {
  points?: readonly PointPrompt[];
  boxes?: readonly BoxPrompt[];
}

export interface SelectableMask {
  mask: BoxMask;
  score: number;
}

/**
 * One selected object: candidate mask indices, best first. Everything mode has one
 * pick per mask; a point prompt one pick; a box prompt one pick per box.
 */
export type Pick = number[];

/** Alternatives offered besides the best mask of a pick. */
export const MAX_ALTERNATIVES = 2;
/** Two candidates overlapping more than this are the same object; only the first is offered. */
const DUPLICATE_IOU = 0.9;

export function isEmptyPrompt(prompt: Prompt): boolean {
  return !prompt.points?.length && !prompt.boxes?.length;
}

/** Every mask, largest first (ties: higher score first). */
export function selectEverything(masks: readonly SelectableMask[]): Pick[] {
  return masks
    .map((_, i) => i)
    .sort((a, b) => masks[b]!.mask.area - masks[a]!.mask.area || masks[b]!.score - masks[a]!.score || a - b)
    .map((i) => [i]);
}

export function validatePrompt(prompt: Prompt, width: number, height: number): void {
  for (const p of prompt.points ?? []) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y) || p.x < 0 || p.y < 0 || p.x >= width || p.y >= height) {
      throw new PromptError(`Point (${p.x}, ${p.y}) is outside the image (${width}×${height}); points must satisfy 0 <= x < ${width} and 0 <= y < ${height}`);
    }
    if (p.label !== 0 && p.label !== 1) throw new PromptError(`Point label must be 1 (foreground) or 0 (background), got ${String(p.label)}`);
  }
  for (const b of prompt.boxes ?? []) {
    if (!b.every(Number.isFinite)) throw new PromptError(`Box [${b.join(', ')}] has a coordinate that is not a number`);
    const r = clipBox(b, width, height);
    if (r[2] <= r[0] || r[3] <= r[1]) {
      throw new PromptError(`Box [${b.join(', ')}] has no area inside the image (${width}×${height})`);
    }
  }
  const points = prompt.points ?? [];
  if (points.length > 0 && !points.some((p) => p.label === 1) && !(prompt.boxes?.length)) {
    throw new PromptError('A point prompt needs at least one foreground point (label 1)');
  }
}

/** A box as whole-pixel bounds [x1, y1, x2, y2) inside the image; corners may come in any order. */
export function clipBox(box: BoxPrompt, width: number, height: number): [number, number, number, number] {
  const clamp = (v: number, hi: number) => Math.min(Math.max(Math.round(v), 0), hi);
  return [
    clamp(Math.min(box[0], box[2]), width),
    clamp(Math.min(box[1], box[3]), height),
    clamp(Math.max(box[0], box[2]), width),
    clamp(Math.max(box[1], box[3]), height),
  ];
}

/**
 * The picks for a prompt: everything when the prompt is empty; otherwise one pick
 * per box (constrained by the points inside it) and one for the foreground points
 * that lie in no box.
 */
export function selectMasks(masks: readonly SelectableMask[], prompt: Prompt, width: number, height: number): Pick[] {
  if (isEmptyPrompt(prompt)) return selectEverything(masks);
  validatePrompt(prompt, width, height);
  const points = prompt.points ?? [];
  const background = points.filter((p) => p.label === 0);
  const boxes = (prompt.boxes ?? []).map((b) => clipBox(b, width, height));
  const inBox = (p: PointPrompt, b: readonly number[]) => p.x >= b[0]! && p.x < b[2]! && p.y >= b[1]! && p.y < b[3]!;

  const picks: Pick[] = boxes.map((box) => pickForBox(masks, box, points.filter((p) => p.label === 1 && inBox(p, box)), background));
  const looseForeground = points.filter((p) => p.label === 1 && !boxes.some((b) => inBox(p, b)));
  if (looseForeground.length > 0) picks.push(pickForPoints(masks, looseForeground, background));
  return picks;
}

function contains(m: SelectableMask, p: PointPrompt): boolean {
  return maskContainsPoint(m.mask, p.x, p.y);
}

/**
 * Whether two masks are duplicates, per pair of masks: prompts on one result keep
 * comparing the same large masks, and one comparison reads every word they share.
 */
const duplicates = new WeakMap<BoxMask, WeakMap<BoxMask, boolean>>();

/**
 * IoU can exceed the threshold only if the smaller area is at least that fraction of
 * the larger, so most pairs are told apart by their areas without touching pixels;
 * the others are compared once.
 */
function isDuplicate(a: BoxMask, b: BoxMask): boolean {
  if (Math.min(a.area, b.area) <= DUPLICATE_IOU * Math.max(a.area, b.area)) return false;
  const known = duplicates.get(a)?.get(b);
  if (known !== undefined) return known;
  const duplicate = maskIoU(a, b) > DUPLICATE_IOU;
  for (const [x, y] of [[a, b], [b, a]] as const) {
    let row = duplicates.get(x);
    if (!row) duplicates.set(x, (row = new WeakMap()));
    row.set(y, duplicate);
  }
  return duplicate;
}

/** Best first; skips candidates that duplicate one already taken; at most 1 + MAX_ALTERNATIVES. */
function takeDistinct(masks: readonly SelectableMask[], ordered: readonly number[], into: number[] = []): number[] {
  for (const i of ordered) {
    if (into.length > MAX_ALTERNATIVES) break;
    if (into.includes(i)) continue;
    if (into.some((j) => isDuplicate(masks[i]!.mask, masks[j]!.mask))) continue;
    into.push(i);
  }
  return into;
}

/**
 * The mask a single click at (x, y) selects: the smallest mask containing the
 * point (ties: higher score). The editor highlights it under the cursor; it is
 * always the first choice of `pickForPoints` for that one point.
 */
export function maskAtPoint(masks: readonly SelectableMask[], x: number, y: number): number {
  let best = -1;
  for (let i = 0; i < masks.length; i++) {
    const m = masks[i]!;
    if (!maskContainsPoint(m.mask, x, y)) continue;
    if (best < 0) best = i;
    else {
      const b = masks[best]!;
      if (m.mask.area < b.mask.area || (m.mask.area === b.mask.area && m.score > b.score)) best = i;
    }
  }
  return best;
}

export function pickForPoints(masks: readonly SelectableMask[], foreground: readonly PointPrompt[], background: readonly PointPrompt[]): Pick {
  const stats = masks.map((m, i) => ({
    i,
    fg: foreground.filter((p) => contains(m, p)).length,
    clean: !background.some((p) => contains(m, p)),
    area: m.mask.area,
    score: m.score,
  }));
  const bySmallest = (a: (typeof stats)[0], b: (typeof stats)[0]) => a.area - b.area || b.score - a.score || a.i - b.i;
  const full = stats.filter((s) => s.clean && s.fg === foreground.length).sort(bySmallest);
  // Masks that hold some of the foreground points: the parts of a multi-point object.
  const partial = stats
    .filter((s) => s.clean && s.fg > 0 && s.fg < foreground.length)
    .sort((a, b) => b.fg - a.fg || bySmallest(a, b));
  return takeDistinct(masks, [...full, ...partial].map((s) => s.i));
}

function pickForBox(
  masks: readonly SelectableMask[],
  box: readonly [number, number, number, number],
  foreground: readonly PointPrompt[],
  background: readonly PointPrompt[],
): Pick {
  const [x1, y1, x2, y2] = box;
  const boxArea = (x2 - x1) * (y2 - y1);
  const ranked = masks
    .map((m, i) => {
      const { left, top, width, height } = m.mask;
      const overlaps = left < x2 && left + width > x1 && top < y2 && top + height > y1;
      const inter = overlaps ? countInRect(m.mask, x1, y1, x2, y2) : 0;
      const iou = inter / (boxArea + m.mask.area - inter);
      const holdsForeground = foreground.every((p) => contains(m, p));
      const clean = !background.some((p) => contains(m, p));
      return { i, iou, holdsForeground, clean };
    })
    .filter((r) => r.iou > 0 && r.clean)
    // Masks holding the foreground points inside the box come first; then highest IoU with the box.
    .sort((a, b) => Number(b.holdsForeground) - Number(a.holdsForeground) || b.iou - a.iou || a.i - b.i);
  return takeDistinct(masks, ranked.map((r) => r.i));
}

/**
 * The order in which outputs list a selection: each pick's best mask, then the
 * alternatives (each mask once).
 */
export function selectionOrder(picks: readonly Pick[]): { index: number; selected: boolean }[] {
  const out: { index: number; selected: boolean }[] = [];
  const seen = new Set<number>();
  for (const pick of picks) {
    if (pick.length > 0 && !seen.has(pick[0]!)) {
      seen.add(pick[0]!);
      out.push({ index: pick[0]!, selected: true });
    }
  }
  for (const pick of picks) {
    for (const i of pick.slice(1)) {
      if (!seen.has(i)) {
        seen.add(i);
        out.push({ index: i, selected: false });
      }
    }
  }
  return out;
}

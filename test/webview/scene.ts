/**
 * Generated test images with their masks, for the webview harness: a still life
 * of simple shapes (with nested masks, so prompts have alternatives) and a
 * 12-megapixel stress scene with 200 masks. Image and masks come from the same
 * geometry, so every mask matches what is drawn. Runs in the browser (bundled
 * into the fake host) and needs nothing but typed arrays.
 */
import { allocateBits, countBits, wordsPerRow } from '../../src/core/masks/box-mask';
import type { WireMask } from '../../src/shared/protocol';

export interface SceneMask {
  name: string;
  score: number;
  /** Tight-enough box to scan: [x1, y1, x2, y2) in image pixels. */
  bounds: [number, number, number, number];
  inside(x: number, y: number): boolean;
}

export interface Scene {
  width: number;
  height: number;
  /** Straight RGBA pixels. */
  rgba: Uint8ClampedArray;
  /** Ids in descending score, as the host sends them; `id` is the index. */
  masks: WireMask[];
  /** Mask id by shape name. */
  ids: Record<string, number>;
  /** A point well inside each named shape, for the harness to hover and click. */
  probes: Record<string, [number, number]>;
}

/** Builds a WireMask by scanning a predicate inside `bounds`, then trimming to the set pixels. */
export function maskFromPredicate(id: number, score: number, bounds: [number, number, number, number], inside: (x: number, y: number) => boolean): WireMask {
  let [x1, y1, x2, y2] = bounds;
  let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1;
  for (let y = y1; y < y2; y++) {
    for (let x = x1; x < x2; x++) {
      if (!inside(x, y)) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return { id, score, box: [0, 0, 0, 0], area: 0, left: 0, top: 0, width: 0, height: 0, bits: new Uint32Array(0) };
  [x1, y1, x2, y2] = [minX, minY, maxX + 1, maxY + 1];
  const width = x2 - x1, height = y2 - y1;
  const bits = allocateBits(width, height);
  const wpr = wordsPerRow(width);
  for (let ly = 0; ly < height; ly++) {
    for (let lx = 0; lx < width; lx++) if (inside(x1 + lx, y1 + ly)) bits[ly * wpr + (lx >>> 5)] |= 1 << (lx & 31);
  }
  return { id, score, box: [x1, y1, x2, y2], area: countBits(bits), left: x1, top: y1, width, height, bits };
}

/** Sets bits [a, b) of row `ly` (mask-local columns). */
function setRun(bits: Uint32Array, wpr: number, ly: number, a: number, b: number): void {
  for (let x = a; x < b; ) {
    const w = x >>> 5;
    const bit = x & 31;
    const n = Math.min(32 - bit, b - x);
    const run = n === 32 ? 0xffffffff : ((1 << n) - 1) << bit;
    bits[ly * wpr + w] |= run;
    x += n;
  }
}

/** A mask from one horizontal span per row (exclusive end), for shapes such as ellipses; fast for huge masks. */
export function maskFromSpans(id: number, score: number, y1: number, y2: number, span: (y: number) => [number, number] | null): WireMask {
  const spans: [number, number, number][] = [];
  for (let y = y1; y < y2; y++) {
    const s = span(y);
    if (s && s[1] > s[0]) spans.push([y, s[0], s[1]]);
  }
  if (spans.length === 0) return { id, score, box: [0, 0, 0, 0], area: 0, left: 0, top: 0, width: 0, height: 0, bits: new Uint32Array(0) };
  const left = Math.min(...spans.map((s) => s[1]));
  const right = Math.max(...spans.map((s) => s[2]));
  const top = spans[0]![0];
  const height = spans[spans.length - 1]![0] - top + 1;
  const width = right - left;
  const bits = allocateBits(width, height);
  const wpr = wordsPerRow(width);
  let area = 0;
  for (const [y, a, b] of spans) {
    setRun(bits, wpr, y - top, a - left, b - left);
    area += b - a;
  }
  return { id, score, box: [left, top, left + width, top + height], area, left, top, width, height, bits };
}

function finish(width: number, height: number, rgba: Uint8ClampedArray, defs: SceneMask[], probes: Record<string, [number, number]>): Scene {
  const sorted = [...defs].sort((a, b) => b.score - a.score);
  const masks = sorted.map((d, i) => maskFromPredicate(i, d.score, d.bounds, d.inside));
  const ids: Record<string, number> = {};
  sorted.forEach((d, i) => (ids[d.name] = i));
  return { width, height, rgba, masks, ids, probes };
}

// ---- the still life ------------------------------------------------------------

const inRect = (x: number, y: number, x1: number, y1: number, x2: number, y2: number) => x >= x1 && x < x2 && y >= y1 && y < y2;
const inCircle = (x: number, y: number, cx: number, cy: number, r: number) => (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r;
const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number) => ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1;

export function shapesScene(): Scene {
  const width = 960, height = 640;
  const FLOOR = 470;
  const window_ = (x: number, y: number) => inRect(x, y, 620, 60, 880, 262);
  const sun = (x: number, y: number) => inCircle(x, y, 800, 122, 34);
  const tableTop = (x: number, y: number) => inRect(x, y, 120, 380, 840, 404);
  const legs = (x: number, y: number) => inRect(x, y, 150, 404, 176, 600) || inRect(x, y, 784, 404, 810, 600);
  const table = (x: number, y: number) => tableTop(x, y) || legs(x, y);
  const cupBody = (x: number, y: number) => inRect(x, y, 300, 292, 380, 372) || inEllipse(x, y, 340, 372, 40, 8);
  const handle = (x: number, y: number) => x >= 380 && inCircle(x, y, 382, 334, 27) && !inCircle(x, y, 382, 334, 15);
  const cup = (x: number, y: number) => cupBody(x, y) || handle(x, y);
  const book1 = (x: number, y: number) => inRect(x, y, 470, 354, 622, 380);
  const book2 = (x: number, y: number) => inRect(x, y, 486, 328, 606, 354);
  const books = (x: number, y: number) => book1(x, y) || book2(x, y);
  const pot = (x: number, y: number) => y >= 318 && y < 380 && Math.abs(x + 0.5 - 722) <= 40 - (y - 318) * 0.25;
  const leaves = (x: number, y: number) =>
    !pot(x, y) && (inEllipse(x, y, 722, 262, 46, 56) || inEllipse(x, y, 684, 290, 30, 22) || inEllipse(x, y, 762, 286, 30, 24));
  const plant = (x: number, y: number) => pot(x, y) || leaves(x, y);
  const ball = (x: number, y: number) => inCircle(x, y, 236, 540, 42);
  const onTable = (x: number, y: number) => table(x, y) || cup(x, y) || books(x, y) || plant(x, y);
  const floor = (x: number, y: number) => y >= FLOOR && !ball(x, y) && !legs(x, y);
  const wall = (x: number, y: number) => y < FLOOR && !window_(x, y) && !onTable(x, y);

  const defs: SceneMask[] = [
    { name: 'wall', score: 0.93, bounds: [0, 0, width, FLOOR], inside: wall },
    { name: 'floor', score: 0.91, bounds: [0, FLOOR, width, height], inside: floor },
    // Occluded parts belong to the object in front, as in a real segmentation.
    { name: 'window', score: 0.96, bounds: [620, 60, 880, 262], inside: (x, y) => window_(x, y) && !sun(x, y) && !plant(x, y) },
    { name: 'sun', score: 0.98, bounds: [760, 80, 840, 160], inside: sun },
    { name: 'table', score: 0.95, bounds: [120, 380, 840, 600], inside: table },
    { name: 'tableSet', score: 0.72, bounds: [120, 200, 840, 600], inside: onTable },
    { name: 'cupBody', score: 0.94, bounds: [290, 285, 390, 385], inside: cupBody },
    { name: 'cup', score: 0.9, bounds: [290, 285, 420, 385], inside: cup },
    { name: 'book1', score: 0.89, bounds: [470, 354, 622, 380], inside: book1 },
    { name: 'book2', score: 0.88, bounds: [486, 328, 606, 354], inside: book2 },
    { name: 'books', score: 0.8, bounds: [470, 328, 622, 380], inside: books },
    { name: 'pot', score: 0.87, bounds: [680, 318, 765, 380], inside: pot },
    { name: 'leaves', score: 0.86, bounds: [650, 200, 800, 320], inside: leaves },
    { name: 'plant', score: 0.84, bounds: [650, 200, 800, 380], inside: plant },
    { name: 'ball', score: 0.97, bounds: [190, 495, 280, 585], inside: ball },
  ];

  // Paint back to front with gentle shading, so the image looks like an image and not a mask.
  const rgba = new Uint8ClampedArray(width * height * 4);
  const put = (i: number, r: number, g: number, b: number) => {
    rgba[i] = r;
    rgba[i + 1] = g;
    rgba[i + 2] = b;
    rgba[i + 3] = 255;
  };
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0xffffffff - 0.5) * 6;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const n = noise();
      if (ball(x, y)) {
        const lit = 1 - Math.hypot(x - 222, y - 526) / 70;
        put(i, 200 + 55 * lit + n, 70 + 60 * lit + n, 60 + 40 * lit);
      } else if (y >= FLOOR && !legs(x, y)) {
        const stripe = Math.floor(x / 80) % 2 === 0 ? 0 : 8;
        put(i, 150 - (y - FLOOR) * 0.15 + stripe + n, 112 - (y - FLOOR) * 0.12 + stripe + n, 80 + n);
      } else if (cupBody(x, y) || handle(x, y)) {
        const lit = cupBody(x, y) ? 1 - Math.abs(x - 325) / 70 : 0.5;
        put(i, 60 + 120 * lit + n, 130 + 90 * lit + n, 190 + 50 * lit + n);
      } else if (book2(x, y)) {
        put(i, 214 + n, 170 + n, 60 + n);
      } else if (book1(x, y)) {
        put(i, 70 + n, 140 + n, 90 + n);
      } else if (pot(x, y)) {
        put(i, 178 - (y - 318) * 0.6 + n, 92 + n, 58 + n);
      } else if (leaves(x, y)) {
        const v = Math.sin(x * 0.21) * Math.cos(y * 0.17) * 18;
        put(i, 52 + v + n, 132 + v + n, 64 + n);
      } else if (table(x, y)) {
        const grain = Math.sin(x * 0.07 + Math.sin(y * 0.3) * 2) * 9;
        put(i, 120 + grain + (tableTop(x, y) ? 20 : 0) + n, 82 + grain + n, 52 + n);
      } else if (sun(x, y)) {
        put(i, 255, 214 + n, 90 + n);
      } else if (window_(x, y)) {
        const frame = x < 628 || x >= 872 || y < 68 || y >= 254 || Math.abs(x - 750) < 4 || Math.abs(y - 161) < 4;
        if (frame) put(i, 236 + n, 236 + n, 232 + n);
        else put(i, 120 + (y - 60) * 0.4 + n, 176 + (y - 60) * 0.2 + n, 232 + n);
      } else {
        put(i, 206 - y * 0.06 + n, 196 - y * 0.05 + n, 178 - y * 0.04 + n);
      }
    }
  }
  const probes: Record<string, [number, number]> = {
    cupBody: [330, 330],
    handle: [401, 334],
    ball: [236, 540],
    leaves: [722, 250],
    pot: [722, 350],
    book2: [545, 340],
    table: [460, 392],
    sun: [800, 122],
    wall: [100, 100],
  };
  return finish(width, height, rgba, defs, probes);
}

// ---- the stress scene --------------------------------------------------------------

/**
 * 4000 × 3000 with 200 masks: a background, then ellipses of every size, some
 * nested, as FastSAM produces for a busy photo. For timing hover and rendering,
 * not for looking at.
 */
export function stressScene(count = 200): Scene {
  const width = 4000, height = 3000;
  let seed = 12345;
  const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 0x100000000;
  const ellipses: { cx: number; cy: number; rx: number; ry: number; color: [number, number, number] }[] = [];
  for (let i = 1; i < count; i++) {
    // Sizes spread over two orders of magnitude: most masks are small, a few are huge.
    const r = 20 + Math.pow(rand(), 2.2) * 1300;
    ellipses.push({ cx: rand() * width, cy: rand() * height, rx: r * (0.6 + rand() * 0.8), ry: r * (0.6 + rand() * 0.8), color: [rand() * 255, rand() * 255, rand() * 255] });
  }
  /** The pixels of row y inside ellipse e (centres at +0.5), clipped to the image. */
  const span = (e: (typeof ellipses)[0], y: number): [number, number] | null => {
    const dy = (y + 0.5 - e.cy) / e.ry;
    if (dy * dy > 1) return null;
    const half = e.rx * Math.sqrt(1 - dy * dy);
    const a = Math.max(0, Math.ceil(e.cx - half - 0.5));
    const b = Math.min(width, Math.floor(e.cx + half - 0.5) + 1);
    return b > a ? [a, b] : null;
  };
  const rowsOf = (e: (typeof ellipses)[0]): [number, number] => [Math.max(0, Math.floor(e.cy - e.ry)), Math.min(height, Math.ceil(e.cy + e.ry))];

  const rgba = new Uint8ClampedArray(width * height * 4);
  const u32 = new Uint32Array(rgba.buffer);
  for (let y = 0; y < height; y++) {
    const g = 40 + (y / height) * 60;
    u32.fill((255 << 24) | ((g + 30) << 16) | (g << 8) | (g - 10), y * width, (y + 1) * width);
  }
  for (const e of ellipses) {
    const c = ((255 << 24) | (e.color[2] << 16) | (e.color[1] << 8) | e.color[0]) >>> 0;
    const [y1, y2] = rowsOf(e);
    for (let y = y1; y < y2; y++) {
      const s = span(e, y);
      if (s) u32.fill(c, y * width + s[0], y * width + s[1]);
    }
  }

  const defs: { name: string; score: number; build: (id: number) => WireMask }[] = [
    { name: 'background', score: 0.5, build: (id) => maskFromSpans(id, 0.5, 0, height, () => [0, width]) },
    ...ellipses.map((e, i) => {
      const score = 0.99 - i * 0.002;
      const [y1, y2] = rowsOf(e);
      return { name: `e${i + 1}`, score, build: (id: number) => maskFromSpans(id, score, y1, y2, (y) => span(e, y)) };
    }),
  ];
  defs.sort((a, b) => b.score - a.score);
  const ids: Record<string, number> = {};
  const masks = defs.map((d, i) => {
    ids[d.name] = i;
    return d.build(i);
  });
  const probes: Record<string, [number, number]> = {};
  ellipses.slice(0, 40).forEach((e, i) => (probes[`e${i + 1}`] = [Math.min(width - 1, Math.max(0, Math.floor(e.cx))), Math.min(height - 1, Math.max(0, Math.floor(e.cy)))]));
  return { width, height, rgba, masks, ids, probes };
}

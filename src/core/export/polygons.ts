/**
 * Polygons traced from masks, for the formats that store outlines (COCO
 * polygons, YOLO segmentation labels, LabelMe).
 *
 * Coordinates are continuous image coordinates: (0, 0) is the image's top-left
 * corner and pixel (i, j) covers [i, i + 1) × [j, j + 1). Outlines follow the
 * pixel edges between mask and non-mask pixels, with every corner of the
 * staircase cut at the midpoints of its edges (the 0.5 contour of marching
 * squares over the pixel centres) except the corners between two straight
 * runs, such as a rectangle's, which stay square. So every vertex lies on a
 * pixel edge; 45° staircases come out as straight slopes instead of steps that
 * simplification would cut into; and before simplification, filling the
 * polygons with the even-odd rule at pixel centres gives back the mask
 * exactly (no pixel centre lies on an outline).
 *
 * Mask pixels are 8-connected (as OpenCV's findContours, which Ultralytics
 * uses to make YOLO labels): two pixels touching at a corner belong to one
 * part, whose outline passes between them. Each part is one outer ring,
 * clockwise on screen (positive shoelace area with y pointing down), and its
 * holes, counter-clockwise.
 */
import { type BoxMask, forEachRun } from '../masks/box-mask';

/** x0, y0, x1, y1, … of a closed ring; the first point is not repeated at the end. */
export type Ring = number[];

/** One 8-connected piece of a mask: its outline and the outlines of its holes. */
export interface PolygonPart {
  outer: Ring;
  holes: Ring[];
}

/**
 * Ramer–Douglas–Peucker tolerance in pixels: no traced vertex is farther than
 * this from the simplified outline. 1 px removes the pixel staircase (whose
 * midpoints stray at most half a pixel from the true edge) while keeping
 * corners; 0 keeps every vertex of the exact outline.
 */
export const DEFAULT_POLYGON_TOLERANCE = 1;

export interface PolygonOptions {
  /** Simplification tolerance in pixels; default DEFAULT_POLYGON_TOLERANCE. */
  tolerance?: number;
}

// Directions of unit edges between vertices (pixel corners), as bits.
const E = 1;
const S = 2;
const W = 4;
const N = 8;
const DX: Record<number, number> = { [E]: 1, [S]: 0, [W]: -1, [N]: 0 };
const DY: Record<number, number> = { [E]: 0, [S]: 1, [W]: 0, [N]: -1 };
/** Left turn as seen on screen (y down): heading east, left is north. */
const LEFT: Record<number, number> = { [E]: N, [N]: W, [W]: S, [S]: E };
const DIRECTIONS = [E, S, W, N] as const;

/**
 * The parts of a mask, outer rings and holes, simplified at the tolerance.
 * Parts come in the order of their topmost-leftmost pixel, holes likewise.
 */
export function maskToPolygons(mask: BoxMask, options: PolygonOptions = {}): PolygonPart[] {
  const tolerance = options.tolerance ?? DEFAULT_POLYGON_TOLERANCE;
  if (!(tolerance >= 0) || !Number.isFinite(tolerance)) throw new RangeError(`Polygon tolerance must be a number of pixels >= 0, got ${tolerance}`);
  if (mask.area === 0) return [];
  const { width: w, height: h } = mask;

  // The mask's box with a one-pixel empty border, so neighbours never need bounds checks.
  const gw = w + 2;
  const grid = new Uint8Array(gw * (h + 2));
  const runs = new Runs(h);
  forEachRun(mask, (y, x1, x2) => {
    const ly = y - mask.top;
    grid.fill(1, (ly + 1) * gw + (x1 - mask.left) + 1, (ly + 1) * gw + (x2 - mask.left) + 1);
    runs.add(ly, x1 - mask.left, x2 - mask.left);
  });
  const component = runs.label8();
  const at = (x: number, y: number) => grid[(y + 1) * gw + x + 1]!;

  // Boundary edges leaving each vertex (x, y) of the (w + 1) × (h + 1) corner lattice, mask on the right.
  const vw = w + 1;
  const edges = new Uint8Array(vw * (h + 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!at(x, y)) continue;
      if (!at(x, y - 1)) edges[y * vw + x] |= E; // top edge, west to east
      if (!at(x + 1, y)) edges[y * vw + x + 1] |= S; // right edge, north to south
      if (!at(x, y + 1)) edges[(y + 1) * vw + x + 1] |= W; // bottom edge, east to west
      if (!at(x - 1, y)) edges[(y + 1) * vw + x] |= N; // left edge, south to north
    }
  }

  const used = new Uint8Array(edges.length);
  const outers = new Map<number, Ring>();
  const holes = new Map<number, Ring[]>();
  for (let v = 0; v < edges.length; v++) {
    for (const dir of DIRECTIONS) {
      if (!(edges[v]! & dir) || used[v]! & dir) continue;
      const ring = traceRing(edges, used, vw, v, dir, mask.left, mask.top);
      const [px, py] = pixelRightOf(v % vw, Math.floor(v / vw), dir);
      const label = component(px, py);
      if (signedArea(ring) > 0) outers.set(label, ring);
      else {
        const list = holes.get(label) ?? [];
        list.push(ring);
        holes.set(label, list);
      }
    }
  }
  const simplify = (ring: Ring) => simplifyRing(ring, tolerance);
  return [...outers.entries()].map(([label, outer]) => ({ outer: simplify(outer), holes: (holes.get(label) ?? []).map(simplify) }));
}

/**
 * Follows boundary edges from (start vertex, direction) until the loop closes,
 * then places the ring's vertices at its corners. Where two edges leave a
 * vertex (mask pixels touching only at that corner) the left turn is taken,
 * which keeps the two pixels in one outline (8-connectivity).
 */
function traceRing(edges: Uint8Array, used: Uint8Array, vw: number, start: number, startDir: number, left: number, top: number): Ring {
  // Corners of the loop: vertex, direction arriving, direction leaving.
  const corners: number[] = [];
  let v = start;
  let dir = startDir;
  for (;;) {
    used[v] |= dir;
    const next = v + DX[dir]! + DY[dir]! * vw;
    const out = edges[next]!;
    const nextDir = out === (out & -out) ? out : LEFT[dir]!; // one edge, or a saddle: turn left
    if (nextDir !== dir) corners.push(next % vw, Math.floor(next / vw), dir, nextDir);
    if (next === start && nextDir === startDir) break;
    v = next;
    dir = nextDir;
  }
  return cornerRing(corners, left, top);
}

/**
 * The ring through a loop's corners. A corner between two straight runs of at
 * least two edges (a rectangle's) is kept where it is; any other is cut at the
 * midpoints of the edges arriving and leaving, which turns pixel staircases
 * into straight slopes. Either way no pixel centre changes side, so the ring
 * still fills to exactly the mask.
 */
function cornerRing(corners: readonly number[], left: number, top: number): Ring {
  const ring: Ring = [];
  const push = (x: number, y: number) => {
    const n = ring.length;
    if (n >= 2 && ring[n - 2] === x && ring[n - 1] === y) return;
    ring.push(x, y);
  };
  const count = corners.length / 4;
  const runAfter = (k: number) => {
    const j = ((k + 1) % count) * 4;
    return Math.abs(corners[j]! - corners[k * 4]!) + Math.abs(corners[j + 1]! - corners[k * 4 + 1]!);
  };
  for (let k = 0; k < count; k++) {
    const [x, y, dirIn, dirOut] = corners.slice(k * 4, k * 4 + 4) as [number, number, number, number];
    if (runAfter((k + count - 1) % count) >= 2 && runAfter(k) >= 2) {
      push(left + x, top + y);
    } else {
      push(left + x - DX[dirIn]! / 2, top + y - DY[dirIn]! / 2);
      push(left + x + DX[dirOut]! / 2, top + y + DY[dirOut]! / 2);
    }
  }
  // The first and last points meet when the run across the start has one edge.
  const n = ring.length;
  if (n >= 4 && ring[0] === ring[n - 2] && ring[1] === ring[n - 1]) ring.length = n - 2;
  return ring;
}

/** The mask pixel on the right of the unit edge leaving vertex (x, y) in direction `dir`. */
function pixelRightOf(x: number, y: number, dir: number): [number, number] {
  switch (dir) {
    case E:
      return [x, y];
    case S:
      return [x - 1, y];
    case W:
      return [x - 1, y - 1];
    default:
      return [x, y - 1];
  }
}

/** Shoelace area; positive for rings clockwise on screen (y down). */
export function signedArea(ring: Ring): number {
  let sum = 0;
  const n = ring.length;
  for (let i = 0; i < n; i += 2) {
    const j = (i + 2) % n;
    sum += ring[i]! * ring[j + 1]! - ring[j]! * ring[i + 1]!;
  }
  return sum / 2;
}

/**
 * Runs of mask pixels row by row, labelled by 8-connected component with
 * union-find: runs in neighbouring rows belong together when they overlap or
 * touch diagonally.
 */
class Runs {
  private readonly row: number[] = [];
  private readonly x1: number[] = [];
  private readonly x2: number[] = [];
  /** Index of the first run of each row, and one past the last (rows are added in order). */
  private readonly rowStart: Int32Array;

  constructor(height: number) {
    this.rowStart = new Int32Array(height + 1).fill(-1);
  }

  add(y: number, x1: number, x2: number): void {
    if (this.rowStart[y] === -1) this.rowStart[y] = this.row.length;
    this.row.push(y);
    this.x1.push(x1);
    this.x2.push(x2);
  }

  private range(y: number): [number, number] {
    const from = this.rowStart[y]!;
    if (from < 0) return [0, 0];
    let to = from;
    while (to < this.row.length && this.row[to] === y) to++;
    return [from, to];
  }

  /** Component label (a run index) of pixel (x, y), which must be a mask pixel. */
  label8(): (x: number, y: number) => number {
    const parent = Int32Array.from({ length: this.row.length }, (_, i) => i);
    const find = (i: number): number => {
      while (parent[i] !== i) {
        parent[i] = parent[parent[i]!]!;
        i = parent[i]!;
      }
      return i;
    };
    const height = this.rowStart.length - 1;
    const ranges = Array.from({ length: height }, (_, y) => this.range(y));
    for (let y = 1; y < height; y++) {
      const [a0, a1] = ranges[y - 1]!;
      const [b0, b1] = ranges[y]!;
      let a = a0;
      let b = b0;
      while (a < a1 && b < b1) {
        // [x1, x2) ranges one row apart touch (8-connectivity) when each starts at most at the other's end.
        if (this.x1[a]! <= this.x2[b]! && this.x1[b]! <= this.x2[a]!) {
          const ra = find(a);
          const rb = find(b);
          if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
        }
        if (this.x2[a]! < this.x2[b]!) a++;
        else b++;
      }
    }
    return (x, y) => {
      const [from, to] = ranges[y]!;
      for (let i = from; i < to; i++) if (x >= this.x1[i]! && x < this.x2[i]!) return find(i);
      throw new Error(`internal: pixel ${x},${y} is not in the mask`);
    };
  }
}

/**
 * Ramer–Douglas–Peucker on a closed ring (see `simplifyOnce`), keeping the
 * ring's orientation: a simplified hole that turned the other way would be
 * filled by the non-zero rule once bridged (`bridgeHoles`). Where the
 * simplification at the tolerance turns it (a ring that starts at a vertex deep
 * in a concavity can), half the tolerance is tried, and so on, eight times at
 * most before the ring is kept as traced.
 */
export function simplifyRing(ring: Ring, tolerance: number): Ring {
  if (tolerance <= 0) return ring;
  const orientation = Math.sign(signedArea(ring));
  for (let t = tolerance, tries = 0; tries < 8; t /= 2, tries++) {
    const simple = simplifyOnce(ring, t, orientation);
    if (Math.sign(signedArea(simple)) === orientation) return simple;
  }
  return ring;
}

/**
 * Ramer–Douglas–Peucker on a closed ring: split at the first vertex and the
 * vertex farthest from it, simplify both chains. A ring that would collapse
 * below three vertices (the tolerance is as large as the part) keeps a
 * triangle: those two vertices and the one farthest from the line through
 * them, so that a larger tolerance gives no more vertices.
 */
function simplifyOnce(ring: Ring, tolerance: number, orientation: number): Ring {
  const n = ring.length / 2;
  // A ring of four vertices or fewer (a pixel's diamond) has nothing to lose.
  if (n <= 4) return ring;
  let far = 0;
  let farDist = -1;
  for (let i = 1; i < n; i++) {
    const d = (ring[2 * i]! - ring[0]!) ** 2 + (ring[2 * i + 1]! - ring[1]!) ** 2;
    if (d > farDist) {
      farDist = d;
      far = i;
    }
  }
  const keep = new Uint8Array(n + 1); // index n stands for vertex 0 closing the ring
  keep[0] = keep[far] = keep[n] = 1;
  const px = (i: number) => ring[2 * (i % n)]!;
  const py = (i: number) => ring[2 * (i % n) + 1]!;
  const stack: [number, number][] = [
    [0, far],
    [far, n],
  ];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    let worst = -1;
    let worstDist = tolerance;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance(px(i), py(i), px(a), py(a), px(b), py(b));
      if (d > worstDist) {
        worstDist = d;
        worst = i;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([a, worst], [worst, b]);
    }
  }
  if (keep.reduce((count, k) => count + k, 0) < 4) {
    // Vertex 0, `far` and n (vertex 0 again): the third is the farthest from the line
    // 0–far on the side that keeps the ring's orientation (a hole must stay a hole).
    let third = -1;
    let thirdArea = 0;
    for (let i = 1; i < n; i++) {
      if (i === far) continue;
      const [a, b] = i < far ? [i, far] : [far, i];
      const area = (px(a) - px(0)) * (py(b) - py(0)) - (px(b) - px(0)) * (py(a) - py(0));
      if (Math.sign(area) === orientation && Math.abs(area) > thirdArea) {
        thirdArea = Math.abs(area);
        third = i;
      }
    }
    if (third < 0) return ring;
    keep[third] = 1;
  }
  const out: Ring = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(ring[2 * i]!, ring[2 * i + 1]!);
  return out;
}

function segmentDistance(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

/**
 * One ring per part for formats that cannot store holes (COCO polygons, YOLO,
 * LabelMe): each hole is spliced into the outer ring through a zero-width
 * bridge, from the closest pair of vertices, walked there and back. Filled
 * with the even-odd or the non-zero rule, as pycocotools, OpenCV's fillPoly
 * and PIL do, the bridge adds nothing (any scanline crosses it twice, in
 * opposite directions) and the hole stays empty.
 */
export function bridgeHoles(part: PolygonPart): Ring {
  let ring = part.outer;
  for (const hole of part.holes) {
    let best = Infinity;
    let bi = 0;
    let bj = 0;
    for (let i = 0; i < ring.length; i += 2) {
      for (let j = 0; j < hole.length; j += 2) {
        const d = (ring[i]! - hole[j]!) ** 2 + (ring[i + 1]! - hole[j + 1]!) ** 2;
        if (d < best) {
          best = d;
          bi = i;
          bj = j;
        }
      }
    }
    ring = [
      ...ring.slice(0, bi + 2),
      ...hole.slice(bj),
      ...hole.slice(0, bj + 2),
      ...ring.slice(bi),
    ];
  }
  return ring;
}

/**
 * Masks with known geometry for the export tests: ellipses, rings (a hole),
 * several parts, an island inside a hole, and seeded random blobs.
 */
import type { SegmentedMask } from '../../src/core/engine';
import { fromFullMask, tightBounds } from '../../src/core/masks/box-mask';

/** Full-size 0/1 mask of the pixels whose centre is inside the ellipse. */
export function ellipse(width: number, height: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1) out[y * width + x] = 1;
    }
  }
  return out;
}

export function rect(width: number, height: number, x1: number, y1: number, x2: number, y2: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = y1; y < y2; y++) out.fill(1, y * width + x1, y * width + x2);
  return out;
}

export const union = (...masks: Uint8Array[]): Uint8Array => masks[0]!.map((_, i) => (masks.some((m) => m[i]) ? 1 : 0));
export const minus = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => (v && !b[i] ? 1 : 0));

/** Blobs of random noise, smoothed: many parts, holes and pixels touching only at corners. */
export function randomBlobs(seed: number, width: number, height: number, density: number): Uint8Array {
  let state = seed >>> 0;
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const noise = Uint8Array.from({ length: width * height }, () => (random() < density ? 1 : 0));
  // One majority pass turns the noise into blobs of a few pixels up to larger shapes.
  return noise.map((_, i) => {
    const x = i % width;
    const y = Math.floor(i / width);
    let n = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) n += noise[(y + dy) * width + x + dx] && x + dx >= 0 && x + dx < width && y + dy >= 0 && y + dy < height ? 1 : 0;
    return n >= 5 ? 1 : 0;
  });
}

/** The kinds of mask every outline format must handle, on a width × height image. */
export function testMasks(width: number, height: number): { name: string; full: Uint8Array; parts: number; holes: number }[] {
  const disc = ellipse(width, height, width * 0.3, height * 0.4, width * 0.2, height * 0.3);
  return [
    { name: 'ellipse', full: disc, parts: 1, holes: 0 },
    { name: 'rectangle at the image corner', full: rect(width, height, 0, 0, Math.round(width / 3), Math.round(height / 4)), parts: 1, holes: 0 },
    { name: 'ring (a hole)', full: minus(disc, ellipse(width, height, width * 0.3, height * 0.4, width * 0.1, height * 0.15)), parts: 1, holes: 1 },
    {
      name: 'two parts, one with two holes',
      full: minus(
        union(rect(width, height, Math.round(width * 0.55), 10, width - 10, Math.round(height * 0.6)), ellipse(width, height, width * 0.2, height * 0.8, 12, 9)),
        union(rect(width, height, Math.round(width * 0.6), 15, Math.round(width * 0.7), 30), ellipse(width, height, width * 0.8, height * 0.45, 8, 6)),
      ),
      parts: 2,
      holes: 2,
    },
    {
      name: 'island inside a hole',
      full: union(minus(disc, ellipse(width, height, width * 0.3, height * 0.4, width * 0.14, height * 0.2)), ellipse(width, height, width * 0.3, height * 0.4, width * 0.06, height * 0.08)),
      parts: 2,
      holes: 1,
    },
  ];
}

export function segmentedMask(full: Uint8Array, width: number, height: number, id = 0, score = 0.9): SegmentedMask {
  const mask = fromFullMask(full, width, height);
  const b = tightBounds(mask) ?? [0, 0, 0, 0];
  return { id, score, box: b, mask };
}

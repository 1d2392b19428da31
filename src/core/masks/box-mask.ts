/**
 * A binary mask stored only inside its bounding rectangle, one bit per pixel.
 *
 * FastSAM returns up to 300 masks per image, each as large as the image. Stored as
 * full-resolution bytes, 200 masks of a 12-megapixel photo would take 2.4 GB; inside
 * their boxes and bit-packed they take a few megabytes. It is plain data (numbers and
 * one typed array), so it crosses worker and webview boundaries by structured clone.
 */
export interface BoxMask {
  /** Size of the image the mask belongs to. */
  readonly imageWidth: number;
  readonly imageHeight: number;
  /** The stored rectangle, in whole pixels, inside the image. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Row-major bits, `wordsPerRow(width)` 32-bit words per row; bit (x & 31) of word x >> 5. */
  readonly bits: Uint32Array;
  /** Number of set pixels. */
  readonly area: number;
}

export function wordsPerRow(width: number): number {
  return (width + 31) >>> 5;
}

/** An all-empty mask of the given rectangle, to be filled with `setBit` before `area` is known. */
export function allocateBits(width: number, height: number): Uint32Array {
  return new Uint32Array(wordsPerRow(width) * height);
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

export function countBits(bits: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) n += popcount32(bits[i]);
  return n;
}

/** Whether pixel (x, y) of the image — integer pixel indices — belongs to the mask. */
export function maskHas(mask: BoxMask, x: number, y: number): boolean {
  const lx = x - mask.left;
  const ly = y - mask.top;
  if (lx < 0 || ly < 0 || lx >= mask.width || ly >= mask.height) return false;
  return ((mask.bits[ly * wordsPerRow(mask.width) + (lx >>> 5)] >>> (lx & 31)) & 1) === 1;
}

/** Whether the point (x, y) in continuous image coordinates lies on a mask pixel. */
export function maskContainsPoint(mask: BoxMask, x: number, y: number): boolean {
  return maskHas(mask, Math.floor(x), Math.floor(y));
}

/**
 * Per row, the number of set pixels before each word: rectangle counts then cost
 * O(1) per row instead of a popcount per word. Built on first use and kept beside
 * the mask's bits (box prompts count every mask against the box).
 */
const rowPrefixes = new WeakMap<Uint32Array, Uint32Array>();

function rowPrefix(mask: BoxMask): Uint32Array {
  let prefix = rowPrefixes.get(mask.bits);
  if (!prefix) {
    const wpr = wordsPerRow(mask.width);
    prefix = new Uint32Array(mask.height * (wpr + 1));
    for (let ly = 0; ly < mask.height; ly++) {
      let n = 0;
      const base = ly * (wpr + 1);
      for (let w = 0; w < wpr; w++) {
        prefix[base + w] = n;
        const word = mask.bits[ly * wpr + w];
        if (word !== 0) n += popcount32(word);
      }
      prefix[base + wpr] = n;
    }
    rowPrefixes.set(mask.bits, prefix);
  }
  return prefix;
}

/** Set pixels of row `ly` (mask-local) within local columns [from, to). */
function countRowRange(mask: BoxMask, prefix: Uint32Array, ly: number, from: number, to: number): number {
  if (from >= to) return 0;
  const wpr = wordsPerRow(mask.width);
  const firstWord = from >>> 5;
  const lastWord = (to - 1) >>> 5;
  const p = ly * (wpr + 1);
  // Whole words by the prefix, then take off the bits of the end words outside [from, to).
  let n = prefix[p + lastWord + 1] - prefix[p + firstWord];
  const bits = ly * wpr;
  if (from & 31) n -= popcount32(mask.bits[bits + firstWord] & ~(~0 << (from & 31)));
  if (to & 31) n -= popcount32(mask.bits[bits + lastWord] & (~0 << (to & 31)));
  return n;
}

/**
 * Number of mask pixels inside the rectangle [x1, x2) × [y1, y2) of whole pixel
 * indices (clipped to the mask's rectangle).
 */
export function countInRect(mask: BoxMask, x1: number, y1: number, x2: number, y2: number): number {
  const fromX = Math.max(x1, mask.left) - mask.left;
  const toX = Math.min(x2, mask.left + mask.width) - mask.left;
  const fromY = Math.max(y1, mask.top) - mask.top;
  const toY = Math.min(y2, mask.top + mask.height) - mask.top;
  if (fromX >= toX || fromY >= toY) return 0;
  const prefix = rowPrefix(mask);
  let n = 0;
  for (let ly = fromY; ly < toY; ly++) n += countRowRange(mask, prefix, ly, fromX, toX);
  return n;
}

/** 32 bits of row `ly` starting at local column `lx` (bits past the row's end are 0). */
function bitsAt(mask: BoxMask, ly: number, lx: number): number {
  const base = ly * wordsPerRow(mask.width);
  const w = lx >>> 5;
  const shift = lx & 31;
  const lo = mask.bits[base + w] ?? 0;
  if (shift === 0) return lo;
  const hi = (w + 1) * 32 < mask.width ? mask.bits[base + w + 1] : 0;
  return ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
}

/** Pixels set in both masks, 32 at a time. */
export function intersectionArea(a: BoxMask, b: BoxMask): number {
  const x1 = Math.max(a.left, b.left);
  const x2 = Math.min(a.left + a.width, b.left + b.width);
  const y1 = Math.max(a.top, b.top);
  const y2 = Math.min(a.top + a.height, b.top + b.height);
  if (x1 >= x2 || y1 >= y2) return 0;
  let n = 0;
  for (let y = y1; y < y2; y++) {
    for (let x = x1; x < x2; x += 32) {
      let word = bitsAt(a, y - a.top, x - a.left) & bitsAt(b, y - b.top, x - b.left);
      if (x2 - x < 32) word &= ~(~0 << (x2 - x));
      if (word !== 0) n += popcount32(word);
    }
  }
  return n;
}

export function maskIoU(a: BoxMask, b: BoxMask): number {
  const inter = intersectionArea(a, b);
  const union = a.area + b.area - inter;
  return union === 0 ? 0 : inter / union;
}

/**
 * The mask at full image size, row-major: `value` where set. Into `out` when given
 * (other pixels untouched, so several masks can be painted into one image).
 */
export function toFullMask(mask: BoxMask): Uint8Array;
export function toFullMask<T extends Uint8Array | Uint16Array>(mask: BoxMask, out: T, value: number): T;
export function toFullMask(mask: BoxMask, out?: Uint8Array | Uint16Array, value = 1): Uint8Array | Uint16Array {
  const full = out ?? new Uint8Array(mask.imageWidth * mask.imageHeight);
  forEachRun(mask, (y, x1, x2) => full.fill(value, y * mask.imageWidth + x1, y * mask.imageWidth + x2));
  return full;
}

/**
 * Calls `visit(y, x1, x2)` for every horizontal run of set pixels, in image
 * coordinates, row by row. Exporters and renderers build on this instead of
 * reading bits themselves.
 */
export function forEachRun(mask: BoxMask, visit: (y: number, x1: number, x2: number) => void): void {
  const wpr = wordsPerRow(mask.width);
  for (let ly = 0; ly < mask.height; ly++) {
    const base = ly * wpr;
    let runStart = -1;
    for (let w = 0; w < wpr; w++) {
      const word = mask.bits[base + w];
      // Whole words of one value are skipped without a per-bit loop.
      if (word === 0 && runStart < 0) continue;
      if (word === 0xffffffff && runStart >= 0) continue;
      const limit = Math.min(32, mask.width - w * 32);
      for (let b = 0; b < limit; b++) {
        const set = (word >>> b) & 1;
        const lx = w * 32 + b;
        if (set && runStart < 0) runStart = lx;
        else if (!set && runStart >= 0) {
          visit(mask.top + ly, mask.left + runStart, mask.left + lx);
          runStart = -1;
        }
      }
    }
    if (runStart >= 0) visit(mask.top + ly, mask.left + runStart, mask.left + mask.width);
  }
}

/** Builds a BoxMask from a full-size 0/1 byte mask; the rectangle is the tight bounds. */
export function fromFullMask(full: Uint8Array, imageWidth: number, imageHeight: number): BoxMask {
  let minX = imageWidth, minY = imageHeight, maxX = -1, maxY = -1;
  for (let y = 0; y < imageHeight; y++) {
    const row = y * imageWidth;
    for (let x = 0; x < imageWidth; x++) {
      if (full[row + x]) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        maxY = y;
      }
    }
  }
  if (maxX < 0) return { imageWidth, imageHeight, left: 0, top: 0, width: 0, height: 0, bits: new Uint32Array(0), area: 0 };
  const width = maxX - minX + 1;
  const height = maxY - minY + 1;
  const bits = allocateBits(width, height);
  const wpr = wordsPerRow(width);
  let area = 0;
  for (let ly = 0; ly < height; ly++) {
    const row = (minY + ly) * imageWidth + minX;
    for (let lx = 0; lx < width; lx++) {
      if (full[row + lx]) {
        bits[ly * wpr + (lx >>> 5)] |= 1 << (lx & 31);
        area++;
      }
    }
  }
  return { imageWidth, imageHeight, left: minX, top: minY, width, height, bits, area };
}

/** Tight bounding box [x1, y1, x2, y2] of the set pixels (x2, y2 exclusive), or null when empty. */
export function tightBounds(mask: BoxMask): [number, number, number, number] | null {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  forEachRun(mask, (y, a, b) => {
    if (a < x1) x1 = a;
    if (b > x2) x2 = b;
    if (y < y1) y1 = y;
    y2 = y + 1;
  });
  return x2 < 0 ? null : [x1, y1, x2, y2];
}

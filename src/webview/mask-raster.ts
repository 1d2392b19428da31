/**
 * Turning a bit-packed mask into pixels: pure array work, no DOM, so it is
 * unit-tested under node. mask-renderer.ts puts the results into canvases.
 *
 * A mask is rasterised inside its own box only, at a "level": level k keeps one
 * bitmap pixel per 2^k × 2^k image pixels, with partial coverage as alpha. The
 * renderer picks the coarsest level that is still at least as fine as the screen,
 * so a 12-megapixel image viewed whole does not need 200 full-resolution bitmaps.
 */
import { wordsPerRow } from '../core/masks/box-mask';
import type { Rgb } from './colors';

/** 1/16 of full resolution; below that, a mask shown whole is a handful of screen pixels anyway. */
export const MAX_LEVEL = 4;

/** What rasterising needs from a mask: its box and bits (BoxMask and WireMask both qualify). */
export interface MaskBits {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly bits: Uint32Array;
}

export interface Coverage {
  /**
   * Where the bitmap starts, in bitmap pixels of its level. Blocks sit on one grid
   * for the whole image (block column = image x >> level), so bitmaps of different
   * masks at the same level line up pixel for pixel and can be composited without
   * resampling. In image pixels the bitmap covers x0·factor … (x0 + width)·factor.
   */
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  /** Image pixels per bitmap pixel along each axis (2^level). */
  readonly factor: number;
  /** 0 (outside) … 255 (fully inside), row-major. */
  readonly alpha: Uint8ClampedArray;
}

/**
 * The level for drawing at `deviceScale` device pixels per image pixel: the
 * largest k with 2^-k ≥ deviceScale, so the bitmap is never coarser than the screen.
 */
export function levelForScale(deviceScale: number): number {
  if (!(deviceScale > 0) || deviceScale >= 1) return 0;
  const k = Math.floor(-Math.log2(deviceScale) + 1e-9);
  return Math.max(0, Math.min(MAX_LEVEL, k));
}

/** A rectangle of bitmap pixels at some level: [x1, x2) × [y1, y2). */
export interface Region {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** The blocks of `level` that a mask's box touches. */
export function maskRegion(mask: MaskBits, level: number): Region {
  if (mask.width <= 0 || mask.height <= 0) return { x1: 0, y1: 0, x2: 0, y2: 0 };
  return {
    x1: mask.left >> level,
    y1: mask.top >> level,
    x2: ((mask.left + mask.width - 1) >> level) + 1,
    y2: ((mask.top + mask.height - 1) >> level) + 1,
  };
}

export function intersectRegions(a: Region, b: Region): Region {
  const x1 = Math.max(a.x1, b.x1), y1 = Math.max(a.y1, b.y1);
  return { x1, y1, x2: Math.max(x1, Math.min(a.x2, b.x2)), y2: Math.max(y1, Math.min(a.y2, b.y2)) };
}

/**
 * Coverage of `mask` at `level`, over its whole box or only the part inside
 * `clip` (bitmap pixels of that level): a huge mask seen zoomed in is
 * rasterised only where it is on screen.
 */
export function rasterizeCoverage(mask: MaskBits, level: number, clip?: Region): Coverage {
  const k = Math.max(0, Math.min(MAX_LEVEL, Math.floor(level)));
  const f = 1 << k;
  const { left, top, bits } = mask;
  const whole = maskRegion(mask, k);
  const r = clip ? intersectRegions(whole, clip) : whole;
  const width = r.x2 - r.x1;
  const height = r.y2 - r.y1;
  const alpha = new Uint8ClampedArray(Math.max(0, width * height));
  if (width <= 0 || height <= 0) return { x0: r.x1, y0: r.y1, width: 0, height: 0, factor: f, alpha };

  // The image pixels that fall into the region, and the words that hold them.
  const xA = Math.max(left, r.x1 << k), xB = Math.min(left + mask.width, r.x2 << k);
  const yA = Math.max(top, r.y1 << k), yB = Math.min(top + mask.height, r.y2 << k);
  const wpr = wordsPerRow(mask.width);
  const wFirst = (xA - left) >> 5, wLast = (xB - 1 - left) >> 5;
  // Per block: level 0 writes alpha directly; coarser levels count pixels first.
  const counts = k === 0 ? null : new Uint16Array(width * height);

  for (let y = yA; y < yB; y++) {
    const base = (y - top) * wpr;
    // Index of block column c in this row is row + c.
    const row = ((y >> k) - r.y1) * width - r.x1;
    for (let w = wFirst; w <= wLast; w++) {
      let word = bits[base + w]!;
      if (word === 0) continue;
      const x = left + (w << 5);
      // Bits left of xA or from xB on belong to other tiles.
      if (x < xA) word &= ~0 << (xA - x);
      if (x + 32 > xB) word &= xB - x >= 32 ? ~0 : ~(~0 << (xB - x));
      if (word === 0) continue;
      if ((word | 0) === -1) {
        // Interiors of large masks are mostly whole words of ones: no per-bit work.
        if (!counts) alpha.fill(255, row + x, row + x + 32);
        else if ((x & (f - 1)) === 0) for (let c = x >> k, end = c + (32 >> k); c < end; c++) counts[row + c] += f;
        else for (let c = x >> k, end = (x + 31) >> k; c <= end; c++) counts[row + c] += Math.min(x + 32, (c + 1) << k) - Math.max(x, c << k);
        continue;
      }
      // Edges: set bits one by one, lowest first.
      while (word !== 0) {
        const low = word & -word;
        const px = x + 31 - Math.clz32(low);
        if (counts) counts[row + (px >> k)]++;
        else alpha[row + px] = 255;
        word ^= low;
      }
    }
  }
  if (counts) {
    const full = f * f;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c !== 0) alpha[i] = (c * 255 + (full >>> 1)) / full;
    }
  }
  return { x0: r.x1, y0: r.y1, width, height, factor: f, alpha };
}

/**
 * The boundary of a rasterised mask: pixels at least half covered with a
 * 4-neighbour that is not (or that lies outside the box), as 0/255 alpha. One
 * bitmap pixel wide, so about one screen pixel when the level matches the zoom.
 */
export function outlineAlpha(cov: Coverage): Uint8ClampedArray {
  const { width: w, height: h, alpha } = cov;
  const out = new Uint8ClampedArray(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const edgeRow = y === 0 || y === h - 1;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      if (alpha[i]! < 128) continue;
      if (edgeRow || x === 0 || x === w - 1 || alpha[i - 1]! < 128 || alpha[i + 1]! < 128 || alpha[i - w]! < 128 || alpha[i + w]! < 128) out[i] = 255;
    }
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** RGBA pixels (as ImageData wants: straight alpha, bytes r, g, b, a) of `alpha` in one colour. */
export function paintRgba(alpha: Uint8ClampedArray, rgb: Rgb, out: Uint8ClampedArray = new Uint8ClampedArray(alpha.length * 4)): Uint8ClampedArray {
  const [r, g, b] = rgb;
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    // One 32-bit store per pixel instead of four byte stores: bytes r, g, b, a in memory order.
    const px = new Uint32Array(out.buffer, out.byteOffset, alpha.length);
    const rgb24 = (b << 16) | (g << 8) | r;
    for (let i = 0; i < alpha.length; i++) {
      const a = alpha[i]!;
      if (a !== 0) px[i] = ((a << 24) | rgb24) >>> 0;
    }
    return out;
  }
  for (let i = 0, j = 0; i < alpha.length; i++, j += 4) {
    const a = alpha[i]!;
    if (a === 0) continue;
    out[j] = r;
    out[j + 1] = g;
    out[j + 2] = b;
    out[j + 3] = a;
  }
  return out;
}

/**
 * Paints coverage `cov` in one colour over a straight-alpha RGBA buffer (source-over),
 * inside `within` only. The buffer covers `dst` (same level's bitmap pixels) and is
 * `dst.x2 - dst.x1` pixels wide. Used to flatten many masks into one image on the CPU,
 * which costs a fraction of a canvas per mask.
 */
export function blendCoverage(buffer: Uint8ClampedArray, dst: Region, cov: Coverage, within: Region, rgb: Rgb): void {
  const r = intersectRegions(intersectRegions(within, dst), { x1: cov.x0, y1: cov.y0, x2: cov.x0 + cov.width, y2: cov.y0 + cov.height });
  const dw = dst.x2 - dst.x1;
  const [cr, cg, cb] = rgb;
  for (let y = r.y1; y < r.y2; y++) {
    let s = (y - cov.y0) * cov.width + (r.x1 - cov.x0);
    let d = ((y - dst.y1) * dw + (r.x1 - dst.x1)) * 4;
    for (let x = r.x1; x < r.x2; x++, s++, d += 4) {
      const a = cov.alpha[s]!;
      if (a === 0) continue;
      if (a === 255 || buffer[d + 3] === 0) {
        buffer[d] = cr;
        buffer[d + 1] = cg;
        buffer[d + 2] = cb;
        buffer[d + 3] = a;
        continue;
      }
      // Straight-alpha source-over, for the partly covered pixels along edges.
      const sa = a / 255;
      const da = (buffer[d + 3]! / 255) * (1 - sa);
      const oa = sa + da;
      buffer[d] = (cr * sa + buffer[d]! * da) / oa;
      buffer[d + 1] = (cg * sa + buffer[d + 1]! * da) / oa;
      buffer[d + 2] = (cb * sa + buffer[d + 2]! * da) / oa;
      buffer[d + 3] = oa * 255;
    }
  }
}

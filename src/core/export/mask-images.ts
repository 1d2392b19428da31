/**
 * The two mask images the CLI and the editor write: a binary mask of a
 * selection, and an instance index map of everything.
 */
import { type BoxMask, toFullMask } from '../masks/box-mask';
import { encodeGrayPng } from './png-gray';

/** Union of the masks, 0 or 255 per pixel, as an 8-bit grayscale PNG of the image's size. */
export function selectionMaskPng(masks: readonly BoxMask[], width: number, height: number): Buffer {
  const pixels = new Uint8Array(width * height);
  for (const m of masks) toFullMask(m, pixels, 255);
  return encodeGrayPng(pixels, width, height);
}

/**
 * Pixel value i + 1 where masks[i] is, 0 where no mask is; where masks overlap the
 * smallest wins, so every object stays visible. 8-bit up to 255 masks, 16-bit beyond.
 */
export function indexMapPixels(masks: readonly BoxMask[], width: number, height: number): Uint8Array | Uint16Array {
  const pixels = masks.length > 255 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  const largestFirst = masks.map((m, i) => ({ m, i })).sort((a, b) => b.m.area - a.m.area || a.i - b.i);
  for (const { m, i } of largestFirst) toFullMask(m, pixels, i + 1);
  return pixels;
}

export function indexMapPng(masks: readonly BoxMask[], width: number, height: number): Buffer {
  return encodeGrayPng(indexMapPixels(masks, width, height), width, height);
}

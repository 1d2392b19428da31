/**
 * Overlay preview PNG, like the pictures FastSAM's own scripts save: the image
 * with every mask tinted in its own colour at half opacity and outlined in
 * that colour, for people to look at (not for pipelines to read).
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/decode';
import { type BoxMask, forEachRun, maskHas } from '../masks/box-mask';

/** Weight of a mask's colour over the image. */
export const OVERLAY_OPACITY = 0.5;

/**
 * Colour of the i-th mask: hues a golden angle apart, so that neighbours in
 * the list, and any few masks, look clearly different. Deterministic, so
 * exports are reproducible.
 */
export function overlayColor(i: number): [number, number, number] {
  const h = ((i * 137.508) % 360) / 60;
  const s = 0.8;
  const v = 0.95;
  const c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = v - c;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** Masks are drawn largest first, so small objects stay visible on top of the large ones around them. */
export async function overlayPng(image: RgbImage, masks: readonly BoxMask[]): Promise<Buffer> {
  const { width, height } = image;
  const pixels = Buffer.from(image.data); // a copy: the decoded image is shared with the other formats
  const order = masks.map((m, i) => ({ m, i })).sort((a, b) => b.m.area - a.m.area || a.i - b.i);
  for (const { m, i } of order) {
    const color = overlayColor(i);
    forEachRun(m, (y, x1, x2) => {
      for (let x = x1; x < x2; x++) {
        const p = 3 * (y * width + x);
        // A pixel on the mask's edge (a 4-neighbour outside it) is drawn in the solid colour.
        const edge = x === x1 || x === x2 - 1 || !maskHas(m, x, y - 1) || !maskHas(m, x, y + 1);
        for (let c = 0; c < 3; c++) {
          pixels[p + c] = edge ? color[c]! : Math.round(pixels[p + c]! * (1 - OVERLAY_OPACITY) + color[c]! * OVERLAY_OPACITY);
        }
      }
    });
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

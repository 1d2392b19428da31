/**
 * Cut-out PNG: the image's own pixels where the selection is, fully
 * transparent elsewhere, at the image's size so that it lines up with the
 * original in any editor. Transparent pixels are black as well as clear, so
 * nothing of the rest of the image survives in the file.
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/decode';
import { type BoxMask, forEachRun } from '../masks/box-mask';

export async function cutoutPng(image: RgbImage, masks: readonly BoxMask[]): Promise<Buffer> {
  const { width, height, data } = image;
  const rgba = Buffer.alloc(width * height * 4);
  for (const m of masks) {
    forEachRun(m, (y, x1, x2) => {
      for (let i = y * width + x1; i < y * width + x2; i++) {
        rgba[4 * i] = data[3 * i]!;
        rgba[4 * i + 1] = data[3 * i + 1]!;
        rgba[4 * i + 2] = data[3 * i + 2]!;
        rgba[4 * i + 3] = 255;
      }
    });
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

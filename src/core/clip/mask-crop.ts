/**
 * What CLIP sees of a mask: the pixels of its box with everything outside the
 * mask blanked, centred on a square of the same blank value, at the size the
 * CLIP preprocessor wants.
 *
 * FastSAM's reference embeds the plain box crop, so a segment whose box
 * contains another object (the sky around a head) matches prompts for that
 * object. Ultralytics fixed this in 2026 (PR #23766) by setting the pixels
 * outside the mask to white before CLIP, which is also the background of the
 * original FastSAM repository's `_segment_image`; white is used here too, so
 * scores stay comparable with both. The square padding, in the same white,
 * keeps CLIP's centre crop from cutting off the ends of long objects.
 */
import type { RgbImage } from '../image/decode';
import { type BoxMask, wordsPerRow } from '../masks/box-mask';

/** The value of blanked and padding pixels in every channel: white. */
export const BLANK_VALUE = 255;

/**
 * The crop of `mask` from `image` (the full image the mask belongs to), blanked
 * and padded to a square. Squares larger than `side` are shrunk to `side` by
 * area averaging (a proper low-pass, unlike the point-sampled affine resize of
 * the CLIP preprocessor); smaller ones are returned at their size for the
 * preprocessor to enlarge.
 */
export function maskCrop(image: RgbImage, mask: BoxMask, side: number): RgbImage {
  if (image.width !== mask.imageWidth || image.height !== mask.imageHeight) {
    throw new RangeError(`mask of a ${mask.imageWidth}×${mask.imageHeight} image applied to a ${image.width}×${image.height} image`);
  }
  if (!Number.isInteger(side) || side < 1) throw new RangeError(`crop side must be a positive integer, got ${side}`);
  if (mask.width === 0 || mask.height === 0) throw new RangeError('cannot crop an empty mask');
  const square = Math.max(mask.width, mask.height);
  const offsetX = Math.floor((square - mask.width) / 2);
  const offsetY = Math.floor((square - mask.height) / 2);
  const wpr = wordsPerRow(mask.width);

  /** Writes row `ly` of the mask's rectangle (blanked) into `out` at RGB offset `at`. */
  const copyRow = (ly: number, out: Uint8Array | Float32Array, at: number) => {
    const src = ((mask.top + ly) * image.width + mask.left) * 3;
    const base = ly * wpr;
    for (let lx = 0; lx < mask.width; lx++) {
      if ((mask.bits[base + (lx >>> 5)]! >>> (lx & 31)) & 1) {
        out[at + lx * 3] = image.data[src + lx * 3]!;
        out[at + lx * 3 + 1] = image.data[src + lx * 3 + 1]!;
        out[at + lx * 3 + 2] = image.data[src + lx * 3 + 2]!;
      }
    }
  };

  if (square <= side) {
    const data = new Uint8Array(square * square * 3).fill(BLANK_VALUE);
    for (let ly = 0; ly < mask.height; ly++) copyRow(ly, data, ((offsetY + ly) * square + offsetX) * 3);
    return { data, width: square, height: square };
  }

  // Separable area averaging: each output pixel is the mean of the scale × scale
  // square-space area it covers; with scale > 1 an input pixel overlaps at most two
  // output pixels per axis.
  const scale = square / side;
  const spans = areaSpans(square, side, scale);
  const row = new Float32Array(square * 3);
  const columns = new Float32Array(square * side * 3); // rows of the square, shrunk horizontally
  for (let y = 0; y < square; y++) {
    const ly = y - offsetY;
    const out = y * side * 3;
    if (ly < 0 || ly >= mask.height) {
      columns.fill(BLANK_VALUE * scale, out, out + side * 3);
      continue;
    }
    row.fill(BLANK_VALUE);
    copyRow(ly, row, offsetX * 3);
    for (let x = 0; x < square; x++) {
      const { first, weight } = spans[x]!;
      for (let c = 0; c < 3; c++) {
        const v = row[x * 3 + c]!;
        columns[out + first * 3 + c] += v * weight;
        if (weight < 1) columns[out + (first + 1) * 3 + c] += v * (1 - weight);
      }
    }
  }
  const sums = new Float32Array(side * side * 3);
  for (let y = 0; y < square; y++) {
    const { first, weight } = spans[y]!;
    const from = y * side * 3;
    const a = first * side * 3;
    for (let i = 0; i < side * 3; i++) sums[a + i] += columns[from + i]! * weight;
    if (weight < 1) {
      const b = (first + 1) * side * 3;
      for (let i = 0; i < side * 3; i++) sums[b + i] += columns[from + i]! * (1 - weight);
    }
  }
  const data = new Uint8Array(side * side * 3);
  const area = scale * scale;
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(sums[i]! / area)));
  return { data, width: side, height: side };
}

/** For each input index of [0, n): the output index it starts in and the share of it that falls there. */
function areaSpans(n: number, outSize: number, scale: number): { first: number; weight: number }[] {
  return Array.from({ length: n }, (_, i) => {
    const first = Math.min(outSize - 1, Math.floor(i / scale));
    const boundary = (first + 1) * scale;
    const weight = i + 1 <= boundary || first === outSize - 1 ? 1 : boundary - i;
    return { first, weight };
  });
}

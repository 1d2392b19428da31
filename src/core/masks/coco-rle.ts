/**
 * COCO run-length encoding, the format pycocotools' `mask.encode` writes and
 * `mask.decode` reads: runs over the image in column-major order (down each
 * column, left to right), starting with a run of zeros, then compressed into an
 * ASCII string (the LEB128-like scheme of pycocotools' `rleToString`).
 */
import { type BoxMask, fromFullMask, maskHas } from './box-mask';

export interface CocoRle {
  /** [height, width], as pycocotools writes it. */
  size: [number, number];
  counts: string;
}

/** Column-major run lengths of a mask, alternating zeros and ones, starting with zeros. */
export function maskToRunLengths(mask: BoxMask): number[] {
  const { imageWidth: w, imageHeight: h } = mask;
  const counts: number[] = [];
  let current = 0; // value of the run being counted
  let run = 0;
  const push = (value: number, length: number) => {
    if (length === 0) return;
    if (value === current) {
      run += length;
    } else {
      counts.push(run);
      current = value;
      run = length;
    }
  };
  for (let x = 0; x < w; x++) {
    if (x < mask.left || x >= mask.left + mask.width || mask.area === 0) {
      push(0, h);
      continue;
    }
    push(0, mask.top);
    for (let y = mask.top; y < mask.top + mask.height; y++) push(maskHas(mask, x, y) ? 1 : 0, 1);
    push(0, h - mask.top - mask.height);
  }
  counts.push(run);
  return counts;
}

/** pycocotools' `rleToString`: each count, less the count two before it from the third on, in 5-bit groups. */
export function compressCounts(counts: readonly number[]): string {
  let out = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32; // x & 0x1f for a signed x
      x = Math.floor(x / 32); // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** pycocotools' `rleFrString`. Throws on characters outside the alphabet. */
export function decompressCounts(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error('Truncated COCO RLE string');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`Invalid character in COCO RLE string at ${p}`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      // A set sign bit in the last group makes x negative: x | (-1 << 5k) for 0 <= x < 2^5k.
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

export function encodeRle(mask: BoxMask): CocoRle {
  return { size: [mask.imageHeight, mask.imageWidth], counts: compressCounts(maskToRunLengths(mask)) };
}

/** Decodes compressed (string) or uncompressed (number array) COCO RLE to a full-size row-major 0/1 mask. */
export function decodeRleToFull(rle: { size: [number, number]; counts: string | number[] }): Uint8Array {
  const [h, w] = rle.size;
  const counts = typeof rle.counts === 'string' ? decompressCounts(rle.counts) : rle.counts;
  const out = new Uint8Array(w * h);
  let pos = 0; // column-major position
  let value = 0;
  for (const count of counts) {
    if (count < 0 || pos + count > w * h) throw new Error('COCO RLE counts do not fit the size');
    if (value === 1) {
      for (let i = pos; i < pos + count; i++) out[(i % h) * w + Math.floor(i / h)] = 1;
    }
    pos += count;
    value ^= 1;
  }
  if (pos !== w * h) throw new Error(`COCO RLE covers ${pos} pixels, expected ${w * h}`);
  return out;
}

export function decodeRle(rle: { size: [number, number]; counts: string | number[] }): BoxMask {
  return fromFullMask(decodeRleToFull(rle), rle.size[1], rle.size[0]);
}

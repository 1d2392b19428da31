/**
 * The model input: the image letterboxed as Ultralytics' predictor does it
 * (LetterBox with cv2.resize INTER_LINEAR and grey 114 padding, then
 * HWC→CHW and /255), as a planar float32 tensor.
 *
 * The resize is done here rather than by sharp. sharp's 'linear' kernel is not
 * OpenCV's INTER_LINEAR: when enlarging (any image smaller than the model
 * size) libvips places samples half an output pixel away from OpenCV's
 * pixel-centre grid, which shifts every mask and box, and when shrinking it
 * antialiases where OpenCV samples only the nearest four pixels, so the model
 * would see a different image from the one the reference feeds it. The code
 * below follows OpenCV's 8-bit INTER_LINEAR, fixed-point weights and rounding
 * included (checked bit for bit against opencv-python 4.14), and writes the
 * float tensor as it goes: resizing, padding and conversion are one pass.
 * The price is decoding at full size, where sharp could shrink a large JPEG
 * while decoding it: for a 6000×4000 JPEG that is about 0.4 s instead of
 * 0.06 s on a 2-core machine, but with different pixels.
 */
import { performance } from 'node:perf_hooks';
import { openImage, rgbPipeline, runRgbPipeline } from './decode';
import type { ImageInfo, ImageReadOptions, ImageSource, OpenedImage, RgbImage } from './decode';
import { computeLetterbox, roundHalfEven } from './letterbox';
import type { Letterbox } from './letterbox';

/** Ultralytics' LetterBox padding colour (all three channels). */
export const PAD_VALUE = 114;

export interface LetterboxTensor {
  /** [1, 3, S, S]: the R, G and B planes, values 0..1. */
  readonly tensor: Float32Array;
  readonly letterbox: Letterbox;
  readonly info: ImageInfo;
  /** Milliseconds: `decode` reads the file and decodes its pixels (orientation, colour, 8-bit RGB), `preprocess` letterboxes and converts them to the tensor. */
  readonly timings: { decode: number; preprocess: number };
}

/** Writes the letterboxed pixels into a tensor: `letterboxToTensor`, or a way that shares the rows out between threads. */
export type LetterboxWriter = (rgb: RgbImage, lb: Letterbox, tensor: Float32Array) => unknown;

/**
 * Decodes `source` (orientation, first frame and colour as in `decodeRgb`)
 * and returns the model input for a size×size model. Give an OpenedImage (or
 * a Buffer) to avoid reading the file again, and `output` (3·size² floats, see
 * `letterboxToTensor`) to fill a tensor kept from an earlier image.
 */
export async function letterboxTensor(
  source: ImageSource | OpenedImage,
  size: number,
  opts: ImageReadOptions = {},
  output?: Float32Array,
  write: LetterboxWriter = letterboxToTensor,
): Promise<LetterboxTensor> {
  const start = performance.now();
  const image = await openImage(source, opts);
  const rgb = await runRgbPipeline(image, rgbPipeline(image));
  const decoded = performance.now();

  const letterbox = computeLetterbox(image.info.width, image.info.height, size);
  const tensor = output ?? new Float32Array(3 * size * size);
  await write(rgb, letterbox, tensor);
  const done = performance.now();

  return { tensor, letterbox, info: image.info, timings: { decode: decoded - start, preprocess: done - decoded } };
}

/**
 * Float32 values of the 256 byte values: `Math.fround(v / 255)`, exactly what
 * PyTorch computes with `img.float() / 255`, looked up instead of divided.
 */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** OpenCV's INTER_RESIZE_COEF_BITS: interpolation weights are integers out of 2048. */
const COEF_SCALE = 2048;

/**
 * Letterboxes decoded RGB pixels into a [1, 3, S, S] float tensor. `rgb` must
 * have the letterbox's image size. Every value of `output` is written, so a
 * tensor from an earlier image can be reused: a fresh 12 MB (S = 1024) costs
 * thousands of page faults on first touch, which on some virtual machines
 * take longer than the letterbox itself.
 */
export function letterboxToTensor(rgb: RgbImage, lb: Letterbox, output?: Float32Array): Float32Array {
  if (rgb.width !== lb.imageWidth || rgb.height !== lb.imageHeight) {
    throw new RangeError(
      `image is ${rgb.width}×${rgb.height} but the letterbox is for ${lb.imageWidth}×${lb.imageHeight}`,
    );
  }
  const { size, newHeight } = lb;
  const plane = size * size;
  if (output && output.length !== 3 * plane) {
    throw new RangeError(`the output tensor has ${output.length} values; a ${size}×${size} input needs ${3 * plane}`);
  }
  const tensor = output ?? new Float32Array(3 * plane);
  fillPadding(tensor, lb);
  letterboxRows(rgb, lb, tensor, 0, newHeight);
  return tensor;
}

/**
 * Rows [from, to) of the scaled image (0 is its first row, below the top padding),
 * written into `tensor` where `letterboxToTensor` puts them; nothing else is
 * touched, so threads can share the rows of one tensor out between them.
 */
export function letterboxRows(rgb: RgbImage, lb: Letterbox, tensor: Float32Array, from: number, to: number): void {
  const { size, newWidth, newHeight, padLeft, padTop } = lb;
  const plane = size * size;
  const src = rgb.data;
  const srcStride = rgb.width * 3;

  // Like Ultralytics, which calls cv2.resize only when the size changes.
  if (newWidth === rgb.width && newHeight === rgb.height) {
    for (let y = from; y < to; y++) {
      let s = y * srcStride;
      let d = (padTop + y) * size + padLeft;
      for (let x = 0; x < newWidth; x++, s += 3, d++) {
        tensor[d] = BYTE_TO_UNIT[src[s]];
        tensor[plane + d] = BYTE_TO_UNIT[src[s + 1]];
        tensor[2 * plane + d] = BYTE_TO_UNIT[src[s + 2]];
      }
    }
    return;
  }

  const cols = linearTaps(rgb.width, newWidth, true, 3);
  const rows = linearTaps(rgb.height, newHeight, false, srcStride);
  // Source rows resized horizontally, as integers scaled by 2048. Consecutive
  // output rows mostly share source rows, so the last two are kept.
  const rowWidth = newWidth * 3;
  let rowA = new Int32Array(rowWidth);
  let rowB = new Int32Array(rowWidth);
  let rowAStart = -1;
  let rowBStart = -1;
  for (let y = from; y < to; y++) {
    const first = rows.first[y];
    const second = rows.second[y];
    if (first !== rowAStart) {
      if (first === rowBStart) {
        [rowA, rowB] = [rowB, rowA];
        rowBStart = rowAStart;
      } else {
        resizeRow(src, first, cols, rowA);
      }
      rowAStart = first;
    }
    if (second !== rowBStart) {
      resizeRow(src, second, cols, rowB);
      rowBStart = second;
    }
    mixRows(rowA, rowB, rows.weight0[y], rows.weight1[y], tensor, (padTop + y) * size + padLeft, plane);
  }
}

/** Copies rows [from, to) of the scaled image, as `letterboxRows` wrote them, from one tensor to another. */
export function copyLetterboxRows(source: Float32Array, target: Float32Array, lb: Letterbox, from: number, to: number): void {
  const plane = lb.size * lb.size;
  for (let p = 0; p < 3; p++) {
    for (let y = from; y < to; y++) {
      const start = p * plane + (lb.padTop + y) * lb.size + lb.padLeft;
      target.set(source.subarray(start, start + lb.newWidth), start);
    }
  }
}

/** The source rows that rows [from, to) of the scaled image read: first and last, inclusive. */
export function sourceRowsOf(lb: Letterbox, from: number, to: number): [number, number] {
  // Unscaled, rows are copied; scaled, rows are resampled, like letterboxRows.
  if (lb.newHeight === lb.imageHeight && lb.newWidth === lb.imageWidth) return [from, to - 1];
  const rows = linearTaps(lb.imageHeight, lb.newHeight, false, 1);
  let lo = Infinity, hi = -Infinity;
  for (let y = from; y < to; y++) {
    lo = Math.min(lo, rows.first[y], rows.second[y]);
    hi = Math.max(hi, rows.first[y], rows.second[y]);
  }
  return [lo, hi];
}

/** Writes the grey padding around the scaled image, in all three planes. */
export function fillPadding(tensor: Float32Array, lb: Letterbox): void {
  const { size, newWidth, newHeight, padLeft, padTop } = lb;
  const grey = BYTE_TO_UNIT[PAD_VALUE]!;
  const right = padLeft + newWidth;
  for (let p = 0; p < 3; p++) {
    const plane = p * size * size;
    tensor.fill(grey, plane, plane + padTop * size);
    tensor.fill(grey, plane + (padTop + newHeight) * size, plane + size * size);
    if (newWidth === size) continue;
    for (let y = padTop; y < padTop + newHeight; y++) {
      tensor.fill(grey, plane + y * size, plane + y * size + padLeft);
      tensor.fill(grey, plane + y * size + right, plane + (y + 1) * size);
    }
  }
}

/** One source row (starting at byte `start`) resized horizontally; OpenCV's HResizeLinear. */
function resizeRow(src: Uint8Array, start: number, cols: Taps, out: Int32Array): void {
  const { first, second, weight0, weight1 } = cols;
  for (let x = 0, o = 0; x < first.length; x++, o += 3) {
    const s0 = start + first[x];
    const s1 = start + second[x];
    const w0 = weight0[x];
    const w1 = weight1[x];
    out[o] = src[s0] * w0 + src[s1] * w1;
    out[o + 1] = src[s0 + 1] * w0 + src[s1 + 1] * w1;
    out[o + 2] = src[s0 + 2] * w0 + src[s1 + 2] * w1;
  }
}

/** Two horizontally resized rows mixed into one output row of the three tensor planes. */
function mixRows(
  rowA: Int32Array,
  rowB: Int32Array,
  b0: number,
  b1: number,
  tensor: Float32Array,
  offset: number,
  plane: number,
): void {
  for (let o = 0, d = offset; o < rowA.length; o += 3, d++) {
    tensor[d] = BYTE_TO_UNIT[verticalMix(rowA[o], rowB[o], b0, b1)];
    tensor[plane + d] = BYTE_TO_UNIT[verticalMix(rowA[o + 1], rowB[o + 1], b0, b1)];
    tensor[2 * plane + d] = BYTE_TO_UNIT[verticalMix(rowA[o + 2], rowB[o + 2], b0, b1)];
  }
}

/**
 * OpenCV's vectorised 8-bit vertical step (VResizeLinearVec_32s8u): each
 * product keeps its high 16 bits before the sum is rounded to 8 bits. The
 * plain fixed-point formula, (a·b0 + b·b1 + 2^21) >> 22, is off by one for
 * about one value in eight; this one matched opencv-python 4.14 (x86-64)
 * bit for bit on photos and noise, enlarging and shrinking.
 */
function verticalMix(a: number, b: number, b0: number, b1: number): number {
  const v = (((a >> 4) * b0) >> 16) + (((b >> 4) * b1) >> 16) + 2;
  return v >> 2; // 0..255: the weights sum to 2048 ± 1 and the inputs to at most 255 × 2049.
}

interface Taps {
  /** Where the first and second tap of each output index start: source index × stride. */
  first: Int32Array;
  second: Int32Array;
  /** Their weights, out of 2048. */
  weight0: Int32Array;
  weight1: Int32Array;
}

/**
 * OpenCV's INTER_LINEAR sample positions along one axis: output pixel d
 * centres on source position (d + 0.5)·scale − 0.5, computed in float32 as
 * OpenCV does, and positions outside the source read the border pixel.
 * OpenCV also zeroes the weight of the missing neighbour at the border, but
 * only across columns (`pinBorderWeights`); across rows it keeps the computed
 * weights and reads the border row twice, which can round differently.
 */
function linearTaps(sourceSize: number, outputSize: number, pinBorderWeights: boolean, stride: number): Taps {
  const first = new Int32Array(outputSize);
  const second = new Int32Array(outputSize);
  const weight0 = new Int32Array(outputSize);
  const weight1 = new Int32Array(outputSize);
  // Not sourceSize / outputSize: OpenCV inverts its inverse scale, which can differ in the last bit.
  const scale = 1 / (outputSize / sourceSize);
  const last = sourceSize - 1;
  for (let d = 0; d < outputSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (pinBorderWeights && (s < 0 || s >= last)) {
      s = Math.min(Math.max(s, 0), last);
      f = 0;
    }
    first[d] = Math.min(Math.max(s, 0), last) * stride;
    second[d] = Math.min(Math.max(s + 1, 0), last) * stride;
    // saturate_cast<short> rounds with cvRound, halves to even.
    weight0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    weight1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { first, second, weight0, weight1 };
}

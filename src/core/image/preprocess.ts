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
 * would see a different image from the one the reference feeds it. The
 * letterbox kernel (src/core/wasm/assembly/kernels.ts) follows OpenCV's 8-bit
 * INTER_LINEAR, fixed-point weights and rounding included (checked bit for bit
 * against opencv-python 4.14), and writes the float tensor as it goes:
 * resizing and conversion are one pass over the pixels.
 * The price is decoding at full size, where sharp could shrink a large JPEG
 * while decoding it: for a 6000×4000 JPEG that is about 0.4 s instead of
 * 0.06 s on a 2-core machine, but with different pixels.
 */
import { performance } from 'node:perf_hooks';
import { openImage, rgbPipeline, runRgbPipeline } from './decode';
import type { ImageInfo, ImageReadOptions, ImageSource, OpenedImage, RgbImage } from './decode';
import { computeLetterbox, roundHalfEven } from './letterbox';
import type { Letterbox } from './letterbox';
import { KernelLayout, Kernels, kernelMemory } from '../wasm/kernels';

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
): Promise<LetterboxTensor> {
  const start = performance.now();
  const image = await openImage(source, opts);
  const rgb = await runRgbPipeline(image, rgbPipeline(image));
  const decoded = performance.now();

  const letterbox = computeLetterbox(image.info.width, image.info.height, size);
  const tensor = output ?? new Float32Array(3 * size * size);
  letterboxToTensor(rgb, letterbox, tensor);
  const done = performance.now();

  return { tensor, letterbox, info: image.info, timings: { decode: decoded - start, preprocess: done - decoded } };
}

/** The value PyTorch's `img.float() / 255` gives a byte, in float32. */
const PAD_UNIT = Math.fround(PAD_VALUE / 255);

/** OpenCV's INTER_RESIZE_COEF_BITS: interpolation weights are integers out of 2048. */
const COEF_SCALE = 2048;

/**
 * The letterbox kernel's memory, kept between images so that it is touched for
 * the first time once (fresh memory costs a page fault per 4 KiB, which on some
 * virtual machines takes longer than the letterbox itself), up to this size: a
 * 40 MP photo at S = 1024. A larger image gets a memory of its own, freed after.
 */
const RETAINED_KERNEL_BYTES = 128 * 2 ** 20;
let retainedKernels: Kernels | null = null;

/**
 * Letterboxes decoded RGB pixels into a [1, 3, S, S] float tensor. `rgb` must
 * have the letterbox's image size. Every value of `output` is written, so a
 * tensor from an earlier image can be reused: a fresh 12 MB (S = 1024) costs
 * thousands of page faults on first touch.
 *
 * The resampling runs in WebAssembly (src/core/wasm); this function lays out
 * its inputs, copies the pixels in and the tensor out.
 */
export function letterboxToTensor(rgb: RgbImage, lb: Letterbox, output?: Float32Array): Float32Array {
  if (rgb.width !== lb.imageWidth || rgb.height !== lb.imageHeight) {
    throw new RangeError(
      `image is ${rgb.width}×${rgb.height} but the letterbox is for ${lb.imageWidth}×${lb.imageHeight}`,
    );
  }
  if (rgb.data.length !== rgb.width * rgb.height * 3) {
    throw new RangeError(`a ${rgb.width}×${rgb.height} RGB image has ${rgb.width * rgb.height * 3} bytes, not ${rgb.data.length}`);
  }
  const { size, newWidth, newHeight, padLeft, padTop } = lb;
  const values = 3 * size * size;
  if (output && output.length !== values) {
    throw new RangeError(`the output tensor has ${output.length} values; a ${size}×${size} input needs ${values}`);
  }

  const layout = new KernelLayout();
  const src = layout.take(rgb.data.length);
  const cols = layout.take(16 * newWidth);
  const rows = layout.take(16 * newHeight);
  const scratch = layout.take(24 * newWidth);
  const tensor = layout.take(4 * values);
  const kernels =
    layout.size <= RETAINED_KERNEL_BYTES
      ? (retainedKernels ??= new Kernels(kernelMemory(RETAINED_KERNEL_BYTES)))
      : new Kernels(kernelMemory(layout.size));
  kernels.reserve(layout.size);

  const memory = kernels.memory.buffer;
  new Uint8Array(memory, src, rgb.data.length).set(rgb.data);
  linearTaps(rgb.width, newWidth, true, 3, new Int32Array(memory, cols, 4 * newWidth));
  linearTaps(rgb.height, newHeight, false, rgb.width * 3, new Int32Array(memory, rows, 4 * newHeight));
  const result = new Float32Array(memory, tensor, values);
  fillPadding(result, lb);
  kernels.letterbox(src, cols, rows, newWidth, newHeight, scratch, tensor, size, padLeft, padTop);
  // ONNX Runtime does not take shared memory as input, so the tensor is copied out.
  const out = output ?? new Float32Array(values);
  out.set(result);
  return out;
}

/** Writes the grey padding around the scaled image, in all three planes. */
function fillPadding(tensor: Float32Array, lb: Letterbox): void {
  const { size, newWidth, newHeight, padLeft, padTop } = lb;
  const right = padLeft + newWidth;
  for (let p = 0; p < 3; p++) {
    const plane = p * size * size;
    tensor.fill(PAD_UNIT, plane, plane + padTop * size);
    tensor.fill(PAD_UNIT, plane + (padTop + newHeight) * size, plane + size * size);
    if (newWidth === size) continue;
    for (let y = padTop; y < padTop + newHeight; y++) {
      tensor.fill(PAD_UNIT, plane + y * size, plane + y * size + padLeft);
      tensor.fill(PAD_UNIT, plane + y * size + right, plane + (y + 1) * size);
    }
  }
}

/**
 * OpenCV's INTER_LINEAR sample positions along one axis, as the letterbox
 * kernel reads them: four integers per output index, the offsets of its two
 * source taps (source index × stride) and their weights out of 2048. Output
 * pixel d centres on source position (d + 0.5)·scale − 0.5, computed in
 * float32 as OpenCV does, and positions outside the source read the border
 * pixel. OpenCV also zeroes the weight of the missing neighbour at the border,
 * but only across columns (`pinBorderWeights`); across rows it keeps the
 * computed weights and reads the border row twice, which can round differently.
 * (Where the size does not change, these taps copy the pixels unchanged, as
 * Ultralytics does by not calling cv2.resize.)
 */
function linearTaps(sourceSize: number, outputSize: number, pinBorderWeights: boolean, stride: number, taps: Int32Array): void {
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
    taps[4 * d] = Math.min(Math.max(s, 0), last) * stride;
    taps[4 * d + 1] = Math.min(Math.max(s + 1, 0), last) * stride;
    // saturate_cast<short> rounds with cvRound, halves to even.
    taps[4 * d + 2] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    taps[4 * d + 3] = roundHalfEven(f * COEF_SCALE);
  }
}

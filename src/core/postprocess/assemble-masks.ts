/**
 * Masks from prototypes, at the original image's resolution ("retina" masks, as
 * Ultralytics' `process_mask_native`): logits = coefficients · prototypes, sampled
 * bilinearly (half-pixel centres, edge clamped, as PyTorch's `interpolate` with
 * align_corners=False) at each image pixel's centre mapped through the letterbox,
 * kept inside the detection's box, thresholded at logit 0 (sigmoid 0.5).
 *
 * Only pixels inside each box are visited and only the prototype cells under the
 * box are combined, so the cost follows the boxes, not the image size. Both steps
 * run in WebAssembly (src/core/wasm/assembly/kernels.ts: `logits`, in float32 as
 * the reference's matrix product, and `fillMask`, which says how the fill saves
 * work); this module lays out their inputs. In JavaScript the logits took three
 * times as long and the fill half as long again.
 */
import { allocateBits, type BoxMask, wordsPerRow } from '../masks/box-mask';
import { KernelLayout, Kernels, kernelMemory } from '../wasm/kernels';

export interface MaskGeometry {
  imageWidth: number;
  imageHeight: number;
  /** Model input side S and the letterboxed image inside it. */
  modelSize: number;
  resizedWidth: number;
  resizedHeight: number;
  padLeft: number;
  padTop: number;
}

export interface PrototypeShape {
  channels: number;
  height: number;
  width: number;
}

export interface Prototypes extends PrototypeShape {
  data: Float32Array; // [channels, height, width]
}

/** Where one thread that assembles masks keeps its work, as byte offsets in kernel memory. */
export interface AssemblerScratch {
  /** One mask's coefficients (float32 per channel) and logits (float32 per prototype cell). */
  coefficients: number;
  logits: number;
  /** The image's sampling tables: 16 bytes per image column, then per image row, and the column weights alone, 4 bytes per column (see `fillMask`). */
  tables: number;
  columnWeights: number;
  /** The fill's own scratch: a mask's column runs (16 bytes per column), its mixed runs (4 bytes per column) and a row template. */
  runs: number;
  mixed: number;
  template: number;
  /** The mask's rows of bits, as large as a mask covering the whole image, and a spare word (see `fillMask`). */
  bits: number;
}

/**
 * Prototypes copied into a kernel memory (src/core/wasm), where the logits
 * kernel reads them (`offset`), with the scratch of one thread that assembles
 * masks from them.
 */
export interface PlacedPrototypes extends PrototypeShape {
  kernels: Kernels;
  offset: number;
  scratch: AssemblerScratch;
}

/**
 * Copies `protos` into kernel memory, with scratch for each of `threads` threads
 * that assemble masks of an image of `geometry`: into the memory of `kernels`,
 * grown as needed, or into a memory of their own, as large as they need. Threads
 * with kernel instances of their own over the same (shared) memory use the same
 * offsets.
 */
export function placePrototypes(
  geometry: MaskGeometry,
  protos: Prototypes,
  threads: number,
  kernels?: Kernels,
): { kernels: Kernels; offset: number; scratch: AssemblerScratch[] } {
  const { imageWidth: W, imageHeight: H } = geometry;
  const layout = new KernelLayout();
  const offset = layout.take(4 * protos.data.length);
  const scratch = Array.from({ length: threads }, () => ({
    coefficients: layout.take(4 * protos.channels),
    logits: layout.take(4 * protos.height * protos.width),
    tables: layout.take(16 * (W + H)),
    // Three more: the fill reads weights four at a time.
    columnWeights: layout.take(4 * (W + 3)),
    runs: layout.take(16 * W),
    mixed: layout.take(4 * W),
    template: layout.take(4 * wordsPerRow(W)),
    bits: layout.take(4 * (wordsPerRow(W) * H + 1)),
  }));
  kernels ??= new Kernels(kernelMemory(layout.size));
  kernels.reserve(layout.size);
  new Float32Array(kernels.memory.buffer, offset, protos.data.length).set(protos.data);
  return { kernels, offset, scratch };
}

/**
 * The sampling of one image axis, written as the fill kernel reads it: for each
 * pixel index i, from entry `first` on, 16 bytes (4 values of `ints`, and of
 * `floats`, two views of the same table): the two prototype cells to blend (lo,
 * hi), the weight of the second (float32), and the first pixel index after i
 * whose lo differs (pixels in between blend the same two cells).
 */
function writeAxisSampling(
  ints: Int32Array,
  floats: Float32Array,
  first: number,
  imageSide: number,
  resizedSide: number,
  pad: number,
  modelSize: number,
  protoSide: number,
): void {
  const toModel = resizedSide / imageSide;
  const toProto = protoSide / modelSize;
  for (let i = 0; i < imageSide; i++) {
    const u = Math.max(0, ((i + 0.5) * toModel + pad) * toProto - 0.5);
    const u0 = Math.min(Math.floor(u), protoSide - 1);
    const e = 4 * (first + i);
    ints[e] = u0;
    ints[e + 1] = Math.min(u0 + 1, protoSide - 1);
    floats[e + 2] = u - u0;
  }
  for (let i = imageSide - 1; i >= 0; i--) {
    const e = 4 * (first + i);
    ints[e + 3] = i + 1 < imageSide && ints[e + 4] === ints[e] ? ints[e + 7]! : i + 1;
  }
}

/** Precomputed sampling tables of one image, shared by all its masks. */
export class MaskAssembler {
  private readonly protos: PlacedPrototypes;
  /** The sampling tables in kernel memory (see `writeAxisSampling`): image columns, then image rows. */
  private readonly table: Int32Array;

  /** Plain `Prototypes` are copied into a kernel memory of the assembler's own. */
  constructor(
    private readonly geometry: MaskGeometry,
    protos: Prototypes | PlacedPrototypes,
  ) {
    if ('data' in protos) {
      const { kernels, offset, scratch } = placePrototypes(geometry, protos, 1);
      protos = { channels: protos.channels, height: protos.height, width: protos.width, kernels, offset, scratch: scratch[0]! };
    }
    this.protos = protos;
    const g = geometry;
    const memory = protos.kernels.memory.buffer;
    const entries = 4 * (g.imageWidth + g.imageHeight);
    this.table = new Int32Array(memory, protos.scratch.tables, entries);
    const floats = new Float32Array(memory, protos.scratch.tables, entries);
    writeAxisSampling(this.table, floats, 0, g.imageWidth, g.resizedWidth, g.padLeft, g.modelSize, protos.width);
    writeAxisSampling(this.table, floats, g.imageWidth, g.imageHeight, g.resizedHeight, g.padTop, g.modelSize, protos.height);
    const columnWeights = new Float32Array(memory, protos.scratch.columnWeights, g.imageWidth);
    for (let x = 0; x < g.imageWidth; x++) columnWeights[x] = floats[4 * x + 2]!;
  }

  /**
   * The mask of one detection: `coefficients` (one per prototype channel) and its
   * box in image pixels. A pixel is inside the box when its centre is:
   * x1 <= x + 0.5 < x2. (Ultralytics' `crop_mask` compares the pixel index x, the
   * pixel's left edge, which shifts the crop half a pixel; on small images that
   * drops a whole row or column of the object.)
   */
  assemble(coefficients: Float32Array, box: readonly [number, number, number, number]): BoxMask {
    const { imageWidth: W, imageHeight: H } = this.geometry;
    const left = clamp(Math.ceil(box[0] - 0.5), 0, W);
    const right = clamp(Math.ceil(box[2] - 0.5), 0, W);
    const top = clamp(Math.ceil(box[1] - 0.5), 0, H);
    const bottom = clamp(Math.ceil(box[3] - 0.5), 0, H);
    const width = Math.max(0, right - left);
    const height = Math.max(0, bottom - top);
    const bits = allocateBits(width, height);
    if (width === 0 || height === 0) return { imageWidth: W, imageHeight: H, left, top, width, height, bits, area: 0 };

    // The prototype cells under the box: lo of its first column and row, hi of its last.
    const { table } = this;
    const c0 = table[4 * left]!, c1 = table[4 * (right - 1) + 1]!;
    const r0 = table[4 * (W + top)]!, r1 = table[4 * (W + bottom - 1) + 1]!;
    const { kernels, offset, scratch, channels, height: ph, width: pw } = this.protos;
    new Float32Array(kernels.memory.buffer, scratch.coefficients, channels).set(coefficients.subarray(0, channels));
    kernels.logits(offset, pw, ph, channels, scratch.coefficients, r0, r1, c0, c1, scratch.logits);
    const area = kernels.fillMask(
      scratch.logits, c1 - c0 + 1, r0, c0,
      scratch.tables, W, scratch.columnWeights,
      left, right, top, bottom,
      scratch.runs, scratch.mixed, scratch.template, scratch.bits,
    );
    bits.set(new Uint32Array(kernels.memory.buffer, scratch.bits, bits.length));
    return { imageWidth: W, imageHeight: H, left, top, width, height, bits, area };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

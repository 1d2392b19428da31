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
  /** The image's sampling tables: 16 bytes per image column, then per image row (see `fillMask`). */
  tables: number;
  /** The fill's own scratch: a mask's column runs (16 bytes per column), its mixed runs (4 bytes per column) and a row template. */
  runs: number;
  mixed: number;
  template: number;
  /** The mask's rows of bits, as large as a mask covering the whole image. */
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
    runs: layout.take(16 * W),
    mixed: layout.take(4 * W),
    template: layout.take(4 * wordsPerRow(W)),
    bits: layout.take(4 * wordsPerRow(W) * H),
  }));
  kernels ??= new Kernels(kernelMemory(layout.size));
  kernels.reserve(layout.size);
  new Float32Array(kernels.memory.buffer, offset, protos.data.length).set(protos.data);
  return { kernels, offset, scratch };
}

/** For each image pixel index along one axis: the two prototype cells to blend and the weight of the second. */
interface AxisSampling {
  lo: Int32Array;
  hi: Int32Array;
  weight: Float32Array;
  /** The first pixel index after i whose `lo` differs from pixel i's: pixels in between blend the same two cells. */
  runEnd: Int32Array;
  /** How much `weight` grows from one pixel to the next within a run. */
  step: number;
}
function axisSampling(imageSide: number, resizedSide: number, pad: number, modelSize: number, protoSide: number): AxisSampling {
  const lo = new Int32Array(imageSide);
  const hi = new Int32Array(imageSide);
  const weight = new Float32Array(imageSide);
  const toModel = resizedSide / imageSide;
  const toProto = protoSide / modelSize;
  for (let i = 0; i < imageSide; i++) {
    const u = Math.max(0, ((i + 0.5) * toModel + pad) * toProto - 0.5);
    const u0 = Math.min(Math.floor(u), protoSide - 1);
    lo[i] = u0;
    hi[i] = Math.min(u0 + 1, protoSide - 1);
    weight[i] = u - u0;
  }
  const runEnd = new Int32Array(imageSide);
  for (let i = imageSide - 1; i >= 0; i--) runEnd[i] = i + 1 < imageSide && lo[i + 1] === lo[i] ? runEnd[i + 1]! : i + 1;
  return { lo, hi, weight, runEnd, step: toModel * toProto };
}

/** Precomputed sampling tables of one image, shared by all its masks. */
export class MaskAssembler {
  private readonly protos: PlacedPrototypes;
  private readonly cols: AxisSampling;
  private readonly rows: AxisSampling;

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
    this.cols = axisSampling(g.imageWidth, g.resizedWidth, g.padLeft, g.modelSize, protos.width);
    this.rows = axisSampling(g.imageHeight, g.resizedHeight, g.padTop, g.modelSize, protos.height);
    // The tables as the fill kernel reads them: lo, hi, weight and run end of each column, then of each row.
    const memory = protos.kernels.memory.buffer;
    const entries = g.imageWidth + g.imageHeight;
    const ints = new Int32Array(memory, protos.scratch.tables, 4 * entries);
    const floats = new Float32Array(memory, protos.scratch.tables, 4 * entries);
    [this.cols, this.rows].forEach((axis, a) => {
      const first = a === 0 ? 0 : g.imageWidth;
      for (let i = 0; i < axis.lo.length; i++) {
        const e = 4 * (first + i);
        ints[e] = axis.lo[i]!;
        ints[e + 1] = axis.hi[i]!;
        floats[e + 2] = axis.weight[i]!;
        ints[e + 3] = axis.runEnd[i]!;
      }
    });
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

    const { cols, rows } = this;
    const c0 = cols.lo[left]!, c1 = cols.hi[right - 1]!;
    const r0 = rows.lo[top]!, r1 = rows.hi[bottom - 1]!;
    const { kernels, offset, scratch, channels, height: ph, width: pw } = this.protos;
    new Float32Array(kernels.memory.buffer, scratch.coefficients, channels).set(coefficients.subarray(0, channels));
    kernels.logits(offset, pw, ph, channels, scratch.coefficients, r0, r1, c0, c1, scratch.logits);
    const area = kernels.fillMask(
      scratch.logits, c1 - c0 + 1, r0, c0,
      scratch.tables, W, cols.step,
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

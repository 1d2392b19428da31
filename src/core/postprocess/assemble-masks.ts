/**
 * Masks from prototypes, at the original image's resolution ("retina" masks, as
 * Ultralytics' `process_mask_native`): logits = coefficients · prototypes, sampled
 * bilinearly (half-pixel centres, edge clamped, as PyTorch's `interpolate` with
 * align_corners=False) at each image pixel's centre mapped through the letterbox,
 * kept inside the detection's box, thresholded at logit 0 (sigmoid 0.5).
 *
 * Only pixels inside each box are visited and only the prototype cells under the
 * box are combined, so the cost follows the boxes, not the image size. The logits
 * are computed in float32, as the reference's matrix product does, by a SIMD
 * WebAssembly kernel (src/core/wasm): in JavaScript they cost three times as much.
 */
import { allocateBits, type BoxMask, countBits, wordsPerRow } from '../masks/box-mask';
import { KernelLayout, Kernels } from '../wasm/kernels';

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

/** Where one thread that assembles masks keeps a mask's coefficients and logits: byte offsets in kernel memory. */
export interface AssemblerScratch {
  coefficients: number;
  logits: number;
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
 * Copies `protos` into the memory of `kernels`, grown as needed, with scratch
 * for each of `threads` threads. Threads with kernel instances of their own
 * over the same (shared) memory use the same offsets.
 */
export function placePrototypes(kernels: Kernels, protos: Prototypes, threads: number): { offset: number; scratch: AssemblerScratch[] } {
  const layout = new KernelLayout();
  const offset = layout.take(4 * protos.data.length);
  const scratch = Array.from({ length: threads }, () => ({
    coefficients: layout.take(4 * protos.channels),
    logits: layout.take(4 * protos.height * protos.width),
  }));
  kernels.reserve(layout.size);
  new Float32Array(kernels.memory.buffer, offset, protos.data.length).set(protos.data);
  return { offset, scratch };
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

/** Sets bits [from, to) of the row starting at word `base`. */
function setBitRange(bits: Uint32Array, base: number, from: number, to: number): void {
  if (from >= to) return;
  let w = from >>> 5;
  const last = (to - 1) >>> 5;
  const head = ~0 << (from & 31);
  const tail = (to & 31) === 0 ? ~0 : ~(~0 << (to & 31));
  if (w === last) {
    bits[base + w] |= head & tail;
    return;
  }
  bits[base + w] |= head;
  for (w++; w < last; w++) bits[base + w] = 0xffffffff;
  bits[base + last] |= tail;
}

/** Precomputed sampling tables of one image, shared by all its masks. */
export class MaskAssembler {
  private readonly protos: PlacedPrototypes;
  private readonly cols: AxisSampling;
  private readonly rows: AxisSampling;
  /** Scratch for one mask at a time: its column runs and the band's row template. */
  private readonly runStart: Int32Array;
  private readonly runEnd: Int32Array;
  private readonly runLo: Int32Array;
  private readonly runHi: Int32Array;
  private readonly mixed: Int32Array;
  private readonly template: Uint32Array;

  /** Plain `Prototypes` are copied into a kernel memory of the assembler's own. */
  constructor(
    private readonly geometry: MaskGeometry,
    protos: Prototypes | PlacedPrototypes,
  ) {
    if ('data' in protos) {
      const kernels = new Kernels();
      const { offset, scratch } = placePrototypes(kernels, protos, 1);
      protos = { channels: protos.channels, height: protos.height, width: protos.width, kernels, offset, scratch: scratch[0]! };
    }
    this.protos = protos;
    const g = geometry;
    this.cols = axisSampling(g.imageWidth, g.resizedWidth, g.padLeft, g.modelSize, protos.width);
    this.rows = axisSampling(g.imageHeight, g.resizedHeight, g.padTop, g.modelSize, protos.height);
    this.runStart = new Int32Array(g.imageWidth);
    this.runEnd = new Int32Array(g.imageWidth);
    this.runLo = new Int32Array(g.imageWidth);
    this.runHi = new Int32Array(g.imageWidth);
    this.mixed = new Int32Array(g.imageWidth);
    this.template = new Uint32Array(wordsPerRow(g.imageWidth));
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

    const { cols, rows, runStart, runEnd, runLo, runHi, mixed, template } = this;
    const c0 = cols.lo[left]!, c1 = cols.hi[right - 1]!;
    const r0 = rows.lo[top]!, r1 = rows.hi[bottom - 1]!;
    const lw = c1 - c0 + 1;
    const logits = this.logits(coefficients, r0, r1, c0, c1);

    // Column runs: pixels between two prototype column centres blend the same two
    // columns, with a weight that grows from pixel to pixel.
    let runs = 0;
    for (let x = left; x < right; runs++) {
      const end = Math.min(cols.runEnd[x]!, right);
      runStart[runs] = x - left;
      runEnd[runs] = end - left;
      runLo[runs] = cols.lo[x]! - c0;
      runHi[runs] = cols.hi[x]! - c0;
      x = end;
    }

    const wpr = wordsPerRow(width);
    // Row bands likewise blend the same two prototype rows. A bilinear blend lies
    // between its four corner values, so a run whose four corners are all positive
    // is inside the mask on every row of the band, and one whose corners are all
    // non-positive is outside: those go into the band's template row, copied to each
    // of its rows. Only the remaining runs, where the mask's edge passes, are
    // evaluated row by row.
    for (let y = top; y < bottom; ) {
      const bandEnd = Math.min(rows.runEnd[y]!, bottom);
      const a0 = (rows.lo[y]! - r0) * lw, b0 = (rows.hi[y]! - r0) * lw;
      template.fill(0, 0, wpr);
      let mixedRuns = 0;
      for (let j = 0; j < runs; j++) {
        const p = logits[a0 + runLo[j]!]!, q = logits[a0 + runHi[j]!]!;
        const r = logits[b0 + runLo[j]!]!, s = logits[b0 + runHi[j]!]!;
        if (p > 0 && q > 0 && r > 0 && s > 0) setBitRange(template, 0, runStart[j]!, runEnd[j]!);
        else if (p > 0 || q > 0 || r > 0 || s > 0) mixed[mixedRuns++] = j;
      }
      for (; y < bandEnd; y++) {
        const rowBase = (y - top) * wpr;
        for (let w = 0; w < wpr; w++) bits[rowBase + w] = template[w]!;
        const wy = rows.weight[y]!;
        for (let m = 0; m < mixedRuns; m++) {
          const j = mixed[m]!;
          const pa = logits[a0 + runLo[j]!]!, pb = logits[b0 + runLo[j]!]!;
          const qa = logits[a0 + runHi[j]!]!, qb = logits[b0 + runHi[j]!]!;
          // Rounded to float32 like the blended row the reference computes.
          const a = Math.fround(pa + (pb - pa) * wy), b = Math.fround(qa + (qb - qa) * wy);
          const from = runStart[j]!, to = runEnd[j]!;
          if (a > 0 && b > 0) {
            setBitRange(bits, rowBase, from, to);
          } else if (a > 0 || b > 0) {
            // Inside pixels form a prefix (a > 0) or a suffix (b > 0) of the run: the
            // blend changes sign once, where the weight reaches -a / slope. Weights grow
            // by `step` per pixel, which estimates how many pixels in that is; rounding
            // can put the estimate a pixel off, and the two loops correct it exactly.
            const slope = b - a, n = to - from, first = left + from;
            let k = Math.ceil((-a / slope - cols.weight[first]!) / cols.step);
            k = k < 0 ? 0 : k > n ? n : k;
            const aInside = a > 0;
            while (k < n && a + slope * cols.weight[first + k]! > 0 === aInside) k++;
            while (k > 0 && a + slope * cols.weight[first + k - 1]! > 0 !== aInside) k--;
            if (aInside) setBitRange(bits, rowBase, from, from + k);
            else setBitRange(bits, rowBase, from + k, to);
          }
        }
      }
    }
    return { imageWidth: W, imageHeight: H, left, top, width, height, bits, area: countBits(bits) };
  }

  /**
   * coefficients · prototypes over prototype rows r0..r1 and columns c0..c1
   * (inclusive), by the logits kernel into this thread's scratch: a view valid
   * until the next call.
   */
  private logits(coefficients: Float32Array, r0: number, r1: number, c0: number, c1: number): Float32Array {
    const { kernels, offset, scratch, channels, height, width } = this.protos;
    const memory = kernels.memory.buffer;
    new Float32Array(memory, scratch.coefficients, channels).set(coefficients.subarray(0, channels));
    kernels.logits(offset, width, height, channels, scratch.coefficients, r0, r1, c0, c1, scratch.logits);
    return new Float32Array(memory, scratch.logits, (r1 - r0 + 1) * (c1 - c0 + 1));
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

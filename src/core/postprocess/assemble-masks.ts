/**
 * Masks from prototypes, at the original image's resolution ("retina" masks, as
 * Ultralytics' `process_mask_native`): logits = coefficients · prototypes, sampled
 * bilinearly (half-pixel centres, edge clamped, as PyTorch's `interpolate` with
 * align_corners=False) at each image pixel's centre mapped through the letterbox,
 * kept inside the detection's box, thresholded at logit 0 (sigmoid 0.5).
 *
 * Only pixels inside each box are visited and only the prototype cells under the
 * box are combined, so the cost follows the boxes, not the image size.
 */
import { allocateBits, type BoxMask, countBits, wordsPerRow } from '../masks/box-mask';

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

export interface Prototypes {
  data: Float32Array; // [channels, height, width]
  channels: number;
  height: number;
  width: number;
}

/** For each image pixel index along one axis: the two prototype cells to blend and the weight of the second. */
interface AxisSampling {
  lo: Int32Array;
  hi: Int32Array;
  weight: Float32Array;
  /** The first pixel index after i whose `lo` differs from pixel i's: pixels in between blend the same two cells. */
  runEnd: Int32Array;
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
  return { lo, hi, weight, runEnd };
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
  private readonly cols: AxisSampling;
  private readonly rows: AxisSampling;

  constructor(
    private readonly geometry: MaskGeometry,
    private readonly protos: Prototypes,
  ) {
    const g = geometry;
    this.cols = axisSampling(g.imageWidth, g.resizedWidth, g.padLeft, g.modelSize, protos.width);
    this.rows = axisSampling(g.imageHeight, g.resizedHeight, g.padTop, g.modelSize, protos.height);
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
    const lw = c1 - c0 + 1;
    const logits = this.logits(coefficients, r0, r1, c0, c1);

    const wpr = wordsPerRow(width);
    const blended = new Float32Array(lw);
    let lastLo = -1, lastHi = -1, lastW = -1;
    for (let y = top; y < bottom; y++) {
      const ylo = rows.lo[y]! - r0, yhi = rows.hi[y]! - r0, wy = rows.weight[y]!;
      // Consecutive image rows often sample the same prototype rows with the same weight.
      if (ylo !== lastLo || yhi !== lastHi || wy !== lastW) {
        const a = ylo * lw, b = yhi * lw;
        for (let c = 0; c < lw; c++) blended[c] = logits[a + c]! + (logits[b + c]! - logits[a + c]!) * wy;
        lastLo = ylo; lastHi = yhi; lastW = wy;
      }
      const rowBase = (y - top) * wpr;
      // Along the row, pixels between two prototype column centres blend the same two
      // values linearly, with a weight that grows from pixel to pixel: when both values
      // have one sign, so has every pixel between them; when they differ, the pixels
      // inside form a prefix (a > 0) or a suffix (b > 0) of the run, found by bisection.
      for (let x = left; x < right; ) {
        const end = Math.min(cols.runEnd[x]!, right);
        const a = blended[cols.lo[x]! - c0]!, b = blended[cols.hi[x]! - c0]!;
        if (a > 0 && b > 0) {
          setBitRange(bits, rowBase, x - left, end - left);
        } else if (a > 0 || b > 0) {
          let lo = x, hi = end; // first pixel whose sign differs from a's
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (a + (b - a) * cols.weight[mid]! > 0 === a > 0) lo = mid + 1;
            else hi = mid;
          }
          if (a > 0) setBitRange(bits, rowBase, x - left, lo - left);
          else setBitRange(bits, rowBase, lo - left, end - left);
        }
        x = end;
      }
    }
    return { imageWidth: W, imageHeight: H, left, top, width, height, bits, area: countBits(bits) };
  }

  /** coefficients · prototypes over prototype rows r0..r1 and columns c0..c1 (inclusive). */
  private logits(coefficients: Float32Array, r0: number, r1: number, c0: number, c1: number): Float32Array {
    const { data, channels, height, width } = this.protos;
    const lw = c1 - c0 + 1;
    const out = new Float32Array((r1 - r0 + 1) * lw);
    for (let k = 0; k < channels; k++) {
      const coef = coefficients[k]!;
      if (coef === 0) continue;
      const plane = k * height * width;
      for (let r = r0; r <= r1; r++) {
        const src = plane + r * width + c0;
        const dst = (r - r0) * lw;
        for (let c = 0; c < lw; c++) out[dst + c] += coef * data[src + c]!;
      }
    }
    return out;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

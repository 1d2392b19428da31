/**
 * The engine's hot loops as WebAssembly with 128-bit SIMD, written in
 * AssemblyScript and compiled by esbuild.mjs to dist/kernels.wasm
 * (src/core/wasm/kernels.ts loads it). In JavaScript they cost several times
 * as much (the letterbox of a 3 MP photo at S = 1024: 30 ms against 6.5), and
 * they lie on the critical path between opening an image and its masks.
 *
 * The memory is imported and shared, so that threads can run the kernels over
 * the same data: the engine's worker threads each compute mask logits from the
 * one copy of an image's prototypes. Kernels allocate nothing: the
 * caller lays out every buffer and passes byte offsets.
 */

// ---------------------------------------------------------------------------
// Letterbox: OpenCV's 8-bit INTER_LINEAR resize, as src/core/image/preprocess.ts
// describes it, written straight into the planar float tensor.

/**
 * One source row (starting at byte `start`) resized horizontally, as OpenCV's
 * HResizeLinear: integers scaled by 2048, into three planar rows of `n` i32.
 * `cols` holds four i32 per output column: the byte offsets of its two taps
 * within a row and their weights.
 */
@inline
function resizeRow(src: usize, start: i32, cols: usize, n: i32, out: usize, planeBytes: usize): void {
  for (let x = 0; x < n; x++) {
    const tap = cols + (<usize>x << 4);
    const s0 = src + <usize>(start + load<i32>(tap));
    const s1 = src + <usize>(start + load<i32>(tap, 4));
    const w0 = load<i32>(tap, 8);
    const w1 = load<i32>(tap, 12);
    const o = out + (<usize>x << 2);
    store<i32>(o, <i32>load<u8>(s0) * w0 + <i32>load<u8>(s1) * w1);
    store<i32>(o + planeBytes, <i32>load<u8>(s0, 1) * w0 + <i32>load<u8>(s1, 1) * w1);
    store<i32>(o + 2 * planeBytes, <i32>load<u8>(s0, 2) * w0 + <i32>load<u8>(s1, 2) * w1);
  }
}

/**
 * Rows of the scaled image into the tensor (padding is the caller's). `src`:
 * interleaved RGB bytes; `cols`, `rows`: four i32 per output column or row (for
 * rows, the byte offsets of the two source rows); `scratch`: 6·newWidth i32.
 * The vertical step is OpenCV's VResizeLinearVec_32s8u: each product keeps its
 * high 16 bits before the sum is rounded to 8 bits; then v / 255 in float32, as
 * PyTorch's `img.float() / 255`.
 */
export function letterbox(
  src: usize, cols: usize, rows: usize, newWidth: i32, newHeight: i32,
  scratch: usize, tensor: usize, size: i32, padLeft: i32, padTop: i32,
): void {
  const planeBytes = <usize>newWidth << 2;
  const tensorPlaneBytes = <usize>(size * size) << 2;
  // Consecutive output rows mostly share source rows, so the last two resized are kept.
  let rowA = scratch;
  let rowB = scratch + 3 * planeBytes;
  let rowAStart = -1;
  let rowBStart = -1;
  const byteScale = f32x4.splat(255);
  const rounding = i32x4.splat(2);
  for (let y = 0; y < newHeight; y++) {
    const tap = rows + (<usize>y << 4);
    const first = load<i32>(tap);
    const second = load<i32>(tap, 4);
    const b0 = load<i32>(tap, 8);
    const b1 = load<i32>(tap, 12);
    if (first != rowAStart) {
      if (first == rowBStart) {
        const swap = rowA;
        rowA = rowB;
        rowB = swap;
        rowBStart = rowAStart;
      } else {
        resizeRow(src, first, cols, newWidth, rowA, planeBytes);
      }
      rowAStart = first;
    }
    if (second != rowBStart) {
      resizeRow(src, second, cols, newWidth, rowB, planeBytes);
      rowBStart = second;
    }
    const vb0 = i32x4.splat(b0);
    const vb1 = i32x4.splat(b1);
    const rowOut = tensor + (<usize>((padTop + y) * size + padLeft) << 2);
    for (let p: usize = 0; p < 3; p++) {
      const a = rowA + p * planeBytes;
      const b = rowB + p * planeBytes;
      const out = rowOut + p * tensorPlaneBytes;
      let x = 0;
      for (; x + 4 <= newWidth; x += 4) {
        const o = <usize>x << 2;
        const top = i32x4.shr_s(i32x4.mul(i32x4.shr_s(v128.load(a + o), 4), vb0), 16);
        const bottom = i32x4.shr_s(i32x4.mul(i32x4.shr_s(v128.load(b + o), 4), vb1), 16);
        const byte = i32x4.shr_s(i32x4.add(i32x4.add(top, bottom), rounding), 2);
        v128.store(out + o, f32x4.div(f32x4.convert_i32x4_s(byte), byteScale));
      }
      for (; x < newWidth; x++) {
        const o = <usize>x << 2;
        const byte = ((((load<i32>(a + o) >> 4) * b0) >> 16) + (((load<i32>(b + o) >> 4) * b1) >> 16) + 2) >> 2;
        store<f32>(out + o, <f32>byte / 255);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Mask logits: coefficients · prototypes over the prototype cells under a box
// (src/core/postprocess/assemble-masks.ts blends and thresholds them).

/**
 * coefficients · prototypes at prototype rows r0..r1 and columns c0..c1
 * (inclusive), into `out`, row by row. `protos`: [channels, height, width]
 * float32; `coefficients`: `channels` float32. Float32 throughout, like the
 * reference's matrix product; each cell sums its channels in order, a product
 * then a sum, so a cell comes out the same whichever loop computes it.
 */
export function logits(
  protos: usize, width: i32, height: i32, channels: i32, coefficients: usize,
  r0: i32, r1: i32, c0: i32, c1: i32, out: usize,
): void {
  const planeBytes = <usize>(width * height) << 2;
  const cells = c1 - c0 + 1;
  for (let r = r0; r <= r1; r++) {
    const rowIn = protos + (<usize>(r * width + c0) << 2);
    const rowOut = out + (<usize>((r - r0) * cells) << 2);
    let c = 0;
    // Sixteen cells per pass: four independent sums keep the adder busy.
    for (; c + 16 <= cells; c += 16) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let p = rowIn + (<usize>c << 2);
      for (let k = 0; k < channels; k++, p += planeBytes) {
        const coefficient = v128.load32_splat(coefficients + (<usize>k << 2));
        s0 = f32x4.add(s0, f32x4.mul(coefficient, v128.load(p)));
        s1 = f32x4.add(s1, f32x4.mul(coefficient, v128.load(p, 16)));
        s2 = f32x4.add(s2, f32x4.mul(coefficient, v128.load(p, 32)));
        s3 = f32x4.add(s3, f32x4.mul(coefficient, v128.load(p, 48)));
      }
      const o = rowOut + (<usize>c << 2);
      v128.store(o, s0);
      v128.store(o, s1, 16);
      v128.store(o, s2, 32);
      v128.store(o, s3, 48);
    }
    for (; c + 4 <= cells; c += 4) {
      let s = f32x4.splat(0);
      let p = rowIn + (<usize>c << 2);
      for (let k = 0; k < channels; k++, p += planeBytes) {
        s = f32x4.add(s, f32x4.mul(v128.load32_splat(coefficients + (<usize>k << 2)), v128.load(p)));
      }
      v128.store(rowOut + (<usize>c << 2), s);
    }
    for (; c < cells; c++) {
      let s: f32 = 0;
      let p = rowIn + (<usize>c << 2);
      for (let k = 0; k < channels; k++, p += planeBytes) s += load<f32>(coefficients + (<usize>k << 2)) * load<f32>(p);
      store<f32>(rowOut + (<usize>c << 2), s);
    }
  }
}

// ---------------------------------------------------------------------------
// Mask fill: the bilinear upsampling of a mask's logits to the image's pixels,
// thresholded at 0, as bits (src/core/postprocess/assemble-masks.ts lays out
// its inputs).

/** Sets bits [from, to) of the row of 32-bit words at `row`. */
@inline
function setBitRange(row: usize, from: i32, to: i32): void {
  if (from >= to) return;
  let w = from >>> 5;
  const last = (to - 1) >>> 5;
  const head = -1 << (from & 31);
  const tail = (to & 31) == 0 ? -1 : ~(-1 << (to & 31));
  if (w == last) {
    const p = row + (<usize>w << 2);
    store<i32>(p, load<i32>(p) | (head & tail));
    return;
  }
  let p = row + (<usize>w << 2);
  store<i32>(p, load<i32>(p) | head);
  for (w++, p += 4; w < last; w++, p += 4) store<i32>(p, -1);
  store<i32>(p, load<i32>(p) | tail);
}

/**
 * Sets, among the `n` bits from bit `from` of the row of words at `row`, those
 * of the pixels where a + slope · weight > 0 (in float64), `weights` holding
 * each pixel's float32 weight. Four pixels a step, with no branch on the
 * values: along a mask's edge the sign is as good as random, and deciding with
 * branches cost more in mispredictions than the arithmetic (on masks with
 * ragged edges the fill took 70% longer that way). A step may read three
 * weights past the last; their bits are dropped. The 64-bit read-modify-write
 * may touch the word after the run's last, setting nothing there (so the
 * buffer needs one spare word after its last row).
 */
@inline
function setPositiveBits(row: usize, from: i32, n: i32, a: f64, slope: f64, weights: usize): void {
  const va = f64x2.splat(a);
  const vs = f64x2.splat(slope);
  const zero = f64x2.splat(0);
  for (let c = 0; c < n; c += 32) {
    const count = min(32, n - c);
    let pattern: u32 = 0;
    for (let k = 0; k < count; k += 4) {
      const w = v128.load(weights + (<usize>(c + k) << 2));
      const lo = f64x2.gt(f64x2.add(va, f64x2.mul(vs, f64x2.promote_low_f32x4(w))), zero);
      const hi = f64x2.gt(f64x2.add(va, f64x2.mul(vs, f64x2.promote_low_f32x4(i32x4.shuffle(w, w, 2, 3, 0, 1)))), zero);
      pattern |= <u32>i32x4.bitmask(i32x4.shuffle(lo, hi, 0, 2, 4, 6)) << k;
    }
    if (count < 32) pattern &= (<u32>1 << count) - 1;
    const bit = from + c;
    const p = row + (<usize>(bit >>> 5) << 2);
    store<u64>(p, load<u64>(p) | (<u64>pattern << <u64>(bit & 31)));
  }
}

/**
 * The bits of one mask over the image pixels [left, right) × [top, bottom);
 * returns how many are set. `logits`: the prototype cells from row r0 and
 * column c0 on, `cells` per row, float32. `tables`: for each image column then
 * for each image row, the sampling of that axis (lo and hi prototype index as
 * i32, the weight of hi as f32, and the end of the run of pixels that share lo,
 * as i32), `columns` and `rows` entries of 16 bytes; `columnWeights`: the
 * columns' weights again, one float32 after the other (read four at a time).
 * `runs` (16 bytes per column), `mixed` (4 per column) and `template` (one row
 * of words) are scratch; `bits` receives the rows of words, and needs one spare
 * word after them.
 */
export function fillMask(
  logits: usize, cells: i32, r0: i32, c0: i32,
  tables: usize, columns: i32, columnWeights: usize,
  left: i32, right: i32, top: i32, bottom: i32,
  runs: usize, mixed: usize, template: usize, bits: usize,
): i32 {
  const colTable = tables;
  const rowTable = tables + (<usize>columns << 4);
  const width = right - left;
  const wordsPerRow = (width + 31) >>> 5;
  const rowBytes = <usize>wordsPerRow << 2;

  // Column runs: pixels between two prototype column centres blend the same two
  // columns, with a weight that grows from pixel to pixel.
  let runCount = 0;
  for (let x = left; x < right; runCount++) {
    const t = colTable + (<usize>x << 4);
    const end = min(load<i32>(t, 12), right);
    const r = runs + (<usize>runCount << 4);
    store<i32>(r, x - left);
    store<i32>(r, end - left, 4);
    store<i32>(r, load<i32>(t) - c0, 8);
    store<i32>(r, load<i32>(t, 4) - c0, 12);
    x = end;
  }

  // Row bands likewise blend the same two prototype rows. A bilinear blend lies
  // between its four corner values, so a run whose four corners are all positive
  // is inside the mask on every row of the band, and one whose corners are all
  // non-positive is outside: those go into the band's template row, copied to
  // each of its rows. Only the remaining runs, where the mask's edge passes, are
  // evaluated row by row, pixel by pixel.
  const runWeights = columnWeights + (<usize>left << 2);
  for (let y = top; y < bottom; ) {
    const band = rowTable + (<usize>y << 4);
    const bandEnd = min(load<i32>(band, 12), bottom);
    const a0 = logits + (<usize>((load<i32>(band) - r0) * cells) << 2);
    const b0 = logits + (<usize>((load<i32>(band, 4) - r0) * cells) << 2);
    memory.fill(template, 0, rowBytes);
    let mixedRuns = 0;
    for (let j = 0; j < runCount; j++) {
      const r = runs + (<usize>j << 4);
      const lo = <usize>load<i32>(r, 8) << 2, hi = <usize>load<i32>(r, 12) << 2;
      const p = load<f32>(a0 + lo), q = load<f32>(a0 + hi);
      const s = load<f32>(b0 + lo), t = load<f32>(b0 + hi);
      if (p > 0 && q > 0 && s > 0 && t > 0) setBitRange(template, load<i32>(r), load<i32>(r, 4));
      else if (p > 0 || q > 0 || s > 0 || t > 0) store<i32>(mixed + (<usize>(mixedRuns++) << 2), j);
    }
    for (; y < bandEnd; y++) {
      const row = bits + <usize>(y - top) * rowBytes;
      memory.copy(row, template, rowBytes);
      const wy = <f64>load<f32>(rowTable + (<usize>y << 4), 8);
      for (let m = 0; m < mixedRuns; m++) {
        const r = runs + (<usize>load<i32>(mixed + (<usize>m << 2)) << 4);
        const lo = <usize>load<i32>(r, 8) << 2, hi = <usize>load<i32>(r, 12) << 2;
        const pa = <f64>load<f32>(a0 + lo), pb = <f64>load<f32>(b0 + lo);
        const qa = <f64>load<f32>(a0 + hi), qb = <f64>load<f32>(b0 + hi);
        // Rounded to float32 like the blended row the reference computes.
        const a = <f64><f32>(pa + (pb - pa) * wy), b = <f64><f32>(qa + (qb - qa) * wy);
        const from = load<i32>(r);
        setPositiveBits(row, from, load<i32>(r, 4) - from, a, b - a, runWeights + (<usize>from << 2));
      }
    }
  }

  let area = 0;
  const end = bits + <usize>(bottom - top) * rowBytes;
  for (let p = bits; p < end; p += 4) area += popcnt<i32>(load<i32>(p));
  return area;
}

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

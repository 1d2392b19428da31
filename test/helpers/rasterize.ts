/**
 * A small, independent polygon rasterizer for checking exported outlines: a
 * pixel is inside when its centre is, by the even-odd rule (the rule of
 * pycocotools' frPyObjects, OpenCV's fillPoly and PIL for one polygon).
 */

/** Full-size 0/1 mask of `rings` (each flat x0, y0, x1, y1, …) filled together by the even-odd rule. */
export function rasterizeEvenOdd(rings: readonly (readonly number[])[], width: number, height: number, out = new Uint8Array(width * height)): Uint8Array {
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    const crossings: number[] = [];
    for (const ring of rings) {
      const n = ring.length / 2;
      for (let i = 0; i < n; i++) {
        const x1 = ring[2 * i]!;
        const y1 = ring[2 * i + 1]!;
        const x2 = ring[(2 * i + 2) % (2 * n)]!;
        const y2 = ring[(2 * i + 3) % (2 * n)]!;
        // Half-open in y, so a vertex exactly on the scanline counts once.
        if (y1 <= cy !== y2 <= cy) crossings.push(x1 + ((cy - y1) * (x2 - x1)) / (y2 - y1));
      }
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Pixel x is inside when its centre x + 0.5 lies in [left, right).
      const from = Math.max(0, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(width, Math.ceil(crossings[k + 1]! - 0.5));
      for (let x = from; x < to; x++) out[y * width + x] = 1;
    }
  }
  return out;
}

/** The union of `polygons`, each filled alone: how pycocotools merges the polygons of one object. */
export function rasterizePolygons(polygons: readonly (readonly number[])[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const p of polygons) rasterizeEvenOdd([p], width, height, out);
  return out;
}

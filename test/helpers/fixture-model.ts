/**
 * The palette fixture model for tests, generated into a temporary folder once per
 * test process (so no test depends on `npm run fixtures` having run), and the
 * helpers that compare engine results with the drawn shapes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readPalette, writePaletteFastSamModel } from '../../scripts/fixtures/palette-fastsam';
import type { SegmentationResult } from '../../src/core/engine';
import { tightBounds, toFullMask } from '../../src/core/masks/box-mask';
import { maskIoU, type RGB, type Scene, shapeMask } from './shapes';

export const palette = readPalette();
const isGray = (c: readonly number[]) => c[0] === c[1] && c[1] === c[2];
/**
 * The saturated palette colors, for scenes on any background. The two palette grays
 * are kept for grayscale tests: a resized edge between a neutral shape and a white or
 * black background blends through the other gray, which the fixture then detects.
 */
export const paletteColors = palette.colors.filter((c) => !isGray(c)).map((c) => [...c] as RGB);
export const paletteGrays = palette.colors.filter(isGray).map((c) => [...c] as RGB);

/** A small photo for the extension's tests: a red rectangle (shape 0) and a blue ellipse (shape 1) on white. */
export const TWO_SHAPES: Scene = {
  width: 320,
  height: 240,
  background: [255, 255, 255],
  shapes: [
    { kind: 'rect', color: paletteColors[0]!, x: 20, y: 30, w: 120, h: 90 },
    { kind: 'ellipse', color: paletteColors[2]!, x: 180, y: 100, w: 110, h: 110 },
  ],
};

let modelPath: Promise<string> | undefined;

export function paletteModelPath(): Promise<string> {
  modelPath ??= (async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'fastsam-model-')), 'palette-fastsam.onnx');
    await writePaletteFastSamModel(file);
    return file;
  })();
  return modelPath;
}

export function colorName(color: RGB): string {
  const i = palette.colors.findIndex((c) => c[0] === color[0] && c[1] === color[1] && c[2] === color[2]);
  return i >= 0 ? palette.names[i]! : `rgb(${color.join(',')})`;
}

/** Tight pixel bounds [x1, y1, x2, y2) of a full-size 0/1 mask. */
export function fullMaskBounds(mask: Uint8Array, width: number): [number, number, number, number] {
  let x1 = Infinity, y1 = Infinity, x2 = -1, y2 = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width, y = Math.floor(i / width);
    x1 = Math.min(x1, x); x2 = Math.max(x2, x + 1); y1 = Math.min(y1, y); y2 = Math.max(y2, y + 1);
  }
  return [x1, y1, x2, y2];
}

/**
 * The acceptance bounds: mask IoU ≥ 0.95 for shapes whose smaller side is at least a
 * quarter of the image's shorter side, ≥ 0.85 for at least a tenth; box edges within
 * max(2, 1.5 × longer side / S) pixels.
 */
export function iouBound(scene: Scene, shapeIndex: number): number {
  const s = scene.shapes[shapeIndex]!;
  const shorter = Math.min(scene.width, scene.height);
  return Math.min(s.w, s.h) >= shorter / 4 ? 0.95 : 0.85;
}

export function boxTolerance(scene: Scene, modelSize: number): number {
  return Math.max(2, (1.5 * Math.max(scene.width, scene.height)) / modelSize);
}

/**
 * Checks that every shape of the scene has a mask in the result meeting the bounds;
 * returns, per shape, the index of its mask in `result.masks`.
 */
export function assertShapesFound(scene: Scene, result: SegmentationResult, label: string): number[] {
  assert.equal(result.width, scene.width, `${label}: width`);
  assert.equal(result.height, scene.height, `${label}: height`);
  assert.equal(result.masks.length, scene.shapes.length, `${label}: one mask per shape`);
  const fulls = result.masks.map((m) => toFullMask(m.mask));
  const tolerance = boxTolerance(scene, result.imageSize);
  return scene.shapes.map((shape, i) => {
    const truth = shapeMask(scene, i);
    const ious = fulls.map((f) => maskIoU(f, truth));
    const best = ious.indexOf(Math.max(...ious));
    const what = `${label}: ${colorName(shape.color)} ${shape.kind} ${shape.w}×${shape.h} at ${shape.x},${shape.y}`;
    assert.ok(ious[best]! >= iouBound(scene, i), `${what}: IoU ${ious[best]!.toFixed(3)} < ${iouBound(scene, i)}`);
    const truthBox = fullMaskBounds(truth, scene.width);
    const box = result.masks[best]!.box;
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(box[k]! - truthBox[k]!) <= tolerance, `${what}: box [${box.map((v) => v.toFixed(1))}] vs drawn [${truthBox}] (tolerance ${tolerance.toFixed(2)})`);
    }
    assert.ok(tightBounds(result.masks[best]!.mask), `${what}: mask not empty`);
    return best;
  });
}

/** A pixel well inside the shape: its centre for rectangles and ellipses alike. */
export function shapeCentre(scene: Scene, i: number): [number, number] {
  const s = scene.shapes[i]!;
  return [s.x + s.w / 2, s.y + s.h / 2];
}

/**
 * YOLO segmentation labels (Ultralytics' format): one text line per polygon,
 * `<class> x1 y1 x2 y2 …` with coordinates divided by the image's width and
 * height (0..1). FastSAM is class-agnostic, so the class is always 0; a
 * dataset's YAML names it (`names: [object]`). A mask of several parts gives
 * one line per part; holes are bridged into their part's outline (see
 * `bridgeHoles`), since a line holds one polygon. An image without masks gets
 * an empty file, which YOLO reads as "background only".
 */
import type { SegmentedMask } from '../engine';
import { bridgeHoles, maskToPolygons, type PolygonOptions } from './polygons';

export const YOLO_CLASS = 0;

/** Six decimals: a millionth of the image side, finer than a pixel of any image sharp can open. */
function coordinate(v: number): string {
  return String(Number(v.toFixed(6)));
}

export function yoloLabels(masks: readonly SegmentedMask[], width: number, height: number, options: PolygonOptions = {}): string {
  let text = '';
  for (const m of masks) {
    for (const part of maskToPolygons(m.mask, options)) {
      const ring = bridgeHoles(part);
      const values: string[] = [];
      for (let i = 0; i < ring.length; i += 2) values.push(coordinate(ring[i]! / width), coordinate(ring[i + 1]! / height));
      text += `${YOLO_CLASS} ${values.join(' ')}\n`;
    }
  }
  return text;
}

/**
 * LabelMe JSON (labelme 5.x's layout), which LabelMe and the annotators and
 * converters that read its files open for editing. LabelMe looks for the
 * annotation of `photo.jpg` in `photo.json` (its LabelFile suffix) beside the
 * image, so that is the default name (see formats.ts); `imagePath` leads from
 * the JSON's folder back to the image.
 *
 * Every part of every mask is a "polygon" shape labelled "object"; the parts of
 * one mask share a `group_id` (the mask's number, from 1), which is how
 * LabelMe's own converters (labelme2coco, labelme2voc) group shapes into one
 * instance. Polygons cannot hold holes, so holes are bridged into the outline
 * (see `bridgeHoles`); LabelMe's `shape_to_mask` fills polygons with PIL,
 * which leaves them empty. Points are image coordinates, between 0 and the
 * image's width and height.
 */
import type { SegmentedMask } from '../engine';
import { bridgeHoles, maskToPolygons, type PolygonOptions } from './polygons';

/** The labelme release whose file layout this follows; labelme warns only when the major version differs. */
export const LABELME_VERSION = '5.5.0';
export const LABELME_LABEL = 'object';

export interface LabelMeShape {
  label: string;
  points: [number, number][];
  group_id: number | null;
  description: string;
  shape_type: 'polygon';
  flags: Record<string, boolean>;
  mask: null;
}

export interface LabelMeFile {
  version: string;
  flags: Record<string, boolean>;
  shapes: LabelMeShape[];
  /** The image's path relative to the JSON's folder, with forward slashes. */
  imagePath: string;
  /** null: LabelMe then reads the image from imagePath instead of embedding it. */
  imageData: null;
  imageHeight: number;
  imageWidth: number;
}

export function labelmeFile(imagePath: string, width: number, height: number, masks: readonly SegmentedMask[], options: PolygonOptions = {}): LabelMeFile {
  const shapes: LabelMeShape[] = [];
  masks.forEach((m, i) => {
    for (const part of maskToPolygons(m.mask, options)) {
      const ring = bridgeHoles(part);
      const points: [number, number][] = [];
      for (let k = 0; k < ring.length; k += 2) points.push([ring[k]!, ring[k + 1]!]);
      shapes.push({ label: LABELME_LABEL, points, group_id: i + 1, description: '', shape_type: 'polygon', flags: {}, mask: null });
    }
  });
  return { version: LABELME_VERSION, flags: {}, shapes, imagePath, imageData: null, imageHeight: height, imageWidth: width };
}

export function stringifyLabelMe(file: LabelMeFile): string {
  // Indented as labelme writes its files, so that they diff well under version control.
  return JSON.stringify(file, null, 2) + '\n';
}

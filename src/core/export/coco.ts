/**
 * COCO instance segmentation JSON, as pycocotools' `COCO` and `loadRes`,
 * Detectron2, MMDetection and FiftyOne read it: one file per image, and one
 * dataset file for a batch built from the per-image files.
 *
 * FastSAM is class-agnostic, so every annotation has the one category
 * "object". Segmentations are compressed RLE by default (exact); COCO
 * polygons are smaller and editable but cannot hold holes, which are bridged
 * into the outer ring (see `bridgeHoles`): every COCO reader fills polygons
 * with an even-odd rule, so the holes stay empty. A mask of several parts has
 * one polygon per part, which COCO unions.
 */
import type { SegmentedMask } from '../engine';
import { UserFacingError } from '../errors';
import { tightBounds } from '../masks/box-mask';
import { type CocoRle, encodeRle } from '../masks/coco-rle';
import { bridgeHoles, maskToPolygons, type PolygonOptions } from './polygons';

export const COCO_CATEGORY = { id: 1, name: 'object', supercategory: 'object' } as const;

export type CocoSegmentationKind = 'rle' | 'polygon';

export interface CocoOptions extends PolygonOptions {
  /** 'rle' (default): compressed RLE, exact. 'polygon': traced outlines. */
  segmentation?: CocoSegmentationKind;
}

export interface CocoImage {
  id: number;
  /** The image's path relative to the JSON file's folder, with forward slashes. */
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  segmentation: CocoRle | number[][];
  /** Mask pixels. */
  area: number;
  /** [x, y, width, height] of the mask's pixels, as pycocotools' `toBbox`. */
  bbox: [number, number, number, number];
  iscrowd: 0;
  score: number;
}

export interface CocoDataset {
  info: { description: string };
  licenses: never[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: (typeof COCO_CATEGORY)[];
}

/** The annotations of one image's masks, in the given order, numbered from `firstId`. */
export function cocoAnnotations(masks: readonly SegmentedMask[], imageId: number, firstId: number, options: CocoOptions = {}): CocoAnnotation[] {
  return masks.map((m, i) => {
    const b = tightBounds(m.mask) ?? [0, 0, 0, 0];
    return {
      id: firstId + i,
      image_id: imageId,
      category_id: COCO_CATEGORY.id,
      segmentation: options.segmentation === 'polygon' ? maskToPolygons(m.mask, options).map(bridgeHoles) : encodeRle(m.mask),
      area: m.mask.area,
      bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]],
      iscrowd: 0,
      // Four decimals, as the result JSON: enough to rank, and stable across runs.
      score: Math.round(m.score * 1e4) / 1e4,
    };
  });
}

function dataset(images: CocoImage[], annotations: CocoAnnotation[]): CocoDataset {
  // `info` and `licenses` are optional in pycocotools but required by some importers (e.g. CVAT's).
  return { info: { description: 'Masks segmented by FastSAM' }, licenses: [], images, annotations, categories: [{ ...COCO_CATEGORY }] };
}

/** The COCO file of one image (`<stem>.coco.json`): image id 1, annotation ids from 1. */
export function cocoImageFile(fileName: string, width: number, height: number, masks: readonly SegmentedMask[], options: CocoOptions = {}): CocoDataset {
  return dataset([{ id: 1, file_name: fileName, width, height }], cocoAnnotations(masks, 1, 1, options));
}

/**
 * One dataset from per-image files, in the order given: images numbered from 1,
 * annotations renumbered from 1 across the dataset, `file_name` replaced by
 * the image's path relative to the dataset file.
 */
export function mergeCocoFiles(entries: readonly { fileName: string; coco: CocoDataset }[]): CocoDataset {
  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  entries.forEach(({ fileName, coco }, i) => {
    const image = coco.images[0]!;
    images.push({ id: i + 1, file_name: fileName, width: image.width, height: image.height });
    for (const a of coco.annotations) annotations.push({ ...a, id: annotations.length + 1, image_id: i + 1 });
  });
  return dataset(images, annotations);
}

export function stringifyCoco(coco: CocoDataset): string {
  return JSON.stringify(coco) + '\n';
}

/**
 * Reads back a per-image COCO file written earlier (a resumed batch builds its
 * dataset from them); anything else is an error naming the file.
 */
export function parseCocoImageFile(text: string, file: string): CocoDataset {
  const invalid = (why: string) => new UserFacingError(`${file} is not a per-image COCO file of this exporter (${why}); delete it or export with overwrite`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const d = data as Partial<CocoDataset> | null;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.images) || !Array.isArray(d.annotations)) throw invalid('no images and annotations');
  if (d.images.length !== 1) throw invalid(`${d.images.length} images instead of 1`);
  const image = d.images[0]!;
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height)) throw invalid('no image size');
  for (const a of d.annotations) {
    if (typeof a !== 'object' || a === null || typeof a.segmentation !== 'object' || !Array.isArray(a.bbox) || typeof a.area !== 'number') {
      throw invalid('an annotation lacks segmentation, bbox or area');
    }
  }
  return d as CocoDataset;
}

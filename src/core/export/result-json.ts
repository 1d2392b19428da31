/**
 * The JSON description of a segmentation that the CLI prints (`--json`), writes
 * next to index maps (`<stem>.masks.json`) and the extension exports: masks with
 * score, box, area and COCO RLE, in selection order.
 */
import type { SegmentationResult, StageTimings } from '../engine';
import { type CocoRle, encodeRle } from '../masks/coco-rle';
import { type Pick, selectionOrder } from '../prompts/select';

export interface MaskJson {
  id: number;
  score: number;
  bbox: [number, number, number, number];
  area: number;
  /** True for the chosen mask of a prompt (and for every mask in everything mode); false for alternatives. */
  selected: boolean;
  rle: CocoRle;
}

export interface TimingsJson extends StageTimings {
  prompt: number;
  total: number;
}

export interface ResultJson {
  image: string;
  width: number;
  height: number;
  timings_ms: TimingsJson;
  masks: MaskJson[];
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export function resultToJson(image: string, result: SegmentationResult, picks: readonly Pick[], timings: TimingsJson): ResultJson {
  return {
    image,
    width: result.width,
    height: result.height,
    timings_ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, round2(v)])) as unknown as TimingsJson,
    masks: selectionOrder(picks).map(({ index, selected }) => {
      const m = result.masks[index]!;
      return {
        id: m.id,
        score: Math.round(m.score * 1e4) / 1e4,
        bbox: m.box.map(round2) as [number, number, number, number],
        area: m.mask.area,
        selected,
        rle: encodeRle(m.mask),
      };
    }),
  };
}

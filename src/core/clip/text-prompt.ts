/**
 * Text prompts ("the red cup"): choosing masks of a segmentation by CLIP
 * similarity between the text and each mask's crop.
 *
 * FastSAM's reference loads CLIP and embeds every box crop again on each query.
 * Here the crops of an image are embedded once (`embedMasks`), the result kept
 * beside the segmentation, and each query (`queryText`) costs one text encoding,
 * or nothing for a recent text: a dot product per mask and a softmax.
 *
 * Both calls take and return plain data, so they run unchanged in the
 * extension's engine worker, with the embeddings cached alongside the result.
 */
import type { SegmentationResult } from '../engine';
import { PromptError, throwIfCancelled } from '../errors';
import { decodeRgb, type ImageSource, type OpenedImage } from '../image/decode';
import type { BoxMask } from '../masks/box-mask';
import { ClipModel, type ClipCounters, ClipModelError, type ClipModelOptions } from './clip-model';
import { maskCrop } from './mask-crop';

/** CLIP's learned logit scale (exp of 4.6052 in OpenAI's weights): softmax(100 · cosine) as in FastSAM's reference. */
export const CLIP_LOGIT_SCALE = 100;
/** Crops per vision model run: bounds memory (16 × 3 × 224² floats ≈ 10 MB) while amortizing each run's overhead. */
export const EMBED_BATCH_SIZE = 16;
/**
 * Masks too small to mean anything to CLIP are not candidates: under 0.1% of the
 * image or under 100 pixels (FastSAM's reference drops masks of 100 pixels or
 * fewer), or with a box side under 8 pixels (a sliver that resizing to CLIP's
 * 224 pixels turns into a smear).
 */
export const MIN_AREA_FRACTION = 0.001;
export const MIN_AREA_PIXELS = 100;
export const MIN_BOX_SIDE = 8;

/** CLIP embeddings of one segmentation's mask crops: plain data, to cache with the result. */
export interface ImageEmbeddings {
  /** The CLIP model that made them (its id); queries must use the same model. */
  readonly model: string;
  /** Size of the image and number of masks of the result they were made for. */
  readonly width: number;
  readonly height: number;
  readonly maskCount: number;
  readonly dim: number;
  /** Positions in `result.masks` of the candidate masks, in order; other masks are too small. */
  readonly maskIndices: Int32Array;
  /** One unit-length row of `dim` per candidate, row-major. */
  readonly vectors: Float32Array;
  /** Milliseconds spent decoding, cropping and in the vision model. */
  readonly timings: { decode: number; crop: number; vision: number };
}

export interface TextQueryOptions {
  /**
   * Select every mask whose text score is at least this (0 < F ≤ 1) instead of
   * only the best. Scores are a softmax over the masks, so n equally good matches
   * score about 1/n each: "all the dogs" needs F below 1/(number of dogs).
   */
  allAbove?: number;
}

export interface RankedMask {
  /** Position in `result.masks`. */
  index: number;
  /** Softmax over the candidate masks of 100 · cosine similarity: the masks' scores sum to 1. */
  score: number;
  /** Cosine similarity between the text and the mask's crop. */
  similarity: number;
}

export interface TextQueryResult {
  text: string;
  /** Every candidate mask, best first. */
  ranked: RankedMask[];
  /** Positions in `result.masks` of the chosen masks, best first: the best, or all at or above `allAbove`. */
  selected: number[];
  timings: { text: number; rank: number };
}

/** Whether a mask is big enough to be offered to CLIP (see MIN_AREA_FRACTION). */
export function isTextCandidate(mask: BoxMask): boolean {
  const minArea = Math.max(MIN_AREA_PIXELS, MIN_AREA_FRACTION * mask.imageWidth * mask.imageHeight);
  return mask.area >= minArea && Math.min(mask.width, mask.height) >= MIN_BOX_SIDE;
}

/**
 * The masks ranked by a text embedding: cosine similarity with each crop,
 * softmax over the masks at CLIP's logit scale.
 */
export function rankMasks(
  embeddings: Pick<ImageEmbeddings, 'dim' | 'maskIndices' | 'vectors'>,
  text: Float32Array,
  options: TextQueryOptions = {},
): { ranked: RankedMask[]; selected: number[] } {
  const { dim, maskIndices, vectors } = embeddings;
  const allAbove = options.allAbove;
  if (allAbove !== undefined && !(allAbove > 0 && allAbove <= 1)) {
    throw new PromptError(`The text score threshold must be above 0 and at most 1, got ${allAbove}`);
  }
  const n = maskIndices.length;
  if (n > 0 && text.length !== dim) throw new RangeError(`text embedding has ${text.length} values, image embeddings ${dim}`);
  const similarity = new Float64Array(n);
  let max = -Infinity;
  for (let m = 0; m < n; m++) {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += vectors[m * dim + j]! * text[j]!;
    similarity[m] = dot;
    max = Math.max(max, dot);
  }
  let total = 0;
  const weights = similarity.map((s) => {
    const w = Math.exp(CLIP_LOGIT_SCALE * (s - max));
    total += w;
    return w;
  });
  const ranked = Array.from({ length: n }, (_, m) => ({ index: maskIndices[m]!, score: weights[m]! / total, similarity: similarity[m]! }))
    // Ties keep the result's order: detections by descending confidence.
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const selected =
    allAbove === undefined ? ranked.slice(0, 1).map((r) => r.index) : ranked.filter((r) => r.score >= allAbove).map((r) => r.index);
  return { ranked, selected };
}

export class TextPrompter {
  constructor(readonly clip: ClipModel) {}

  static async load(options: ClipModelOptions = {}): Promise<TextPrompter> {
    return new TextPrompter(await ClipModel.load(options));
  }

  /** Model runs so far (see ClipCounters). */
  get counters(): Readonly<ClipCounters> {
    return this.clip.counters;
  }

  /**
   * Embeds every candidate mask of `result` once: crops from `image` (the image
   * that was segmented), blanked outside the mask, in batches of EMBED_BATCH_SIZE.
   */
  async embedMasks(result: SegmentationResult, image: ImageSource | OpenedImage, options: { signal?: AbortSignal } = {}): Promise<ImageEmbeddings> {
    const { signal } = options;
    let t = performance.now();
    const rgb = await decodeRgb(image);
    if (rgb.width !== result.width || rgb.height !== result.height) {
      throw new RangeError(`the image is ${rgb.width}×${rgb.height} but the segmentation is of a ${result.width}×${result.height} image`);
    }
    const decode = performance.now() - t;
    throwIfCancelled(signal);

    const candidates = result.masks.flatMap((m, i) => (isTextCandidate(m.mask) ? [i] : []));
    const side = this.clip.inputSide;
    let crop = 0;
    let vision = 0;
    let dim = 0;
    const rows: Float32Array[] = [];
    for (let start = 0; start < candidates.length; start += EMBED_BATCH_SIZE) {
      t = performance.now();
      const crops = candidates.slice(start, start + EMBED_BATCH_SIZE).map((i) => maskCrop(rgb, result.masks[i]!.mask, side));
      crop += performance.now() - t;
      t = performance.now();
      const batch = await this.clip.embedImages(crops);
      vision += performance.now() - t;
      dim = batch.dim;
      rows.push(batch.vectors);
      throwIfCancelled(signal);
    }
    const vectors = new Float32Array(candidates.length * dim);
    let offset = 0;
    for (const r of rows) {
      vectors.set(r, offset);
      offset += r.length;
    }
    return {
      model: this.clip.id,
      width: result.width,
      height: result.height,
      maskCount: result.masks.length,
      dim,
      maskIndices: Int32Array.from(candidates),
      vectors,
      timings: { decode, crop, vision },
    };
  }

  /** Ranks the masks of `embeddings` by `text`; runs the text model only for a text not seen recently. */
  async queryText(embeddings: ImageEmbeddings, text: string, options: TextQueryOptions = {}): Promise<TextQueryResult> {
    const query = text.trim();
    if (query === '') throw new PromptError('The text prompt is empty');
    if (embeddings.model !== this.clip.id) {
      throw new RangeError(`the embeddings were made with CLIP model "${embeddings.model}", not "${this.clip.id}"`);
    }
    let t = performance.now();
    const vector = await this.clip.encodeText(query);
    const textMs = performance.now() - t;
    if (embeddings.maskIndices.length > 0 && vector.length !== embeddings.dim) {
      throw new ClipModelError(
        'broken',
        `CLIP model "${this.clip.id}" cannot be used: its text embeddings have ${vector.length} values, its image embeddings ${embeddings.dim}`,
      );
    }
    t = performance.now();
    const { ranked, selected } = rankMasks(embeddings, vector, options);
    return { text: query, ranked, selected, timings: { text: textMs, rank: performance.now() - t } };
  }

  async dispose(): Promise<void> {
    await this.clip.dispose();
  }
}

/**
 * Segmentations already computed, so that reopening an image (or a webview
 * that reloads after being hidden) shows its masks without running the model.
 *
 * A result is valid for one image content, one model file and one set of
 * parameters, so the key holds all of them: the content's SHA-256 (not the path
 * or mtime, which miss copies and touch), the model's path, mtime and size (a
 * replaced model file invalidates), and every parameter that changes the masks.
 * Bounded by the bytes the masks hold, least recently used first out.
 */
import type { SegmentationResult } from '../core/engine';

export interface CacheKeyParts {
  /** SHA-256 of the image file, hex. */
  contentHash: string;
  modelPath: string;
  modelMtimeMs: number;
  modelSize: number;
  executionProvider: string;
  imageSize: number;
  confidence: number;
  iou: number;
  maxDetections: number;
}

/** 256 MiB: a few hundred typical results, or a dozen of 12-megapixel photos with 300 masks each. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

/** Estimated bookkeeping per mask (the object, its box, score) beside its bits. */
const MASK_OVERHEAD_BYTES = 128;

export function cacheKey(parts: CacheKeyParts): string {
  // JSON of a fixed field order: unambiguous whatever characters the path holds.
  return JSON.stringify([
    parts.contentHash,
    parts.modelPath,
    parts.modelMtimeMs,
    parts.modelSize,
    parts.executionProvider,
    parts.imageSize,
    parts.confidence,
    parts.iou,
    parts.maxDetections,
  ]);
}

/** The memory a result holds, as the cache counts it. */
export function resultBytes(result: SegmentationResult): number {
  let bytes = 0;
  for (const m of result.masks) bytes += m.mask.bits.byteLength + MASK_OVERHEAD_BYTES;
  return bytes;
}

interface Entry {
  contentHash: string;
  result: SegmentationResult;
  bytes: number;
}

export class ResultCache {
  /** Map order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Segmentations under way, so that a second editor of the same image waits for the first instead of running the model again. */
  private readonly running = new Map<string, Promise<SegmentationResult>>();

  constructor(readonly maxBytes: number = DEFAULT_CACHE_BYTES) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes held by all entries, as counted by `resultBytes`. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** The result for `parts`, which becomes the most recently used. */
  get(parts: CacheKeyParts): SegmentationResult | undefined {
    const key = cacheKey(parts);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.result;
  }

  /**
   * Stores a result, evicting the least recently used until it fits. A result
   * larger than the whole budget is not stored (returns false).
   */
  set(parts: CacheKeyParts, result: SegmentationResult): boolean {
    const key = cacheKey(parts);
    this.remove(key);
    const bytes = resultBytes(result);
    if (bytes > this.maxBytes) return false;
    for (const [oldest] of this.entries) {
      if (this.bytes + bytes <= this.maxBytes) break;
      this.remove(oldest);
    }
    this.entries.set(key, { contentHash: parts.contentHash, result, bytes });
    this.bytes += bytes;
    return true;
  }

  /** The segmentation under way for `parts`, if one is. */
  inFlight(parts: CacheKeyParts): Promise<SegmentationResult> | undefined {
    return this.running.get(cacheKey(parts));
  }

  /** Makes `result` the segmentation under way for `parts` until it settles. */
  track(parts: CacheKeyParts, result: Promise<SegmentationResult>): void {
    const key = cacheKey(parts);
    this.running.set(key, result);
    const untrack = () => {
      if (this.running.get(key) === result) this.running.delete(key);
    };
    result.then(untrack, untrack);
  }

  /** Drops every result of one image content (all models and parameters); returns how many. */
  deleteContent(contentHash: string): number {
    let n = 0;
    for (const [key, entry] of this.entries) {
      if (entry.contentHash === contentHash) {
        this.remove(key);
        n++;
      }
    }
    return n;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

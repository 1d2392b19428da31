/**
 * Stage 1 post-processing of the detection head, as Ultralytics'
 * `non_max_suppression` does it for FastSAM: confidence filter, class-agnostic
 * greedy NMS, best first (the engine stops at `maxDetections` masks).
 */

export interface DetectionOptions {
  /** Keep anchors whose best class score is above this (default 0.4). */
  confidence: number;
  /** Suppress a box whose IoU with a kept, higher-scoring box is above this (default 0.9). */
  iou: number;
  /**
   * At most this many detections (default 300). The engine counts masks: a detection
   * whose mask is empty at full resolution is dropped and does not count.
   */
  maxDetections: number;
}

export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = { confidence: 0.4, iou: 0.9, maxDetections: 300 };

/** Ultralytics sorts candidates by score and runs NMS on at most this many. */
const MAX_NMS_CANDIDATES = 30000;

export interface Detection {
  /** Box in model input pixels (letterboxed), x1 y1 x2 y2. */
  box: [number, number, number, number];
  score: number;
  /** Column of the anchor in the head output; its mask coefficients live there. */
  anchor: number;
}

/**
 * Reads the head output `[1, 4 + nc + nm, A]` (channel-major: value (c, a) at
 * c·A + a) and yields the detections that survive the confidence filter and NMS,
 * best first. NMS decides each one only when it is asked for, so a caller that
 * stops after n (the engine, at maxDetections masks) pays O(candidates · n), as a
 * capped NMS would.
 */
export function* detectionsInOrder(
  head: Float32Array,
  channels: number,
  anchors: number,
  maskChannels: number,
  options: Pick<DetectionOptions, 'confidence' | 'iou'>,
): Generator<Detection> {
  const classes = channels - 4 - maskChannels;
  if (classes < 1) throw new Error(`Detection output has ${channels} channels; expected 4 + classes + ${maskChannels}`);

  const candidates: number[] = [];
  const scores = new Float32Array(anchors);
  // Scores are float32; PyTorch compares them with the threshold in float32 too.
  const threshold = Math.fround(options.confidence);
  for (let a = 0; a < anchors; a++) {
    let best = head[4 * anchors + a]!;
    for (let c = 1; c < classes; c++) best = Math.max(best, head[(4 + c) * anchors + a]!);
    scores[a] = best;
    if (best > threshold) candidates.push(a);
  }
  // Stable: equal scores keep anchor order, so results are deterministic.
  candidates.sort((p, q) => scores[q]! - scores[p]! || p - q);
  if (candidates.length > MAX_NMS_CANDIDATES) candidates.length = MAX_NMS_CANDIDATES;

  const boxes = new Float32Array(candidates.length * 4);
  candidates.forEach((a, i) => {
    const cx = head[a]!, cy = head[anchors + a]!, w = head[2 * anchors + a]!, h = head[3 * anchors + a]!;
    boxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], i * 4);
  });
  for (const i of greedyNms(boxes, options.iou)) {
    yield {
      box: [boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!],
      score: scores[candidates[i]!]!,
      anchor: candidates[i]!,
    };
  }
}

/**
 * Greedy NMS over boxes already sorted by descending score: yields, in order, the
 * boxes kept, each decided when asked for. A box is kept when its IoU with every
 * kept box is at most `iouThreshold` (torchvision's rule).
 */
export function* greedyNms(boxes: Float32Array, iouThreshold: number): Generator<number> {
  const n = boxes.length / 4;
  const keep: number[] = [];
  const areas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    areas[i] = Math.max(0, boxes[i * 4 + 2]! - boxes[i * 4]!) * Math.max(0, boxes[i * 4 + 3]! - boxes[i * 4 + 1]!);
  }
  for (let i = 0; i < n; i++) {
    const x1 = boxes[i * 4]!, y1 = boxes[i * 4 + 1]!, x2 = boxes[i * 4 + 2]!, y2 = boxes[i * 4 + 3]!;
    let suppressed = false;
    for (const k of keep) {
      const iw = Math.min(x2, boxes[k * 4 + 2]!) - Math.max(x1, boxes[k * 4]!);
      if (iw <= 0) continue;
      const ih = Math.min(y2, boxes[k * 4 + 3]!) - Math.max(y1, boxes[k * 4 + 1]!);
      if (ih <= 0) continue;
      const inter = iw * ih;
      if (inter / (areas[i]! + areas[k]! - inter) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) {
      keep.push(i);
      yield i;
    }
  }
}

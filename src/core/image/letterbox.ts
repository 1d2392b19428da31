/**
 * The letterbox geometry of Ultralytics' `LetterBox(new_shape=S, auto=False,
 * scaleup=True, center=True)`, which FastSAM uses to feed a square model:
 * scale the image to fit S×S keeping its aspect ratio, then pad both sides of
 * the short dimension with grey (114).
 *
 * The numbers must match Ultralytics exactly, because a one-pixel difference
 * in the padding shifts every mask and box. Ultralytics computes
 *
 *     r = min(S / h, S / w)
 *     new_unpad = round(w * r), round(h * r)
 *     dw, dh = (S - new_w) / 2, (S - new_h) / 2
 *     top, bottom = round(dh - 0.1), round(dh + 0.1)
 *     left, right = round(dw - 0.1), round(dw + 0.1)
 *
 * with Python's built-in `round`, which rounds halves to even (round(2.5) is
 * 2), unlike JavaScript's `Math.round` (3). That matters for the scaled size:
 * w·r can be exactly k + 0.5 (1×256 at S = 640 gives 2.5, so the image is 2
 * pixels wide, not 3). The padding values dw ± 0.1 are never halves, since dw
 * is a multiple of 0.5, so there the rounding mode makes no difference; the
 * same function is used anyway to stay literal. JavaScript doubles are the
 * same IEEE-754 doubles Python uses, so r and w·r come out bit-identical.
 */

/**
 * The largest model input side accepted: 16 times the pixels of FastSAM's 1024,
 * with a 200 MB input tensor, where the network's own memory already runs to
 * gigabytes. A larger side would only exhaust memory, or the typed arrays' limit.
 */
export const MAX_INPUT_SIZE = 4096;

/** What an input side must be, for messages. */
export const INPUT_SIZE_RULE = `a multiple of 32 from 32 to ${MAX_INPUT_SIZE}`;

/** Whether `n` can be a model input side: a multiple of 32 (the network's largest stride), at most MAX_INPUT_SIZE. */
export function isInputSize(n: number): boolean {
  return Number.isInteger(n) && n >= 32 && n <= MAX_INPUT_SIZE && n % 32 === 0;
}

export interface Letterbox {
  /** Side of the square model input, in pixels. */
  readonly size: number;
  /** Model pixels per image pixel (the same on both axes). */
  readonly scale: number;
  /** Size of the scaled image inside the square. */
  readonly newWidth: number;
  readonly newHeight: number;
  /** Padding around the scaled image; newWidth + padLeft + padRight === size. */
  readonly padLeft: number;
  readonly padTop: number;
  readonly padRight: number;
  readonly padBottom: number;
  /** Size of the image as displayed (after EXIF orientation). */
  readonly imageWidth: number;
  readonly imageHeight: number;
}

export interface Point {
  x: number;
  y: number;
}

/** An axis-aligned box by its corners, x1 ≤ x2 and y1 ≤ y2 (Ultralytics' xyxy). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Python 3's `round(x)` for a double: nearest integer, halves to the even one. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  // Exact for every double: x and floor(x) share their exponent range.
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function computeLetterbox(width: number, height: number, size: number): Letterbox {
  for (const [name, value] of [['width', width], ['height', height], ['size', size]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`computeLetterbox: ${name} must be a positive integer, got ${value}`);
    }
  }
  const scale = Math.min(size / height, size / width);
  // Ultralytics would hand cv2.resize a zero side (and fail) for an image
  // more than 2·S times longer than wide; one pixel keeps such images usable.
  const newWidth = Math.max(1, roundHalfEven(width * scale));
  const newHeight = Math.max(1, roundHalfEven(height * scale));
  const dw = (size - newWidth) / 2;
  const dh = (size - newHeight) / 2;
  return {
    size,
    scale,
    newWidth,
    newHeight,
    padLeft: roundHalfEven(dw - 0.1),
    padTop: roundHalfEven(dh - 0.1),
    padRight: roundHalfEven(dw + 0.1),
    padBottom: roundHalfEven(dh + 0.1),
    imageWidth: width,
    imageHeight: height,
  };
}

/** Image coordinates (pixel edges, origin at the top-left corner) to model-input coordinates. */
export function imageToModel(lb: Letterbox, x: number, y: number): Point {
  return { x: x * lb.scale + lb.padLeft, y: y * lb.scale + lb.padTop };
}

/**
 * Model-input coordinates to image coordinates, not clipped. Like
 * Ultralytics' `scale_boxes`, this subtracts the padding and divides by the
 * scale r. `scale_boxes` recomputes the padding from the unrounded w·r, which
 * is sometimes one pixel more than the padding LetterBox actually added (2×480
 * at S = 640: LetterBox pads 318 on the left, `scale_boxes` subtracts 319);
 * using the real padding keeps the mapping exact.
 */
export function modelToImage(lb: Letterbox, x: number, y: number): Point {
  return { x: (x - lb.padLeft) / lb.scale, y: (y - lb.padTop) / lb.scale };
}

/** A model-space box in image coordinates, clipped to the image like Ultralytics' `clip_boxes`. */
export function boxModelToImage(lb: Letterbox, box: Box): Box {
  const a = modelToImage(lb, box.x1, box.y1);
  const b = modelToImage(lb, box.x2, box.y2);
  return {
    x1: clamp(a.x, lb.imageWidth),
    y1: clamp(a.y, lb.imageHeight),
    x2: clamp(b.x, lb.imageWidth),
    y2: clamp(b.y, lb.imageHeight),
  };
}

function clamp(value: number, max: number): number {
  // Math.max(-0, 0) is +0, so a clipped coordinate never comes out as -0.
  return Math.min(Math.max(value, 0), max);
}

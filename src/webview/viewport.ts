/**
 * The view transform of the editor's stage: pure functions, no DOM, so they are
 * unit-tested under node.
 *
 * Coordinates: "screen" means CSS pixels relative to the stage's top-left corner;
 * "image" means image pixels with (0, 0) the image's top-left corner, continuous
 * (pixel (x, y) covers [x, x + 1) × [y, y + 1)). The transform is a uniform scale
 * then a translation: screen = image × zoom + pan.
 */

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface View {
  /** Screen pixels per image pixel. */
  readonly zoom: number;
  /** Screen position of the image's top-left corner. */
  readonly panX: number;
  readonly panY: number;
}

export interface ZoomLimits {
  readonly min: number;
  readonly max: number;
}

/** Deepest zoom: one image pixel 64 screen pixels wide is enough to place a point on any pixel. */
export const MAX_ZOOM = 64;
/** Floor of the minimum zoom, for absurdly wide images (a 1-pixel-high strip 500k pixels long). */
export const MIN_ZOOM_FLOOR = 1 / 1024;
/** Space kept around the image when it is fitted, so its edges stay visible against the background. */
export const FIT_MARGIN = 16;
/** How much of the image stays on screen when panning (or the whole image when it is smaller). */
export const PAN_KEEP = 48;
/** Keyboard and button zoom step. */
export const ZOOM_STEP = 1.25;

export function imageToScreen(view: View, x: number, y: number): Point {
  return { x: x * view.zoom + view.panX, y: y * view.zoom + view.panY };
}

export function screenToImage(view: View, sx: number, sy: number): Point {
  return { x: (sx - view.panX) / view.zoom, y: (sy - view.panY) / view.zoom };
}

/** The zoom at which the whole image fits the viewport with FIT_MARGIN on every side (unclamped). */
export function fitZoom(image: Size, viewport: Size, margin = FIT_MARGIN): number {
  if (image.width <= 0 || image.height <= 0) return 1;
  // A viewport smaller than twice the margin still shows the image, edge to edge.
  const w = viewport.width > 4 * margin ? viewport.width - 2 * margin : viewport.width;
  const h = viewport.height > 4 * margin ? viewport.height - 2 * margin : viewport.height;
  return Math.max(Math.min(w / image.width, h / image.height), Number.MIN_VALUE);
}

/**
 * How far the user may zoom: out to a quarter of the fitted size (or of 100% for
 * images smaller than the viewport), in to MAX_ZOOM. The minimum follows the image
 * so that a phone photo cannot shrink to a speck and a gigapixel scan can still be
 * seen whole.
 */
export function zoomLimits(image: Size, viewport: Size): ZoomLimits {
  const min = Math.max(MIN_ZOOM_FLOOR, Math.min(1, fitZoom(image, viewport)) / 4);
  return { min: Math.min(min, MAX_ZOOM), max: MAX_ZOOM };
}

export function clampZoom(zoom: number, limits: ZoomLimits): number {
  if (!Number.isFinite(zoom)) return limits.min;
  return Math.min(limits.max, Math.max(limits.min, zoom));
}

/**
 * The whole image centred in the viewport. Tiny images are enlarged (up to
 * MAX_ZOOM) because labelling a 32-pixel icon at 100% is impractical; huge ones
 * are shrunk, down to the limit.
 */
export function fitView(image: Size, viewport: Size): View {
  const limits = zoomLimits(image, viewport);
  const zoom = clampZoom(fitZoom(image, viewport), limits);
  return centred(image, viewport, zoom);
}

function centred(image: Size, viewport: Size, zoom: number): View {
  return {
    zoom,
    panX: (viewport.width - image.width * zoom) / 2,
    panY: (viewport.height - image.height * zoom) / 2,
  };
}

/**
 * The view at `zoom` (clamped) such that the image point under the screen point
 * (sx, sy) stays under it: what wheel zoom around the cursor needs.
 */
export function zoomAround(view: View, sx: number, sy: number, zoom: number, limits: ZoomLimits): View {
  const z = clampZoom(zoom, limits);
  const p = screenToImage(view, sx, sy);
  return { zoom: z, panX: sx - p.x * z, panY: sy - p.y * z };
}

/** 100%: one image pixel per CSS pixel, keeping the image point at the viewport's centre fixed. */
export function actualSizeView(view: View, image: Size, viewport: Size): View {
  const limits = zoomLimits(image, viewport);
  return clampPan(zoomAround(view, viewport.width / 2, viewport.height / 2, 1, limits), image, viewport);
}

/**
 * Zoom factor for one wheel event. Pixel deltas come from trackpads in small
 * steps and mouse wheels in steps of about 100; line and page deltas are scaled
 * to pixels first, so every device zooms about ×1.2 per notch.
 */
export function wheelZoomFactor(deltaY: number, deltaMode: number): number {
  const pixels = deltaMode === 1 ? deltaY * 16 : deltaMode === 2 ? deltaY * 400 : deltaY;
  // Clamped so that one huge delta (some mice report 1000+) cannot jump to a limit.
  const clamped = Math.max(-300, Math.min(300, pixels));
  return Math.exp(-clamped * 0.0018);
}

/**
 * Keeps at least PAN_KEEP screen pixels of the image inside the viewport on each
 * axis (the whole image when it is smaller), so the user cannot lose it by panning.
 */
export function clampPan(view: View, image: Size, viewport: Size, keep = PAN_KEEP): View {
  const clampAxis = (pan: number, imageLength: number, viewLength: number): number => {
    const length = imageLength * view.zoom;
    const k = Math.min(keep, length, viewLength);
    // Image spans [pan, pan + length]; it must overlap [0, viewLength] by k.
    const lo = k - length;
    const hi = viewLength - k;
    return Math.min(hi, Math.max(lo, pan));
  };
  const panX = clampAxis(view.panX, image.width, viewport.width);
  const panY = clampAxis(view.panY, image.height, viewport.height);
  return panX === view.panX && panY === view.panY ? view : { zoom: view.zoom, panX, panY };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { zoom: view.zoom, panX: view.panX + dx, panY: view.panY + dy };
}

/** The part of the image [x1, y1, x2, y2] (image pixels, clipped to the image) that the viewport shows. */
export function visibleImageRect(view: View, image: Size, viewport: Size): [number, number, number, number] {
  const a = screenToImage(view, 0, 0);
  const b = screenToImage(view, viewport.width, viewport.height);
  return [
    Math.max(0, Math.min(image.width, a.x)),
    Math.max(0, Math.min(image.height, a.y)),
    Math.max(0, Math.min(image.width, b.x)),
    Math.max(0, Math.min(image.height, b.y)),
  ];
}

/** Whether a screen point lies on the image (pixel-exact: the right and bottom edges are outside). */
export function imagePointInside(p: Point, image: Size): boolean {
  return p.x >= 0 && p.y >= 0 && p.x < image.width && p.y < image.height;
}

/**
 * Image smoothing is for shrinking. Once an image pixel spans two device pixels
 * or more, labelling tools show hard pixel edges so the user sees exactly which
 * pixels a mask covers; at exact multiples (100%, 200%…) that is also lossless.
 * Just above 100% on a standard screen, nearest-neighbour would only make
 * pixels of uneven widths, so smoothing stays on there.
 */
export function isPixelated(view: View, devicePixelRatio = 1): boolean {
  const scale = view.zoom * devicePixelRatio;
  return scale >= 2 || (view.zoom >= 1 && Number.isInteger(view.zoom));
}

export function sameView(a: View, b: View): boolean {
  return a.zoom === b.zoom && a.panX === b.panX && a.panY === b.panY;
}

export function isValidView(v: unknown): v is View {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return [o.zoom, o.panX, o.panY].every((n) => typeof n === 'number' && Number.isFinite(n)) && (o.zoom as number) > 0;
}

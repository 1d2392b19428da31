/**
 * Canvas work of the stage. Two stacked canvases:
 *
 *  - base: the image and the mask overlays (all masks in Everything mode, the
 *    selection); redrawn when the view, the selection or the display options change;
 *  - overlay: the hovered mask, the prompt points and box, the box being dragged;
 *    redrawn on every mouse move, so it draws cached bitmaps and a few shapes only.
 *
 * Each mask is rasterised once into bitmaps of its own box, at a level of detail
 * that matches the zoom (see mask-raster.ts), cached, and composited with the view
 * transform. Opacity is applied when compositing (globalAlpha), so the opacity
 * slider re-renders nothing. A box wider or taller than TILE bitmap pixels is cut
 * into tiles, rasterised only where they come into view: a background mask of a
 * 12-megapixel photo seen at 100% costs the screen's worth of pixels, not 48 MB.
 *
 * A layer of many masks (Everything mode's 200) is instead flattened, once, into
 * one canvas at the current level (see drawFlattened): panning then draws one
 * canvas instead of 200, which matters most where there is no GPU to composite
 * with. Its masks get bitmaps of their own only when hovered or selected.
 */
import type { BoxPrompt, PointPrompt } from '../core/prompts/select';
import type { WireMask } from '../shared/protocol';
import { maskColor, outlineColor } from './colors';
import type { ImagePyramid } from './image-pyramid';
import { blendCoverage, intersectRegions, levelForScale, maskRegion, outlineAlpha, paintRgba, rasterizeCoverage, type Region } from './mask-raster';
import { isPixelated, type Size, type View } from './viewport';

type Bitmap = HTMLCanvasElement | OffscreenCanvas;
type Context2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/** Tile side in bitmap pixels. */
export const TILE = 512;
/** Memory the mask bitmaps may take before the least recently drawn tiles are dropped. */
export const DEFAULT_BITMAP_BUDGET = 384 * 1024 * 1024;
/** Rasterising stops for this frame after this long; the rest follow in the next frames. */
const FRAME_RENDER_BUDGET_MS = 12;

interface Tile {
  /** Bitmaps with two pixels of padding where the mask continues (so that seams do not show). */
  fill: Bitmap;
  outline: Bitmap | null;
  /** The tile's own pixels inside the bitmaps. */
  sx: number;
  sy: number;
  /** The tile's region, in bitmap pixels of its level. */
  region: Region;
  bytes: number;
  used: number;
}

/** Tiles of one mask at one level. */
interface LevelTiles {
  readonly level: number;
  readonly tiles: Map<number, Tile>;
}

function createBitmap(width: number, height: number): Bitmap {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

function context(b: Bitmap): Context2D {
  return b.getContext('2d') as Context2D;
}

function bitmapFrom(width: number, height: number, alpha: Uint8ClampedArray, rgb: readonly [number, number, number]): Bitmap {
  const bmp = createBitmap(Math.max(1, width), Math.max(1, height));
  if (width > 0 && height > 0) {
    const data = new ImageData(width, height);
    paintRgba(alpha, rgb, data.data);
    context(bmp).putImageData(data, 0, 0);
  }
  return bmp;
}

const tileKey = (tx: number, ty: number) => ty * 65536 + tx;

function unionRegions(a: Region, b: Region): Region {
  return { x1: Math.min(a.x1, b.x1), y1: Math.min(a.y1, b.y1), x2: Math.max(a.x2, b.x2), y2: Math.max(a.y2, b.y2) };
}

function containsRegion(outer: Region, inner: Region): boolean {
  return inner.x1 >= outer.x1 && inner.y1 >= outer.y1 && inner.x2 <= outer.x2 && inner.y2 <= outer.y2;
}

/** The tiles (tx, ty) of a region at TILE granularity. */
function tileRange(r: Region): { tx1: number; ty1: number; tx2: number; ty2: number } {
  return { tx1: Math.floor(r.x1 / TILE), ty1: Math.floor(r.y1 / TILE), tx2: Math.ceil(r.x2 / TILE), ty2: Math.ceil(r.y2 / TILE) };
}

/** Rendered mask tiles, per mask and level, within a memory budget. */
export class MaskBitmapCache {
  private readonly entries = new Map<number, LevelTiles[]>();
  private bytes = 0;
  private frame = 0;
  /** Tiles rasterised since creation; the harness reads it to prove that hover renders nothing new. */
  renderCount = 0;

  constructor(private readonly budget = DEFAULT_BITMAP_BUDGET) {}

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  nextFrame(): void {
    this.frame++;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** Whether tiles made ahead of need may still be added: they take at most half the budget. */
  get hasRoomToPrepare(): boolean {
    return this.bytes < this.budget / 2;
  }

  /** A cached tile, or undefined; marks it used. With `outline`, a tile without its outline does not count. */
  peek(id: number, level: number, tx: number, ty: number, outline: boolean): Tile | undefined {
    const t = this.entries
      .get(id)
      ?.find((e) => e.level === level)
      ?.tiles.get(tileKey(tx, ty));
    if (!t || (outline && !t.outline)) return undefined;
    t.used = this.frame;
    return t;
  }

  /** All cached tiles of a mask at a level (any of them may be missing). */
  cachedLevels(id: number): readonly LevelTiles[] {
    return this.entries.get(id) ?? [];
  }

  /** Rasterises one tile of `mask` at `level` (with its outline when asked) and caches it. */
  render(mask: WireMask, level: number, tx: number, ty: number, withOutline: boolean): Tile {
    const region = intersectRegions(maskRegion(mask, level), { x1: tx * TILE, y1: ty * TILE, x2: (tx + 1) * TILE, y2: (ty + 1) * TILE });
    // Two pixels more on each side. The outline needs the neighbours across the seam; and
    // a smoothed draw samples one pixel past the tile, which must hold true fill and
    // outline values (the outermost ring's outline is wrong, as its neighbours are missing).
    const padded = { x1: region.x1 - 2, y1: region.y1 - 2, x2: region.x2 + 2, y2: region.y2 + 2 };
    const cov = rasterizeCoverage(mask, level, padded);
    const fill = bitmapFrom(cov.width, cov.height, cov.alpha, maskColor(mask.id));
    const outline = withOutline ? bitmapFrom(cov.width, cov.height, outlineAlpha(cov), outlineColor(mask.id)) : null;
    const tile: Tile = {
      fill,
      outline,
      sx: region.x1 - cov.x0,
      sy: region.y1 - cov.y0,
      region,
      bytes: cov.width * cov.height * 4 * (outline ? 2 : 1),
      used: this.frame,
    };
    let levels = this.entries.get(mask.id);
    if (!levels) this.entries.set(mask.id, (levels = []));
    let entry = levels.find((e) => e.level === level);
    if (!entry) levels.push((entry = { level, tiles: new Map() }));
    const key = tileKey(tx, ty);
    const old = entry.tiles.get(key);
    if (old) this.bytes -= old.bytes;
    entry.tiles.set(key, tile);
    this.bytes += tile.bytes;
    this.renderCount++;
    this.evict();
    return tile;
  }

  private evict(): void {
    if (this.bytes <= this.budget) return;
    const all: [LevelTiles, number, Tile][] = [];
    for (const levels of this.entries.values()) for (const e of levels) for (const [k, t] of e.tiles) if (t.used < this.frame) all.push([e, k, t]);
    all.sort((a, b) => a[2].used - b[2].used);
    for (const [e, k, t] of all) {
      if (this.bytes <= this.budget) break;
      e.tiles.delete(k);
      this.bytes -= t.bytes;
    }
  }
}

export interface MaskLayer {
  /** Mask ids in drawing order (later ones on top). */
  readonly ids: readonly number[];
  /** Fill opacity, 0..1. */
  readonly alpha: number;
  readonly outline: boolean;
  /** Outline three device pixels wide instead of one: for the selection, which must stand out. */
  readonly thickOutline?: boolean;
  /**
   * Set for a layer worth flattening (many masks, rarely changing): identifies its
   * content (which masks, in which order), so the flattened canvas is rebuilt only
   * when that or the level or the outline option changes.
   */
  readonly flattenKey?: string;
}

/** A layer flattened into one canvas per kind, at one level, built in paint order. */
interface Flattened {
  key: string;
  content: string;
  level: number;
  /** What it covers, in bitmap pixels of its level. */
  region: Region;
  fill: Bitmap;
  outline: Bitmap | null;
  /** The pixels, blended on the CPU and put into the canvases as they grow. */
  fillData: ImageData;
  outlineData: ImageData | null;
  /** How many of the layer's ids are drawn in (a prefix: order matters). */
  drawn: number;
}

export interface BaseScene {
  readonly view: View;
  readonly image: ImagePyramid | null;
  readonly imageSize: Size;
  readonly layers: readonly MaskLayer[];
}

export interface OverlayScene {
  readonly view: View;
  readonly hover: { readonly id: number; readonly alpha: number } | null;
  readonly points: readonly PointPrompt[];
  readonly box: BoxPrompt | null;
  /** The rectangle being dragged with the Box tool, in image pixels. */
  readonly drag: BoxPrompt | null;
  readonly colors: OverlayColors;
}

export interface OverlayColors {
  readonly foreground: string;
  readonly background: string;
  readonly box: string;
  readonly contrast: string;
}

/** A canvas element's 2D context and how many device pixels make one CSS pixel. */
interface Surface {
  ctx: CanvasRenderingContext2D;
  cssWidth: number;
  cssHeight: number;
  scale: number;
}

/** No outline, a one-pixel one, or a bold one (`thick`: one device pixel in image units). */
type OutlineStyle = 'none' | 'thin' | { readonly thick: number };

/** Gets a mask's tile at a level, from the cache or by rasterising it, within the frame's budget. */
type TileSource = (mask: WireMask, tx: number, ty: number, outline: boolean) => Tile | undefined;

export class StageRenderer {
  private checker: CanvasPattern | null = null;
  private flattened: Flattened | null = null;
  /** The last complete flattened canvas, shown while one for a new level fills. */
  private standIn: Flattened | null = null;
  /** Masks blended into flattened layers since creation (the harness reads it). */
  flattenCount = 0;

  constructor(
    private readonly baseCanvas: HTMLCanvasElement,
    private readonly overlayCanvas: HTMLCanvasElement,
    private readonly cache: MaskBitmapCache,
    private readonly lookup: (id: number) => WireMask | undefined,
  ) {}

  /** Forgets the flattened layer (new masks). */
  reset(): void {
    this.flattened = null;
    this.standIn = null;
  }

  /**
   * Sizes both canvases to `css` CSS pixels and `device` device pixels, so that
   * one canvas pixel is one device pixel and nothing is resampled by the browser.
   */
  resize(css: Size, device: Size): void {
    for (const c of [this.baseCanvas, this.overlayCanvas]) {
      const w = Math.max(1, Math.round(device.width));
      const h = Math.max(1, Math.round(device.height));
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
      }
      c.style.width = `${css.width}px`;
      c.style.height = `${css.height}px`;
    }
  }

  private surface(canvas: HTMLCanvasElement): Surface | null {
    const ctx = canvas.getContext('2d');
    const cssWidth = parseFloat(canvas.style.width) || canvas.clientWidth;
    const cssHeight = parseFloat(canvas.style.height) || canvas.clientHeight;
    if (!ctx || cssWidth <= 0 || cssHeight <= 0) return null;
    return { ctx, cssWidth, cssHeight, scale: canvas.width / cssWidth };
  }

  /**
   * The image-to-device transform, with the translation snapped to whole device
   * pixels so that image pixels at integer zooms land exactly on device pixels.
   */
  private setViewTransform(s: Surface, view: View): void {
    const k = s.scale * view.zoom;
    s.ctx.setTransform(k, 0, 0, k, Math.round(view.panX * s.scale), Math.round(view.panY * s.scale));
  }

  /** The part of the image on screen, in bitmap pixels of `level` (one pixel of margin for smoothing). */
  private visibleRegion(s: Surface, view: View, level: number): Region {
    const f = 1 << level;
    return {
      x1: Math.floor(-view.panX / view.zoom / f) - 1,
      y1: Math.floor(-view.panY / view.zoom / f) - 1,
      x2: Math.ceil((s.cssWidth - view.panX) / view.zoom / f) + 1,
      y2: Math.ceil((s.cssHeight - view.panY) / view.zoom / f) + 1,
    };
  }

  /** Draws the base layer; returns false when some mask tiles are still to come (call again next frame). */
  drawBase(scene: BaseScene): boolean {
    const s = this.surface(this.baseCanvas);
    if (!s) return true;
    const { ctx } = s;
    this.cache.nextFrame();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, this.baseCanvas.width, this.baseCanvas.height);
    if (!scene.image) return true;

    const smooth = !isPixelated(scene.view, s.scale);
    this.setViewTransform(s, scene.view);
    this.drawChecker(s, scene);
    ctx.imageSmoothingEnabled = smooth;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(scene.image.pick(s.scale * scene.view.zoom), 0, 0, scene.imageSize.width, scene.imageSize.height);

    const level = levelForScale(s.scale * scene.view.zoom);
    const visible = this.visibleRegion(s, scene.view, level);
    // The budget counts rasterising only, and the first piece of work always goes through, so every frame makes progress.
    const started = performance.now();
    let workThisFrame = 0;
    const mayWork = () => {
      if (workThisFrame > 0 && performance.now() - started >= FRAME_RENDER_BUDGET_MS) return false;
      workThisFrame++;
      return true;
    };
    const tileFor: TileSource = (mask, tx, ty, outline) => this.cache.peek(mask.id, level, tx, ty, outline) ?? (mayWork() ? this.cache.render(mask, level, tx, ty, outline) : undefined);

    let complete = true;
    for (const layer of scene.layers) {
      if (layer.flattenKey !== undefined) {
        ctx.imageSmoothingEnabled = level > 0 || smooth;
        complete = this.drawFlattened(ctx, layer, level, scene.imageSize, visible, mayWork) && complete;
        continue;
      }
      for (const id of layer.ids) {
        const mask = this.lookup(id);
        if (!mask) continue;
        const region = intersectRegions(maskRegion(mask, level), visible);
        if (region.x2 <= region.x1 || region.y2 <= region.y1) continue;
        const outline: OutlineStyle = !layer.outline ? 'none' : layer.thickOutline ? { thick: 1 / (s.scale * scene.view.zoom) } : 'thin';
        if (!this.drawMask(ctx, mask, level, region, tileFor, layer.alpha, outline, smooth)) {
          complete = false;
          // Until its tiles at this level exist, those of another level stand in.
          this.drawStale(ctx, mask, level, layer.alpha, outline);
        }
      }
    }
    ctx.globalAlpha = 1;
    return complete;
  }

  /** Draws the tiles of `mask` over `region` (bitmap pixels of `level`); false if any is missing (nothing drawn then). */
  private drawMask(ctx: CanvasRenderingContext2D, mask: WireMask, level: number, region: Region, tileFor: TileSource, alpha: number, outline: OutlineStyle, smooth: boolean): boolean {
    const { tx1, ty1, tx2, ty2 } = tileRange(region);
    const tiles: Tile[] = [];
    for (let ty = ty1; ty < ty2; ty++) {
      for (let tx = tx1; tx < tx2; tx++) {
        const t = tileFor(mask, tx, ty, outline !== 'none');
        if (!t) return false;
        tiles.push(t);
      }
    }
    for (const t of tiles) this.drawTile(ctx, t, level, alpha, outline, smooth);
    return true;
  }

  private drawStale(ctx: CanvasRenderingContext2D, mask: WireMask, level: number, alpha: number, outline: OutlineStyle): void {
    const levels = [...this.cache.cachedLevels(mask.id)].filter((e) => e.level !== level).sort((a, b) => Math.abs(a.level - level) - Math.abs(b.level - level));
    const best = levels[0];
    if (!best) return;
    for (const t of best.tiles.values()) this.drawTile(ctx, t, best.level, alpha, outline, true);
  }

  private drawTile(ctx: CanvasRenderingContext2D, t: Tile, level: number, alpha: number, outline: OutlineStyle, smooth: boolean): void {
    const f = 1 << level;
    const w = t.region.x2 - t.region.x1;
    const h = t.region.y2 - t.region.y1;
    if (w <= 0 || h <= 0) return;
    const x = t.region.x1 * f, y = t.region.y1 * f;
    // Coarser levels are resampled (smooth); full-resolution tiles follow the image.
    ctx.imageSmoothingEnabled = f > 1 || smooth;
    if (alpha > 0) {
      ctx.globalAlpha = alpha;
      ctx.drawImage(t.fill, t.sx, t.sy, w, h, x, y, w * f, h * f);
    }
    if (outline !== 'none' && t.outline) {
      ctx.globalAlpha = 1;
      if (outline !== 'thin') {
        // The one-pixel outline again, a device pixel off in each direction: a bold line from the same bitmap.
        const d = outline.thick;
        for (const [ox, oy] of [[-d, 0], [d, 0], [0, -d], [0, d]] as const) ctx.drawImage(t.outline, t.sx, t.sy, w, h, x + ox, y + oy, w * f, h * f);
      }
      ctx.drawImage(t.outline, t.sx, t.sy, w, h, x, y, w * f, h * f);
    }
  }

  /**
   * Draws a flattened layer, first adding to it the next masks in order (later
   * masks on top) as far as the frame's budget goes. Returns false while some are
   * missing. Masks are blended into the flattened pixels on the CPU straight from
   * their bits, with no canvas per mask: for 200 masks that is several times
   * cheaper than rasterising and copying 200 bitmaps.
   *
   * Zoomed out, the flattened canvas covers the whole image at the level's
   * resolution (a quarter of the photo's pixels or fewer). At full resolution it
   * covers the view and a margin around it, and is rebuilt when panning leaves
   * that: 200 masks of a 12-megapixel photo never need 200 photo-sized bitmaps.
   */
  private drawFlattened(ctx: CanvasRenderingContext2D, layer: MaskLayer, level: number, image: Size, visible: Region, mayWork: () => boolean): boolean {
    const content = `${layer.flattenKey}|${layer.outline}`;
    const f = 1 << level;
    const whole: Region = { x1: 0, y1: 0, x2: Math.ceil(image.width / f), y2: Math.ceil(image.height / f) };
    let region = whole;
    if (level === 0) {
      const view = intersectRegions(visible, whole);
      const current = this.flattened;
      if (current && current.content === content && current.level === 0 && containsRegion(current.region, view)) region = current.region;
      else {
        // A quarter of the view on each side: small pans reuse the canvas.
        const mx = Math.ceil((view.x2 - view.x1) / 4), my = Math.ceil((view.y2 - view.y1) / 4);
        region = intersectRegions({ x1: view.x1 - mx, y1: view.y1 - my, x2: view.x2 + mx, y2: view.y2 + my }, whole);
      }
    }
    const key = `${content}|${level}|${region.x1},${region.y1},${region.x2},${region.y2}`;
    const w = region.x2 - region.x1;
    const h = region.y2 - region.y1;
    if (w <= 0 || h <= 0) return true;
    let flat = this.flattened;
    if (!flat || flat.key !== key) {
      // The last finished canvas stands in while this one fills, so zooming and panning do not flicker.
      if (flat && flat.content === content && flat.drawn === layer.ids.length) this.standIn = flat;
      else if (!flat || flat.content !== content) this.standIn = null;
      flat = {
        key,
        content,
        level,
        region,
        fill: createBitmap(w, h),
        outline: layer.outline ? createBitmap(w, h) : null,
        fillData: new ImageData(w, h),
        outlineData: layer.outline ? new ImageData(w, h) : null,
        drawn: 0,
      };
      this.flattened = flat;
    }
    let complete = true;
    let dirty: Region | null = null;
    while (flat.drawn < layer.ids.length) {
      const mask = this.lookup(layer.ids[flat.drawn]!);
      const within = mask ? intersectRegions(maskRegion(mask, level), region) : null;
      if (mask && within && within.x2 > within.x1 && within.y2 > within.y1) {
        if (!mayWork()) {
          complete = false;
          break;
        }
        // One pixel beyond, so that the outline knows its neighbours at the canvas's edge.
        const cov = rasterizeCoverage(mask, level, { x1: within.x1 - 1, y1: within.y1 - 1, x2: within.x2 + 1, y2: within.y2 + 1 });
        blendCoverage(flat.fillData.data, region, cov, within, maskColor(mask.id));
        if (flat.outlineData) blendCoverage(flat.outlineData.data, region, { ...cov, alpha: outlineAlpha(cov) }, within, outlineColor(mask.id));
        dirty = dirty ? unionRegions(dirty, within) : within;
        this.flattenCount++;
      }
      flat.drawn++;
    }
    if (dirty) {
      const [dx, dy, dw, dh] = [dirty.x1 - region.x1, dirty.y1 - region.y1, dirty.x2 - dirty.x1, dirty.y2 - dirty.y1];
      context(flat.fill).putImageData(flat.fillData, 0, 0, dx, dy, dw, dh);
      if (flat.outline && flat.outlineData) context(flat.outline).putImageData(flat.outlineData, 0, 0, dx, dy, dw, dh);
    }
    if (complete) this.standIn = null;
    const shown = !complete && this.standIn ? this.standIn : flat;
    const sf = 1 << shown.level;
    const r = shown.region;
    // Smoothing as the caller set it for this level and zoom.
    ctx.globalAlpha = layer.alpha;
    ctx.drawImage(shown.fill, r.x1 * sf, r.y1 * sf, (r.x2 - r.x1) * sf, (r.y2 - r.y1) * sf);
    if (shown.outline && layer.outline) {
      ctx.globalAlpha = 1;
      ctx.drawImage(shown.outline, r.x1 * sf, r.y1 * sf, (r.x2 - r.x1) * sf, (r.y2 - r.y1) * sf);
    }
    ctx.globalAlpha = 1;
    return complete;
  }

  /**
   * Rasterises, ahead of need, the tiles the overlay would draw on hovering each of
   * `ids` in `view`, until `deadline` (a performance.now() time). The editor calls it
   * while the browser is idle, so that a first hover draws cached bitmaps instead of
   * rasterising a mask in the frame the user is waiting for. Returns true when every
   * tile is ready, or when the cache has no more room for tiles made ahead.
   */
  prepareHover(view: View, ids: readonly number[], deadline: number): boolean {
    const s = this.surface(this.overlayCanvas);
    if (!s) return true;
    const level = levelForScale(s.scale * view.zoom);
    const visible = this.visibleRegion(s, view, level);
    for (const id of ids) {
      const mask = this.lookup(id);
      if (!mask) continue;
      const { tx1, ty1, tx2, ty2 } = tileRange(intersectRegions(maskRegion(mask, level), visible));
      for (let ty = ty1; ty < ty2; ty++) {
        for (let tx = tx1; tx < tx2; tx++) {
          if (this.cache.peek(id, level, tx, ty, true)) continue;
          if (!this.cache.hasRoomToPrepare) return true;
          if (performance.now() >= deadline) return false;
          this.cache.render(mask, level, tx, ty, true);
        }
      }
    }
    return true;
  }

  /**
   * Draws the overlay layer: the hovered mask from cached tiles (rasterising only
   * tiles of that mask that were never made), then the prompt marks.
   */
  drawOverlay(scene: OverlayScene): void {
    const s = this.surface(this.overlayCanvas);
    if (!s) return;
    const { ctx } = s;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, this.overlayCanvas.width, this.overlayCanvas.height);

    const mask = scene.hover ? this.lookup(scene.hover.id) : undefined;
    if (scene.hover && mask) {
      const wanted = levelForScale(s.scale * scene.view.zoom);
      // The base layer's level when it has tiles there; otherwise the nearest cached level; otherwise the right one.
      const cached = this.cache.cachedLevels(mask.id).map((e) => e.level);
      const level = cached.includes(wanted) || cached.length === 0 ? wanted : cached.sort((a, b) => Math.abs(a - wanted) - Math.abs(b - wanted))[0]!;
      const region = intersectRegions(maskRegion(mask, level), this.visibleRegion(s, scene.view, level));
      this.setViewTransform(s, scene.view);
      const tileFor: TileSource = (m, tx, ty, outline) => this.cache.peek(m.id, level, tx, ty, outline) ?? this.cache.render(m, level, tx, ty, outline);
      this.drawMask(ctx, mask, level, region, tileFor, scene.hover.alpha, { thick: 1 / (s.scale * scene.view.zoom) }, !isPixelated(scene.view, s.scale));
      ctx.globalAlpha = 1;
    }

    // Marks are drawn in CSS pixels so they keep their size at every zoom.
    ctx.setTransform(s.scale, 0, 0, s.scale, 0, 0);
    const toScreen = (x: number, y: number) => ({ x: x * scene.view.zoom + scene.view.panX, y: y * scene.view.zoom + scene.view.panY });
    if (scene.box) this.drawBox(ctx, scene.box, toScreen, scene.colors, false);
    if (scene.drag) this.drawBox(ctx, scene.drag, toScreen, scene.colors, true);
    for (const p of scene.points) {
      const q = toScreen(p.x, p.y);
      ctx.beginPath();
      ctx.arc(q.x, q.y, 6.5, 0, Math.PI * 2);
      ctx.fillStyle = scene.colors.contrast;
      ctx.fill();
      ctx.beginPath();
      ctx.arc(q.x, q.y, 5, 0, Math.PI * 2);
      ctx.fillStyle = p.label === 1 ? scene.colors.foreground : scene.colors.background;
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      // A plus or a minus inside, for users who cannot tell green from red.
      ctx.beginPath();
      ctx.moveTo(q.x - 2.5, q.y);
      ctx.lineTo(q.x + 2.5, q.y);
      if (p.label === 1) {
        ctx.moveTo(q.x, q.y - 2.5);
        ctx.lineTo(q.x, q.y + 2.5);
      }
      ctx.stroke();
    }
  }

  private drawBox(
    ctx: CanvasRenderingContext2D,
    box: BoxPrompt,
    toScreen: (x: number, y: number) => { x: number; y: number },
    colors: OverlayColors,
    dragging: boolean,
  ): void {
    const a = toScreen(Math.min(box[0], box[2]), Math.min(box[1], box[3]));
    const b = toScreen(Math.max(box[0], box[2]), Math.max(box[1], box[3]));
    // Half-pixel offsets put 1-pixel lines on pixel centres, crisp instead of blurred over two.
    const x = Math.round(a.x) + 0.5, y = Math.round(a.y) + 0.5, w = Math.round(b.x) - Math.round(a.x), h = Math.round(b.y) - Math.round(a.y);
    if (dragging) {
      ctx.globalAlpha = 0.12;
      ctx.fillStyle = colors.box;
      ctx.fillRect(x, y, w, h);
      ctx.globalAlpha = 1;
    }
    // A solid dark line under a dashed light one stays visible on any image.
    ctx.lineWidth = 3;
    ctx.strokeStyle = colors.contrast;
    ctx.setLineDash([]);
    ctx.strokeRect(x, y, w, h);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = colors.box;
    ctx.setLineDash(dragging ? [5, 4] : []);
    ctx.strokeRect(x, y, w, h);
    ctx.setLineDash([]);
  }

  /** A checkerboard behind the image, as VS Code's image preview shows, so transparent pixels read as such. */
  private drawChecker(s: Surface, scene: BaseScene): void {
    const { ctx } = s;
    if (!this.checker) {
      const tile = createBitmap(16, 16);
      const t = context(tile);
      t.fillStyle = 'rgba(128, 128, 128, 0.22)';
      t.fillRect(0, 0, 8, 8);
      t.fillRect(8, 8, 8, 8);
      this.checker = ctx.createPattern(tile, 'repeat');
    }
    if (!this.checker) return;
    ctx.save();
    ctx.setTransform(s.scale, 0, 0, s.scale, 0, 0);
    ctx.beginPath();
    const v = scene.view;
    ctx.rect(v.panX, v.panY, scene.imageSize.width * v.zoom, scene.imageSize.height * v.zoom);
    ctx.fillStyle = this.checker;
    ctx.fill();
    ctx.restore();
  }
}

/**
 * The image at halved resolutions, made once each on demand. Shrinking a
 * 12-megapixel photo to a 1000-pixel-wide panel on every frame is costly without
 * a GPU and aliases even with one; a pre-shrunk copy at the nearest level is
 * cheap to draw and looks smoother. Same levels as the mask bitmaps (mask-raster.ts).
 */
import { levelForScale, MAX_LEVEL } from './mask-raster';

export class ImagePyramid {
  private readonly levels: (CanvasImageSource | null)[];
  private readonly pending = new Set<number>();
  private disposed = false;

  constructor(
    readonly source: CanvasImageSource,
    readonly width: number,
    readonly height: number,
    /** Called when a level becomes available, to redraw with it. */
    private readonly onLevel: () => void,
  ) {
    this.levels = [source];
  }

  /** The image to draw at `deviceScale` device pixels per image pixel: the right level, or a finer one until it exists. */
  pick(deviceScale: number): CanvasImageSource {
    const want = levelForScale(deviceScale);
    for (let k = Math.min(want, this.levels.length - 1); k >= 0; k--) {
      const img = this.levels[k];
      if (img) {
        if (k !== want) this.make(want);
        return img;
      }
    }
    return this.source;
  }

  /** Frees the decoded pixels now instead of whenever the garbage collector gets to a 48 MB bitmap. */
  dispose(): void {
    for (const img of this.levels) if (img && 'close' in img && typeof img.close === 'function') img.close();
    this.levels.length = 0;
    this.disposed = true;
  }

  private make(level: number): void {
    if (this.disposed || level <= 0 || level > MAX_LEVEL || this.pending.has(level) || typeof createImageBitmap !== 'function') return;
    const w = Math.max(1, Math.ceil(this.width / 2 ** level));
    const h = Math.max(1, Math.ceil(this.height / 2 ** level));
    // Below a few hundred pixels the level is no cheaper to draw than the next finer one.
    if (w * h < 256 * 256) return;
    this.pending.add(level);
    createImageBitmap(this.source as ImageBitmapSource, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' })
      .then((bmp) => {
        if (this.disposed) return bmp.close();
        this.levels[level] = bmp;
        this.onLevel();
      })
      .catch(() => {
        // Drawing the full image still works; the level is merely an optimisation.
      });
  }
}

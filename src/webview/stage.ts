/**
 * The stage element: its two canvases, their device-pixel size, and the pointer
 * gestures on them (hover, click, box drag, pan, wheel zoom). It turns DOM events
 * into image-space intents for main.ts and owns no editor state.
 */
import type { BoxPrompt } from '../core/prompts/select';
import type { Tool } from './keyboard';
import { panBy, type Point, screenToImage, type Size, type View, wheelZoomFactor, zoomAround, type ZoomLimits } from './viewport';
import { h } from './ui/dom';

export interface ClickInfo {
  /** Image coordinates (continuous). */
  readonly point: Point;
  /** Right button, or Alt with the left: a background point in Point mode. */
  readonly secondary: boolean;
  readonly shift: boolean;
}

export interface StageCallbacks {
  view(): View;
  zoomLimits(): ZoomLimits;
  tool(): Tool;
  /** A view change made by the user's pan or zoom gesture. */
  changeView(view: View): void;
  /**
   * The pointer is over image point p (null: it left the stage or is panning).
   * `moved`: the pointer moved, as opposed to a gesture ending where it was.
   */
  hover(p: Point | null, moved: boolean): void;
  click(info: ClickInfo): void;
  /** The Box tool's rectangle while dragging (done: false) and when released (done: true); null: cancelled. */
  boxDrag(box: BoxPrompt | null, done: boolean): void;
  resized(css: Size, device: Size): void;
}

/** Moves smaller than this (CSS pixels) between press and release still count as a click. */
const CLICK_SLOP = 4;

type Gesture =
  | { kind: 'pan'; pointerId: number; startX: number; startY: number; startView: View }
  | { kind: 'box'; pointerId: number; startX: number; startY: number; dragging: boolean; shift: boolean }
  | { kind: 'click'; pointerId: number; startX: number; startY: number; secondary: boolean; shift: boolean };

export class Stage {
  readonly element: HTMLDivElement;
  readonly baseCanvas: HTMLCanvasElement;
  readonly overlayCanvas: HTMLCanvasElement;
  private gesture: Gesture | null = null;
  private spaceHeld = false;
  private last: { x: number; y: number } | null = null;

  constructor(private readonly cb: StageCallbacks) {
    // The base canvas is the picture (an image to assistive technology); the overlay only
    // repeats the hover highlight and the prompt marks, which the live region announces.
    this.baseCanvas = h('canvas', { class: 'stage-canvas', role: 'img', 'aria-label': 'Image' });
    this.overlayCanvas = h('canvas', { class: 'stage-canvas stage-overlay', 'aria-hidden': 'true' });
    this.element = h('div', { class: 'stage', tabindex: '0', role: 'application', 'aria-roledescription': 'image segmentation canvas' }, [
      this.baseCanvas,
      this.overlayCanvas,
    ]);
    this.listen();
  }

  /** Labels for screen readers: the stage says which tool it works with, the canvas what it shows. */
  setLabels(stage: string, picture: string): void {
    if (this.element.getAttribute('aria-label') !== stage) this.element.setAttribute('aria-label', stage);
    if (this.baseCanvas.getAttribute('aria-label') !== picture) this.baseCanvas.setAttribute('aria-label', picture);
  }

  get cssSize(): Size {
    return { width: this.element.clientWidth, height: this.element.clientHeight };
  }

  /** The image point under the pointer's last position, for keyboard zoom around the cursor. */
  get pointer(): { x: number; y: number } | null {
    return this.last;
  }

  private local(e: MouseEvent): { x: number; y: number } {
    const r = this.element.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private imagePoint(x: number, y: number): Point {
    return screenToImage(this.cb.view(), x, y);
  }

  private updateCursor(): void {
    const panning = this.gesture?.kind === 'pan';
    this.element.classList.toggle('is-panning', panning);
    this.element.classList.toggle('is-pan-ready', this.spaceHeld && !panning);
  }

  /** Space held: the next drag pans. Called by main.ts, which owns the keyboard. */
  setSpaceHeld(held: boolean): void {
    this.spaceHeld = held;
    this.updateCursor();
  }

  private listen(): void {
    const el = this.element;

    el.addEventListener('pointerdown', (e) => {
      if (this.gesture) return;
      const p = this.local(e);
      el.focus({ preventScroll: true });
      if (e.button === 1 || (e.button === 0 && this.spaceHeld)) {
        e.preventDefault();
        this.gesture = { kind: 'pan', pointerId: e.pointerId, startX: p.x, startY: p.y, startView: this.cb.view() };
        this.cb.hover(null, false);
      } else if (e.button === 0 && this.cb.tool() === 'box' && !e.altKey) {
        this.gesture = { kind: 'box', pointerId: e.pointerId, startX: p.x, startY: p.y, dragging: false, shift: e.shiftKey };
      } else if (e.button === 0 || e.button === 2) {
        this.gesture = { kind: 'click', pointerId: e.pointerId, startX: p.x, startY: p.y, secondary: e.button === 2 || e.altKey, shift: e.shiftKey };
      } else {
        return;
      }
      el.setPointerCapture(e.pointerId);
      this.updateCursor();
    });

    el.addEventListener('pointermove', (e) => {
      const p = this.local(e);
      // Some platforms repeat pointermove without motion (after a click, on a scroll); that is no move.
      const moved = !this.last || this.last.x !== p.x || this.last.y !== p.y;
      this.last = p;
      const g = this.gesture;
      if (g?.kind === 'pan' && g.pointerId === e.pointerId) {
        this.cb.changeView(panBy(g.startView, p.x - g.startX, p.y - g.startY));
        return;
      }
      if (g?.kind === 'box' && g.pointerId === e.pointerId) {
        if (!g.dragging && Math.hypot(p.x - g.startX, p.y - g.startY) >= CLICK_SLOP) {
          g.dragging = true;
          this.cb.hover(null, true);
        }
        if (g.dragging) {
          this.cb.boxDrag(this.boxBetween(g.startX, g.startY, p.x, p.y), false);
          return;
        }
      }
      this.cb.hover(this.imagePoint(p.x, p.y), moved);
    });

    const finish = (e: PointerEvent, cancelled: boolean) => {
      const g = this.gesture;
      if (!g || g.pointerId !== e.pointerId) return;
      this.gesture = null;
      if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      this.updateCursor();
      const p = this.local(e);
      if (g.kind === 'box') {
        if (g.dragging) this.cb.boxDrag(cancelled ? null : this.boxBetween(g.startX, g.startY, p.x, p.y), true);
        else if (!cancelled) this.cb.click({ point: this.imagePoint(p.x, p.y), secondary: false, shift: g.shift });
      } else if (g.kind === 'click' && !cancelled && Math.hypot(p.x - g.startX, p.y - g.startY) < CLICK_SLOP) {
        this.cb.click({ point: this.imagePoint(p.x, p.y), secondary: g.secondary, shift: g.shift });
      }
      if (!cancelled) this.cb.hover(this.imagePoint(p.x, p.y), false);
    };
    el.addEventListener('pointerup', (e) => finish(e, false));
    el.addEventListener('pointercancel', (e) => finish(e, true));
    el.addEventListener('pointerleave', () => {
      this.last = null;
      if (!this.gesture) this.cb.hover(null, true);
    });
    // The right button places background points; the browser's menu would get in the way.
    el.addEventListener('contextmenu', (e) => e.preventDefault());
    // Middle-button autoscroll would fight the middle-button pan.
    el.addEventListener('mousedown', (e) => {
      if (e.button === 1) e.preventDefault();
    });

    el.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const p = this.local(e);
        const view = this.cb.view();
        this.cb.changeView(zoomAround(view, p.x, p.y, view.zoom * wheelZoomFactor(e.deltaY, e.deltaMode), this.cb.zoomLimits()));
      },
      { passive: false },
    );

    this.observeSize();
  }

  private boxBetween(x1: number, y1: number, x2: number, y2: number): BoxPrompt {
    const a = this.imagePoint(x1, y1);
    const b = this.imagePoint(x2, y2);
    return [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)];
  }

  /**
   * Reports the stage's size in CSS and device pixels. devicePixelContentBoxSize
   * gives the exact device size (no rounding drift at 125% or 150% scaling); where
   * it is missing, CSS size × devicePixelRatio is close enough.
   */
  private observeSize(): void {
    const report = (entry?: ResizeObserverEntry) => {
      const css = this.cssSize;
      const dev = entry?.devicePixelContentBoxSize?.[0];
      const dpr = window.devicePixelRatio || 1;
      const estimate = { width: Math.round(css.width * dpr), height: Math.round(css.height * dpr) };
      // Trusted only when it agrees with the ratio: emulated ratios (devtools, test browsers) do not update it.
      const exact = dev && Math.abs(dev.inlineSize - estimate.width) <= 2 && Math.abs(dev.blockSize - estimate.height) <= 2;
      const device = exact ? { width: dev.inlineSize, height: dev.blockSize } : estimate;
      this.cb.resized(css, device);
    };
    const ro = new ResizeObserver((entries) => report(entries[entries.length - 1]));
    try {
      ro.observe(this.element, { box: 'device-pixel-content-box' });
    } catch {
      ro.observe(this.element);
    }
    // Moving the window to a screen with another scale factor changes the ratio but not the CSS size.
    const watchDpr = () => {
      const mq = window.matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
      mq.addEventListener(
        'change',
        () => {
          report();
          watchDpr();
        },
        { once: true },
      );
    };
    watchDpr();
  }
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actualSizeView,
  clampPan,
  clampZoom,
  FIT_MARGIN,
  fitView,
  imagePointInside,
  imageToScreen,
  isPixelated,
  MAX_ZOOM,
  MIN_ZOOM_FLOOR,
  PAN_KEEP,
  screenToImage,
  type View,
  visibleImageRect,
  wheelZoomFactor,
  zoomAround,
  zoomLimits,
} from '../../src/webview/viewport';

const close = (actual: number, expected: number, eps = 1e-9, what = '') =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what} expected ${expected}, got ${actual}`);

describe('webview viewport: transforms', () => {
  it('maps image to screen and back under zoom and pan', () => {
    const v: View = { zoom: 2.5, panX: 40, panY: -12 };
    const s = imageToScreen(v, 10, 20);
    assert.deepEqual(s, { x: 10 * 2.5 + 40, y: 20 * 2.5 - 12 });
    const back = screenToImage(v, s.x, s.y);
    close(back.x, 10);
    close(back.y, 20);
    // The screen origin lies left of and above the image when panned right/down.
    const origin = screenToImage({ zoom: 0.5, panX: 100, panY: 50 }, 0, 0);
    assert.deepEqual(origin, { x: -200, y: -100 });
  });

  it('round-trips arbitrary points at many zoom levels', () => {
    for (const zoom of [1 / 512, 0.1, 0.33, 1, 3, 17, MAX_ZOOM]) {
      const v: View = { zoom, panX: 123.25, panY: -77.5 };
      for (const [x, y] of [[0, 0], [1, 1], [4000, 3000], [0.5, 2999.75]] as const) {
        const s = imageToScreen(v, x, y);
        const p = screenToImage(v, s.x, s.y);
        close(p.x, x, 1e-6, `x at zoom ${zoom}`);
        close(p.y, y, 1e-6, `y at zoom ${zoom}`);
      }
    }
  });

  it('tells which image points are on the image (right and bottom edges excluded)', () => {
    const img = { width: 10, height: 5 };
    assert.equal(imagePointInside({ x: 0, y: 0 }, img), true);
    assert.equal(imagePointInside({ x: 9.99, y: 4.99 }, img), true);
    assert.equal(imagePointInside({ x: 10, y: 2 }, img), false);
    assert.equal(imagePointInside({ x: 2, y: -0.01 }, img), false);
  });
});

describe('webview viewport: zoom around a point', () => {
  it('keeps the image point under the cursor fixed', () => {
    const limits = { min: 0.01, max: MAX_ZOOM };
    let v: View = { zoom: 0.8, panX: 30, panY: 45 };
    const cursor = { x: 317, y: 211 };
    const under = screenToImage(v, cursor.x, cursor.y);
    for (const factor of [1.2, 1.2, 3, 0.25, 0.9, 7]) {
      v = zoomAround(v, cursor.x, cursor.y, v.zoom * factor, limits);
      const p = screenToImage(v, cursor.x, cursor.y);
      close(p.x, under.x, 1e-9, 'x under cursor');
      close(p.y, under.y, 1e-9, 'y under cursor');
    }
  });

  it('clamps the zoom and still keeps the point fixed at the limit', () => {
    const limits = { min: 0.1, max: 8 };
    const v0: View = { zoom: 4, panX: 0, panY: 0 };
    const up = zoomAround(v0, 100, 100, 1000, limits);
    assert.equal(up.zoom, 8);
    close(screenToImage(up, 100, 100).x, 25);
    const down = zoomAround(v0, 100, 100, 0.0001, limits);
    assert.equal(down.zoom, 0.1);
    close(screenToImage(down, 100, 100).y, 25);
  });

  it('clampZoom rejects non-finite zooms', () => {
    const limits = { min: 0.5, max: 4 };
    assert.equal(clampZoom(Number.NaN, limits), 0.5);
    assert.equal(clampZoom(Infinity, limits), 0.5);
    assert.equal(clampZoom(2, limits), 2);
    assert.equal(clampZoom(5, limits), 4);
    assert.equal(clampZoom(0.1, limits), 0.5);
  });

  it('wheel zoom: one notch zooms a bounded amount either way, and opposite deltas cancel', () => {
    const inFactor = wheelZoomFactor(-100, 0);
    const outFactor = wheelZoomFactor(100, 0);
    assert.ok(inFactor > 1.1 && inFactor < 1.4, `zoom in per notch ${inFactor}`);
    close(inFactor * outFactor, 1, 1e-12);
    // Line mode (Firefox-style deltas of 3 lines) is scaled to pixels.
    assert.ok(wheelZoomFactor(-3, 1) > 1.05);
    // A giant delta is clamped instead of jumping straight to a limit.
    assert.equal(wheelZoomFactor(-100000, 0), wheelZoomFactor(-300, 0));
  });
});

describe('webview viewport: fit', () => {
  const viewport = { width: 800, height: 600 };

  const assertCentred = (v: View, image: { width: number; height: number }) => {
    close(v.panX + (image.width * v.zoom) / 2, viewport.width / 2, 1e-9, 'horizontal centre');
    close(v.panY + (image.height * v.zoom) / 2, viewport.height / 2, 1e-9, 'vertical centre');
  };

  it('fits a landscape image by its width', () => {
    const img = { width: 4000, height: 1000 };
    const v = fitView(img, viewport);
    close(v.zoom, (800 - 2 * FIT_MARGIN) / 4000);
    assertCentred(v, img);
    assert.ok(img.height * v.zoom < viewport.height - 2 * FIT_MARGIN);
  });

  it('fits a portrait image by its height', () => {
    const img = { width: 3000, height: 4000 };
    const v = fitView(img, viewport);
    close(v.zoom, (600 - 2 * FIT_MARGIN) / 4000);
    assertCentred(v, img);
    assert.ok(img.width * v.zoom <= viewport.width - 2 * FIT_MARGIN);
  });

  it('enlarges a tiny image, but not past the maximum zoom', () => {
    const icon = { width: 32, height: 24 };
    const v = fitView(icon, viewport);
    close(v.zoom, (600 - 2 * FIT_MARGIN) / 24);
    assertCentred(v, icon);
    const dot = { width: 2, height: 1 };
    const d = fitView(dot, viewport);
    assert.equal(d.zoom, MAX_ZOOM);
    assertCentred(d, dot);
  });

  it('shrinks a huge image to fit, above the zoom floor', () => {
    const scan = { width: 60000, height: 40000 };
    const v = fitView(scan, viewport);
    close(v.zoom, (800 - 2 * FIT_MARGIN) / 60000);
    assert.ok(v.zoom >= zoomLimits(scan, viewport).min);
    assertCentred(v, scan);
    // A strip far too long to fit at the floor is clamped to the floor.
    const strip = { width: 5_000_000, height: 1 };
    assert.equal(fitView(strip, viewport).zoom, MIN_ZOOM_FLOOR);
  });

  it('zoom limits: out to a quarter of the fitted size (or of 100% for small images), in to MAX_ZOOM', () => {
    const big = zoomLimits({ width: 4000, height: 3000 }, viewport);
    close(big.min, (600 - 2 * FIT_MARGIN) / 3000 / 4);
    assert.equal(big.max, MAX_ZOOM);
    const small = zoomLimits({ width: 100, height: 100 }, viewport);
    assert.equal(small.min, 0.25);
  });

  it('100% zooms to 1 around the viewport centre', () => {
    const img = { width: 4000, height: 3000 };
    const fitted = fitView(img, viewport);
    const centre = screenToImage(fitted, 400, 300);
    const v = actualSizeView(fitted, img, viewport);
    assert.equal(v.zoom, 1);
    const after = screenToImage(v, 400, 300);
    close(after.x, centre.x);
    close(after.y, centre.y);
  });
});

describe('webview viewport: pan clamping and visibility', () => {
  const viewport = { width: 800, height: 600 };
  const img = { width: 1000, height: 1000 };

  it('keeps part of the image on screen however far it is panned', () => {
    const far = clampPan({ zoom: 1, panX: 5000, panY: -5000 }, img, viewport);
    assert.equal(far.panX, viewport.width - PAN_KEEP);
    assert.equal(far.panY, PAN_KEEP - img.height);
    const left = clampPan({ zoom: 1, panX: -5000, panY: 5000 }, img, viewport);
    assert.equal(left.panX, PAN_KEEP - img.width);
    assert.equal(left.panY, viewport.height - PAN_KEEP);
  });

  it('leaves a view that is already valid untouched (same object)', () => {
    const v: View = { zoom: 0.5, panX: 10, panY: 20 };
    assert.equal(clampPan(v, img, viewport), v);
  });

  it('keeps a small image wholly on screen', () => {
    const tiny = { width: 10, height: 10 };
    const v = clampPan({ zoom: 2, panX: 1000, panY: -1000 }, tiny, viewport);
    assert.equal(v.panX, viewport.width - 20);
    assert.equal(v.panY, 0);
  });

  it('reports the visible part of the image, clipped to the image', () => {
    assert.deepEqual(visibleImageRect({ zoom: 2, panX: -100, panY: -50 }, img, viewport), [50, 25, 450, 325]);
    assert.deepEqual(visibleImageRect({ zoom: 0.5, panX: 100, panY: 100 }, img, viewport), [0, 0, 1000, 1000]);
  });

  it('is pixelated from two device pixels per image pixel, and at whole zooms; smooth below', () => {
    const at = (zoom: number) => ({ zoom, panX: 0, panY: 0 });
    assert.equal(isPixelated(at(1)), true, '100% is exact');
    assert.equal(isPixelated(at(4)), true);
    assert.equal(isPixelated(at(2.3)), true);
    assert.equal(isPixelated(at(1.02)), false, 'just above 100% on a standard screen');
    assert.equal(isPixelated(at(1.02), 2), true, 'just above 100% on a HiDPI screen');
    assert.equal(isPixelated(at(0.99)), false);
    assert.equal(isPixelated(at(0.99), 2), false, 'below 100%, even on HiDPI');
  });
});

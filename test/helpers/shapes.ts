/**
 * Synthetic test images: flat-coloured rectangles and ellipses whose every
 * pixel is known, so tests can compare decoded pixels and predicted masks
 * against exact ground truth, and encode them in any format, bit depth,
 * colour model or EXIF orientation.
 */
import sharp from 'sharp';

export type RGB = [r: number, g: number, b: number];

/** x, y is the top-left corner of the shape's box, in image pixels. */
export type Shape = { kind: 'rect' | 'ellipse'; color: RGB; x: number; y: number; w: number; h: number };

export interface Scene {
  width: number;
  height: number;
  background: RGB;
  /** Painted in order: later shapes cover earlier ones. */
  shapes: Shape[];
}

export interface RenderedScene {
  /** Interleaved 8-bit RGB, row by row from the top-left. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export type EncodeFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif';

export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

export interface EncodeOptions {
  /**
   * EXIF orientation to tag the file with. The pixels are stored transformed
   * so that a viewer applying the tag shows the scene as rendered. Not GIF.
   */
  orientation?: Orientation;
  /** One grey channel, `luma` of each pixel. */
  grayscale?: boolean;
  /** Add an alpha channel: the background fully transparent, shapes opaque. PNG, WebP, TIFF, AVIF. */
  alpha?: boolean;
  /** 16 bits per sample, each 8-bit value v stored as v·257. PNG, TIFF. */
  sixteenBit?: boolean;
  /** Store as CMYK (converted with sharp's built-in CMYK profile). JPEG, TIFF. */
  cmyk?: boolean;
  /** Lossless WebP or AVIF; PNG, GIF and TIFF (LZW) are always lossless, JPEG never. */
  lossless?: boolean;
  /** Quality of lossy JPEG, WebP and AVIF, 1–100; default 90. */
  quality?: number;
}

/** Rec. 601 luma, as OpenCV's RGB→grey: the grey level `grayscale` encoding stores for a colour. */
export function luma([r, g, b]: RGB): number {
  return Math.round(0.299 * r + 0.587 * g + 0.114 * b);
}

/** The scene's pixels: a pixel takes the colour of the last shape that contains its centre. */
export function renderScene(scene: Scene): RenderedScene {
  const { width, height } = scene;
  const owners = ownerMap(scene);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < owners.length; i++) {
    const owner = owners[i];
    const color = owner < 0 ? scene.background : scene.shapes[owner].color;
    rgb[i * 3] = color[0];
    rgb[i * 3 + 1] = color[1];
    rgb[i * 3 + 2] = color[2];
  }
  return { rgb, width, height };
}

/** 1 where shape `index` is visible (inside it and not covered by a later shape), else 0; width·height entries. */
export function shapeMask(scene: Scene, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= scene.shapes.length) {
    throw new RangeError(`shapeMask: no shape ${index} in a scene of ${scene.shapes.length}`);
  }
  const owners = ownerMap(scene);
  const mask = new Uint8Array(owners.length);
  for (let i = 0; i < owners.length; i++) mask[i] = owners[i] === index ? 1 : 0;
  return mask;
}

/** Intersection over union of two masks (non-zero = set); 1 when both are empty, since they then agree. */
export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`maskIoU: masks of ${a.length} and ${b.length} pixels`);
  let intersection = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const inA = a[i] !== 0;
    const inB = b[i] !== 0;
    if (inA && inB) intersection++;
    if (inA || inB) union++;
  }
  return union === 0 ? 1 : intersection / union;
}

/** The scene as an image file; throws for combinations the format cannot store. */
export async function encodeScene(scene: Scene, format: EncodeFormat, opts: EncodeOptions = {}): Promise<Buffer> {
  checkEncodeOptions(format, opts);
  const { width, height } = scene;
  const { rgb } = renderScene(scene);
  const owners = opts.alpha ? ownerMap(scene) : undefined;
  const channels = opts.grayscale ? (owners ? 2 : 1) : owners ? 4 : 3;
  const pixels = width * height;

  const samples = opts.sixteenBit ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  const scale = opts.sixteenBit ? 257 : 1;
  for (let i = 0, o = 0; i < pixels; i++) {
    const r = rgb[i * 3];
    const g = rgb[i * 3 + 1];
    const b = rgb[i * 3 + 2];
    if (opts.grayscale) {
      samples[o++] = luma([r, g, b]) * scale;
    } else {
      samples[o++] = r * scale;
      samples[o++] = g * scale;
      samples[o++] = b * scale;
    }
    if (owners) samples[o++] = (owners[i] < 0 ? 0 : 255) * scale;
  }

  const stored = storeOriented(samples, width, height, channels, opts.orientation ?? 1);
  let pipeline = sharp(stored.samples, { raw: { width: stored.width, height: stored.height, channels } });
  if (opts.grayscale) pipeline = pipeline.toColourspace(opts.sixteenBit ? 'grey16' : 'b-w');
  else if (opts.sixteenBit) pipeline = pipeline.toColourspace('rgb16');
  else if (opts.cmyk) pipeline = pipeline.toColourspace('cmyk');
  if (opts.orientation !== undefined) pipeline = pipeline.withMetadata({ orientation: opts.orientation });

  const quality = opts.quality ?? 90;
  switch (format) {
    case 'png':
      return pipeline.png().toBuffer();
    case 'jpeg':
      return pipeline.jpeg({ quality }).toBuffer();
    case 'webp':
      // `exact` keeps the colour under transparent pixels, which decoders must not lose.
      return pipeline.webp(opts.lossless ? { lossless: true, exact: true } : { quality, exact: true }).toBuffer();
    case 'gif':
      return pipeline.gif().toBuffer();
    case 'tiff':
      // sharp's default TIFF compression is JPEG, which is lossy.
      return pipeline.tiff({ compression: 'lzw' }).toBuffer();
    case 'avif':
      return pipeline.avif(opts.lossless ? { lossless: true } : { quality }).toBuffer();
  }
}

/**
 * A reproducible scene: 2–6 rectangles and ellipses in distinct colours from
 * `colors`, each side between a tenth and a half of the image's shorter side,
 * with at least 3 background pixels between any two shapes' boxes and between
 * a box and the border, on white, black or grey 128, whichever is farthest
 * from every palette colour.
 */
export function randomScene(seed: number, width: number, height: number, colors: readonly RGB[]): Scene {
  if (colors.length < 2) throw new RangeError('randomScene: the palette needs at least 2 colours');
  const random = mulberry32(seed);
  const between = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

  const shorter = Math.min(width, height);
  const minSide = Math.max(1, Math.ceil(shorter / 10));
  const maxSide = Math.floor(shorter / 2);
  const palette = [...colors];
  for (let i = palette.length - 1; i > 0; i--) {
    const j = between(0, i);
    [palette[i], palette[j]] = [palette[j], palette[i]];
  }
  const wanted = Math.min(between(2, 6), palette.length);

  const shapes: Shape[] = [];
  for (let attempt = 0; attempt < 500 && shapes.length < wanted; attempt++) {
    const w = between(minSide, maxSide);
    const h = between(minSide, maxSide);
    if (w + 2 * GAP > width || h + 2 * GAP > height) continue;
    const x = between(GAP, width - GAP - w);
    const y = between(GAP, height - GAP - h);
    const clear = shapes.every(
      (s) => x >= s.x + s.w + GAP || s.x >= x + w + GAP || y >= s.y + s.h + GAP || s.y >= y + h + GAP,
    );
    if (clear) {
      shapes.push({ kind: random() < 0.5 ? 'rect' : 'ellipse', color: palette[shapes.length], x, y, w, h });
    }
  }
  if (shapes.length < 2) {
    throw new RangeError(`randomScene: ${width}×${height} is too small to place 2 separate shapes`);
  }
  return { width, height, background: farthestBackground(colors), shapes };
}

/** Background pixels kept between randomScene's shapes and around them. */
const GAP = 3;

function farthestBackground(colors: readonly RGB[]): RGB {
  const candidates: RGB[] = [
    [255, 255, 255],
    [0, 0, 0],
    [128, 128, 128],
  ];
  const distance = (a: RGB, b: RGB): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  const nearest = (c: RGB): number => Math.min(...colors.map((p) => distance(c, p)));
  return candidates.reduce((best, c) => (nearest(c) > nearest(best) ? c : best));
}

/** Small, fast, seedable PRNG (Tommy Ettinger's Mulberry32), uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the shape each pixel shows, -1 for background. */
function ownerMap(scene: Scene): Int16Array {
  const { width, height, shapes } = scene;
  if (shapes.length > 0x7fff) throw new RangeError('too many shapes');
  const owners = new Int16Array(width * height).fill(-1);
  shapes.forEach((shape, index) => {
    // Only pixels whose centre can be inside the box need testing.
    const x0 = Math.max(0, Math.floor(shape.x));
    const y0 = Math.max(0, Math.floor(shape.y));
    const x1 = Math.min(width, Math.ceil(shape.x + shape.w));
    const y1 = Math.min(height, Math.ceil(shape.y + shape.h));
    const cx = shape.x + shape.w / 2;
    const cy = shape.y + shape.h / 2;
    const rx = shape.w / 2;
    const ry = shape.h / 2;
    for (let py = y0; py < y1; py++) {
      const centreY = py + 0.5;
      for (let px = x0; px < x1; px++) {
        const centreX = px + 0.5;
        const inside =
          shape.kind === 'rect'
            ? centreX >= shape.x && centreX < shape.x + shape.w && centreY >= shape.y && centreY < shape.y + shape.h
            : ((centreX - cx) / rx) ** 2 + ((centreY - cy) / ry) ** 2 <= 1;
        if (inside) owners[py * width + px] = index;
      }
    }
  });
  return owners;
}

function checkEncodeOptions(format: EncodeFormat, opts: EncodeOptions): void {
  const problems: string[] = [];
  if (opts.orientation !== undefined && format === 'gif') problems.push('GIF has no EXIF orientation');
  if (opts.alpha && (format === 'jpeg' || format === 'gif')) problems.push(`${format} cannot store alpha`);
  if (opts.sixteenBit && format !== 'png' && format !== 'tiff') problems.push('16-bit needs PNG or TIFF');
  if (opts.cmyk && format !== 'jpeg' && format !== 'tiff') problems.push('CMYK needs JPEG or TIFF');
  if (opts.cmyk && (opts.grayscale || opts.alpha || opts.sixteenBit)) {
    problems.push('CMYK cannot be combined with grayscale, alpha or 16-bit');
  }
  if (opts.lossless && format !== 'webp' && format !== 'avif') problems.push('`lossless` is for WebP and AVIF');
  if (problems.length > 0) throw new Error(`encodeScene(${format}): ${problems.join('; ')}`);
}

/**
 * The samples as they must be stored so that applying EXIF `orientation`
 * gives back the display image: each stored pixel is read from where the
 * orientation's transform puts it on screen.
 */
function storeOriented<T extends Uint8Array | Uint16Array>(
  display: T,
  width: number,
  height: number,
  channels: number,
  orientation: Orientation,
): { samples: T; width: number; height: number } {
  if (orientation === 1) return { samples: display, width, height };
  const swapped = orientation >= 5;
  const sw = swapped ? height : width;
  const sh = swapped ? width : height;
  const stored = display.slice() as T;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const [dx, dy] = displayPosition(orientation, x, y, sw, sh);
      const from = (dy * width + dx) * channels;
      const to = (y * sw + x) * channels;
      for (let c = 0; c < channels; c++) stored[to + c] = display[from + c];
    }
  }
  return { samples: stored, width: sw, height: sh };
}

/** Where stored pixel (x, y) of an sw×sh image appears once EXIF orientation is applied. */
function displayPosition(orientation: Orientation, x: number, y: number, sw: number, sh: number): [number, number] {
  switch (orientation) {
    case 1:
      return [x, y];
    case 2: // mirrored left-right
      return [sw - 1 - x, y];
    case 3: // rotated 180°
      return [sw - 1 - x, sh - 1 - y];
    case 4: // mirrored top-bottom
      return [x, sh - 1 - y];
    case 5: // transposed
      return [y, x];
    case 6: // to be rotated 90° clockwise
      return [sh - 1 - y, x];
    case 7: // transversed
      return [sh - 1 - y, sw - 1 - x];
    case 8: // to be rotated 90° counter-clockwise
      return [y, sw - 1 - x];
  }
}

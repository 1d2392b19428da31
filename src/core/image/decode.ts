/**
 * Reading user images: validation with clear errors, and decoding to the
 * 8-bit RGB a viewer shows. Every decode goes through `rgbPipeline`, so the
 * pixels the model sees (letterbox) and the pixels drawn or cropped for the
 * user (decodeRgb) always agree on orientation, frame and colour.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { ImageInputError } from './errors';

/**
 * libvips threads per image. sharp uses one where the C library is glibc, to keep
 * the number of malloc arenas (and so fragmentation) down. With one, the thread
 * that decodes a JPEG, which is sequential, also writes every output pixel into
 * memory touched for the first time; with two the writing overlaps the decoding,
 * which halves decode time (3 MP: 50 → 20 ms median on a 2-core VM; 12 MP:
 * 175 → 100 ms). More threads gain nothing for a decode, so two it is.
 */
export const DECODE_THREADS = 2;
if (sharp.concurrency() < DECODE_THREADS && availableParallelism() >= DECODE_THREADS) sharp.concurrency(DECODE_THREADS);

/** A file path, or the bytes of an image file already in memory. */
export type ImageSource = string | Buffer;

/** The accepted formats; AVIF is the AV1 flavour of HEIF (HEIC is not decodable by sharp's prebuilt libvips). */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';

/** sharp's own default limit, 0x3FFF × 0x3FFF pixels. */
export const DEFAULT_MAX_PIXELS = 268_402_689;

const SUPPORTED_TEXT = 'JPEG, PNG, WebP, GIF, TIFF or AVIF';

export interface ImageInfo {
  /** Size as displayed, i.e. after the EXIF orientation (5–8 swap the sides). */
  readonly width: number;
  readonly height: number;
  readonly format: ImageFormat;
  /**
   * The EXIF orientation the decoder applies, 1 when there is none. AVIF
   * stores rotation in the container and libheif applies it while reading, so
   * AVIF always reports 1 with the displayed size.
   */
  readonly orientation: number;
  /** As stored: e.g. 1 for grey, 4 for RGBA or CMYK. */
  readonly channels: number;
  readonly hasAlpha: boolean;
  /** libvips sample format as stored, e.g. 'uchar' (8-bit), 'ushort' (16-bit). */
  readonly depth: string;
  /** libvips colour space as stored, e.g. 'srgb', 'b-w', 'rgb16', 'cmyk'. */
  readonly space: string;
  /** Frames or pages in the file; only the first is ever decoded. */
  readonly pages: number;
}

export interface ImageReadOptions {
  /** How messages name the image; defaults to the path, or "image" for a buffer. */
  name?: string;
  /** Largest accepted width × height; defaults to DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

/** An image file read into memory and checked, ready to decode any number of times. */
export interface OpenedImage {
  readonly buffer: Buffer;
  readonly name: string;
  readonly info: ImageInfo;
  readonly maxPixels: number;
}

/** Interleaved (HWC) 8-bit sRGB pixels, row by row from the top-left. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A rectangle in displayed-image pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface DecodeOptions extends ImageReadOptions {
  /** Decode only this part of the image (in displayed coordinates). */
  region?: Region;
  /** Shrink (never enlarge) to fit inside this size, keeping the aspect ratio. */
  resize?: { maxWidth: number; maxHeight: number };
}

/**
 * Reads the file (once) and its header. Rejects with ImageInputError files
 * that are missing, unreadable, empty, not images, in another format, or
 * larger than the pixel limit. Damage past the header (a truncated PNG, say)
 * shows only when the pixels are decoded, which then rejects with code
 * 'corrupt'. An OpenedImage is returned as it is, `opts` not reapplied.
 */
export async function openImage(source: ImageSource | OpenedImage, opts: ImageReadOptions = {}): Promise<OpenedImage> {
  if (!isSource(source)) return source;
  const name = opts.name ?? (typeof source === 'string' ? source : 'image');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive integer, got ${maxPixels}`);
  }
  const buffer = typeof source === 'string' ? await readImageFile(source, name) : source;
  if (buffer.length === 0) throw new ImageInputError('empty', name, 'the file is empty.');
  return { buffer, name, info: await headerInfo(buffer, name, maxPixels), maxPixels };
}

/** The header of an image, checked as by `openImage`, without decoding the pixels. */
export async function readImageInfo(source: ImageSource, opts: ImageReadOptions = {}): Promise<ImageInfo> {
  return (await openImage(source, opts)).info;
}

/**
 * The image as a viewer shows it, as 8-bit RGB: EXIF orientation applied,
 * first frame only, grey/palette/16-bit/CMYK converted to sRGB, and alpha
 * dropped without compositing (the colour under a transparent pixel stays,
 * as with OpenCV's IMREAD_COLOR, which the reference FastSAM uses).
 */
export async function decodeRgb(source: ImageSource | OpenedImage, opts: DecodeOptions = {}): Promise<RgbImage> {
  const image = await openImage(source, opts);
  let pipeline = rgbPipeline(image);
  if (opts.region) {
    checkRegion(opts.region, image.info);
    pipeline = pipeline.extract(opts.region);
  }
  if (opts.resize) {
    pipeline = pipeline.resize({
      width: opts.resize.maxWidth,
      height: opts.resize.maxHeight,
      fit: 'inside',
      withoutEnlargement: true,
    });
  }
  return runRgbPipeline(image, pipeline);
}

/**
 * The one place that decides how a file becomes RGB. Callers add geometry
 * (extract, resize, extend; sharp applies those after orientation whatever
 * the call order) and finish with `runRgbPipeline`.
 */
export function rgbPipeline(image: OpenedImage): sharp.Sharp {
  return sharp(image.buffer, {
    autoOrient: true,
    page: 0,
    pages: 1,
    // 'error' rejects truncated and corrupt data but, unlike sharp's default
    // 'warning', accepts the harmless libjpeg warnings (such as extraneous
    // bytes before a marker) that many camera files trigger and every viewer
    // ignores.
    failOn: 'error',
    limitInputPixels: image.maxPixels,
  })
    .removeAlpha()
    .toColourspace('srgb');
}

/** Runs a pipeline from `rgbPipeline` to raw 8-bit RGB, reporting decode failures as ImageInputError. */
export async function runRgbPipeline(image: OpenedImage, pipeline: sharp.Sharp): Promise<RgbImage> {
  let result: { data: Buffer; info: sharp.OutputInfo };
  try {
    result = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageInputError('corrupt', image.name, 'the file is damaged or incomplete.', { cause: err });
  }
  const { data, info } = result;
  if (info.channels !== 3) {
    throw new Error(`internal: decoded ${info.channels} channels for "${image.name}", expected 3`);
  }
  return { data, width: info.width, height: info.height };
}

function isSource(source: ImageSource | OpenedImage): source is ImageSource {
  return typeof source === 'string' || Buffer.isBuffer(source);
}

async function readImageFile(path: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ImageInputError('not-found', name, 'the file does not exist.', { cause: err });
    }
    const reason =
      code === 'EISDIR' ? 'it is a folder, not a file.'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied.'
      : `the file cannot be read (${code ?? String(err)}).`;
    throw new ImageInputError('unreadable', name, reason, { cause: err });
  }
}

async function headerInfo(buffer: Buffer, name: string, maxPixels: number): Promise<ImageInfo> {
  let meta: sharp.Metadata;
  try {
    // sharp's metadata() enforces its own pixel limit with a bare "exceeds
    // pixel limit"; lifting it lets the check below say the size and our limit.
    meta = await sharp(buffer, { limitInputPixels: false }).metadata();
  } catch (err) {
    if (/unsupported image format/i.test((err as Error).message)) {
      throw new ImageInputError('unsupported', name, `the file is not a supported image (${SUPPORTED_TEXT}).`, {
        cause: err,
      });
    }
    throw new ImageInputError('corrupt', name, 'the file is damaged or incomplete.', { cause: err });
  }
  const format = acceptedFormat(meta);
  if (!format) {
    const kind = meta.format === 'heif' ? 'HEIC' : meta.format.toUpperCase();
    throw new ImageInputError('unsupported', name, `${kind} images are not supported (use ${SUPPORTED_TEXT}).`);
  }
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) {
    throw new ImageInputError(
      'too-large',
      name,
      `the image is ${meta.width}×${meta.height} = ${formatCount(pixels)} pixels, ` +
        `more than the limit of ${formatCount(maxPixels)} pixels.`,
    );
  }
  return {
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    format,
    orientation: meta.orientation ?? 1,
    channels: meta.channels,
    hasAlpha: meta.hasAlpha,
    depth: meta.depth,
    space: meta.space,
    pages: meta.pages ?? 1,
  };
}

function acceptedFormat(meta: sharp.Metadata): ImageFormat | undefined {
  switch (meta.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return meta.format;
    case 'heif':
      return meta.compression === 'av1' ? 'avif' : undefined;
    default:
      return undefined;
  }
}

function checkRegion(region: Region, info: ImageInfo): void {
  const { left, top, width, height } = region;
  const valid =
    [left, top, width, height].every(Number.isInteger) &&
    left >= 0 &&
    top >= 0 &&
    width >= 1 &&
    height >= 1 &&
    left + width <= info.width &&
    top + height <= info.height;
  if (!valid) {
    throw new RangeError(
      `region ${left},${top} ${width}×${height} is not inside the ${info.width}×${info.height} image`,
    );
  }
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

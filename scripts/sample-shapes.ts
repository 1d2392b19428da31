/**
 * The shape images in samples/shapes: hand-placed scenes of flat shapes in the
 * palette fixture model's colors (models/fixtures/palette-fastsam.json), so that
 * `npm start`, screenshots and the UI tests have images the fixture segments
 * exactly, with known ground truth (test/helpers/shapes.ts: shapeMask).
 *
 * Written by scripts/make-sample-shapes.ts; the bytes are deterministic for a
 * given sharp version, and a unit test checks the committed files against them.
 */
import * as path from 'node:path';
import { readPalette } from './fixtures/palette-fastsam';
import { encodeScene, type EncodeFormat, type EncodeOptions, type RGB, type Scene, type Shape } from '../test/helpers/shapes';

export const SAMPLE_SHAPES_DIR = path.resolve(__dirname, '../samples/shapes');

export interface SampleShapeImage {
  /** File name in samples/shapes. */
  file: string;
  /** One line for the folder's README. */
  description: string;
  /** The scene as displayed (after the EXIF orientation is applied). */
  scene: Scene;
  format: EncodeFormat;
  options: EncodeOptions;
}

const palette = readPalette();

/** A palette color by its name in palette-fastsam.json; a typo fails loudly here rather than as a missing mask later. */
function color(name: string): RGB {
  const i = palette.names.indexOf(name);
  if (i < 0) throw new Error(`sample-shapes: no palette color named "${name}" (have: ${palette.names.join(', ')})`);
  return [...palette.colors[i]!] as RGB;
}

const WHITE: RGB = [255, 255, 255];
const BLACK: RGB = [0, 0, 0];

const shape = (kind: Shape['kind'], name: string, x: number, y: number, w: number, h: number): Shape => ({ kind, color: color(name), x, y, w, h });

/**
 * Every shape uses its own color: the fixture reports one mask per color, so two
 * shapes of one color would be one object. Each shape's shorter side is at least
 * a quarter of the image's shorter side, the size for which the fixture's masks
 * reach IoU 0.95 with the drawn shape (test/helpers/fixture-model.ts: iouBound).
 */
export const SAMPLE_SHAPES: readonly SampleShapeImage[] = [
  {
    file: 'shapes.png',
    description: '640×480 PNG: five separate rectangles and ellipses on white.',
    scene: {
      width: 640,
      height: 480,
      background: WHITE,
      shapes: [
        shape('rect', 'red', 40, 50, 200, 150),
        shape('ellipse', 'blue', 330, 40, 240, 180),
        shape('ellipse', 'green', 50, 270, 170, 170),
        shape('rect', 'orange', 290, 280, 150, 150),
        shape('ellipse', 'purple', 470, 290, 130, 150),
      ],
    },
    format: 'png',
    options: {},
  },
  {
    file: 'shapes-exif-rotated.jpg',
    description:
      'JPEG stored as 640×480 pixels with EXIF orientation 6 (rotate 90° clockwise), so viewers show it 480×640 portrait: four shapes on white. Masks and prompts use the displayed orientation.',
    scene: {
      width: 480,
      height: 640,
      background: WHITE,
      shapes: [
        shape('rect', 'yellow', 40, 40, 180, 220),
        shape('ellipse', 'cyan', 260, 60, 180, 180),
        shape('ellipse', 'magenta', 50, 330, 200, 260),
        shape('rect', 'dark green', 290, 360, 150, 220),
      ],
    },
    format: 'jpeg',
    options: { orientation: 6, quality: 90 },
  },
  {
    file: 'shapes-nested.webp',
    description:
      '800×500 lossy WebP on black: a yellow ellipse inside a brown rectangle (whose mask then has a hole), a cyan ellipse and a light gray rectangle.',
    scene: {
      width: 800,
      height: 500,
      background: BLACK,
      shapes: [
        shape('rect', 'brown', 40, 40, 380, 300),
        shape('ellipse', 'yellow', 130, 100, 200, 180),
        shape('ellipse', 'cyan', 470, 50, 280, 200),
        shape('rect', 'light gray', 480, 310, 260, 150),
      ],
    },
    format: 'webp',
    options: { quality: 90 },
  },
];

export function encodeSample(sample: SampleShapeImage): Promise<Buffer> {
  return encodeScene(sample.scene, sample.format, sample.options);
}

/** The sample named `file`; throws for an unknown name. */
export function sampleShape(file: string): SampleShapeImage {
  const s = SAMPLE_SHAPES.find((x) => x.file === file);
  if (!s) throw new Error(`no sample shape image ${file} (have: ${SAMPLE_SHAPES.map((x) => x.file).join(', ')})`);
  return s;
}

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as ort from 'onnxruntime-node';

import {
  buildPaletteFastSamModel,
  lowScoreAnchors,
  readPalette,
  writePaletteFastSamModel,
  type Palette,
  type Rgb,
} from '../../scripts/fixtures/palette-fastsam';

// The contract is restated here rather than imported, so a changed constant fails the tests.
const MASK_COEFFS = 32;
const LOW_SCORE_ANCHORS = 64;
const DUPLICATE_SCORE_FACTOR = 0.8;
const PROTO_LOGIT = 8;
const colorScore = (k: number) => 0.95 - 0.02 * k;

const palette: Palette = readPalette();
const K = palette.colors.length;
const CHANNELS = 4 + 1 + MASK_COEFFS;
const ANCHORS = 2 * K + LOW_SCORE_ANCHORS;
const GRAY: Rgb = [114, 114, 114];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

function colorNamed(name: string): Rgb {
  const k = palette.names.indexOf(name);
  assert.ok(k >= 0, `palette has no color named ${name}`);
  return palette.colors[k];
}

/** Interleaved RGB canvas in 0..255. */
class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly size: number) {
    this.rgb = new Uint8Array(size * size * 3);
    this.rect(0, 0, size, size, GRAY);
  }
  /** Fills pixels x1 <= x < x2, y1 <= y < y2. */
  rect(x1: number, y1: number, x2: number, y2: number, color: Rgb): void {
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) this.rgb.set(color, (y * this.size + x) * 3);
  }
  /** Fills pixels whose centers lie within `r` of (cx, cy). */
  disc(cx: number, cy: number, r: number, color: Rgb): void {
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) this.rgb.set(color, (y * this.size + x) * 3);
      }
    }
  }
  toTensor(): ort.Tensor {
    const n = this.size * this.size;
    const data = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = this.rgb[i * 3 + c] / 255;
    return new ort.Tensor('float32', data, [1, 3, this.size, this.size]);
  }
}

interface Reference {
  /** [x1, y1, x2, y2], or null when the opened mask is empty. */
  readonly box: readonly [number, number, number, number] | null;
  readonly pixels: number;
  /** Fraction of each 4×4 cell covered by the opened mask. */
  readonly coverage: Float64Array;
}

/** The fixture's semantics computed directly: tolerance match, 2×2 opening, box, cell coverage. */
function reference(canvas: Canvas, color: Rgb): Reference {
  const s = canvas.size;
  const t2 = palette.tolerance ** 2;
  const mask = new Uint8Array(s * s);
  for (let i = 0; i < s * s; i++) {
    const d2 = (canvas.rgb[i * 3] - color[0]) ** 2 + (canvas.rgb[i * 3 + 1] - color[1]) ** 2 + (canvas.rgb[i * 3 + 2] - color[2]) ** 2;
    mask[i] = d2 <= t2 ? 1 : 0;
  }
  const at = (m: Uint8Array, x: number, y: number) => (x >= 0 && y >= 0 && x < s && y < s ? m[y * s + x] : 0);
  const eroded = new Uint8Array(s * s);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) eroded[y * s + x] = at(mask, x, y) & at(mask, x + 1, y) & at(mask, x, y + 1) & at(mask, x + 1, y + 1);
  }
  let pixels = 0;
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  const cells = s / 4;
  const coverage = new Float64Array(cells * cells);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      if (!(at(eroded, x, y) | at(eroded, x - 1, y) | at(eroded, x, y - 1) | at(eroded, x - 1, y - 1))) continue;
      pixels++;
      x1 = Math.min(x1, x);
      y1 = Math.min(y1, y);
      x2 = Math.max(x2, x + 1);
      y2 = Math.max(y2, y + 1);
      coverage[Math.floor(y / 4) * cells + Math.floor(x / 4)] += 1 / 16;
    }
  }
  return { box: pixels > 0 ? [x1, y1, x2, y2] : null, pixels, coverage };
}

interface Outputs {
  readonly output0: ort.Tensor;
  readonly output1: ort.Tensor;
  /** Column `a` of output0 (cx, cy, w, h, score, 32 coefficients). */
  row(a: number): number[];
  proto(channel: number, cellX: number, cellY: number): number;
}

let dir: string;
let modelFile: string;
let session: ort.InferenceSession;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'palette-fastsam-'));
  modelFile = path.join(dir, 'palette-fastsam.onnx');
  await writePaletteFastSamModel(modelFile, palette);
  session = await ort.InferenceSession.create(modelFile);
});

after(async () => {
  await session?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(canvas: Canvas): Promise<Outputs> {
  const out = await session.run({ images: canvas.toTensor() });
  const output0 = out.output0 as ort.Tensor;
  const output1 = out.output1 as ort.Tensor;
  const det = output0.data as Float32Array;
  const protos = output1.data as Float32Array;
  const cells = canvas.size / 4;
  return {
    output0,
    output1,
    row: (a) => Array.from({ length: CHANNELS }, (_, c) => det[c * ANCHORS + a]),
    proto: (channel, cellX, cellY) => protos[(channel * cells + cellY) * cells + cellX],
  };
}

const asCxCyWh = ([x1, y1, x2, y2]: readonly number[]) => [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1];

describe('palette JSON', () => {
  // Two grays survive conversion to grayscale, so grayscale images can be tested too.
  test('has 12 named colors, well separated from each other and from white, black and the grays', () => {
    assert.equal(K, 12);
    assert.equal(new Set(palette.names).size, K);
    assert.equal(palette.tolerance, 40);
    const dist = (a: Rgb, b: Rgb) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    const neutrals: Rgb[] = [WHITE, BLACK, [128, 128, 128], GRAY];
    palette.colors.forEach((c, i) => {
      for (const n of neutrals) assert.ok(dist(c, n) >= 80, `${palette.names[i]} is ${dist(c, n)} from ${n}`);
      for (let j = i + 1; j < K; j++) {
        const d = dist(c, palette.colors[j]);
        assert.ok(d >= 80, `${palette.names[i]} and ${palette.names[j]} are only ${d.toFixed(1)} apart`);
      }
    });
  });
});

describe('palette FastSAM model', () => {
  test('is byte-for-byte deterministic and written atomically', async () => {
    const a = buildPaletteFastSamModel(palette);
    const b = buildPaletteFastSamModel(palette);
    assert.ok(a.length > 0);
    assert.deepEqual(Buffer.from(a), Buffer.from(b));
    assert.deepEqual(await readFile(modelFile), Buffer.from(a));
    assert.deepEqual(await readdir(dir), ['palette-fastsam.onnx']);
  });

  test('has the FastSAM input and output names and shapes', () => {
    assert.deepEqual(session.inputNames, ['images']);
    assert.deepEqual(session.outputNames, ['output0', 'output1']);
    const shapes = [...session.inputMetadata, ...session.outputMetadata].map((m) => (m.isTensor ? [m.type, m.shape] : null));
    assert.deepEqual(shapes[0], ['float32', [1, 3, 'height', 'width']]);
    assert.deepEqual(shapes[1], ['float32', [1, CHANNELS, ANCHORS]]);
    assert.deepEqual(shapes[2]?.[1]?.slice(0, 2), [1, MASK_COEFFS]);
  });

  for (const size of [640, 1024]) {
    test(`finds exact boxes, scores and prototypes at S=${size}`, async () => {
      const u = size / 64;
      const canvas = new Canvas(size);
      // Letterbox: gray bands above 8u and below 56u; the content spans the full width.
      const content = { x1: 0, y1: 8 * u, x2: size, y2: 56 * u };
      canvas.rect(content.x1, content.y1, content.x2, content.y2, [90, 90, 90]);
      canvas.rect(2 * u, 10 * u, 10 * u, 30 * u, WHITE);
      canvas.rect(12 * u, 10 * u, 30 * u, 30 * u, BLACK);
      const rects: Record<string, [number, number, number, number]> = {
        red: [3 * u + 1, 12 * u + 1, 8 * u + 3, 20 * u + 2], // on white
        blue: [13 * u + 3, 11 * u, 25 * u, 15 * u + 1], // on black
        green: [34 * u + 1, 12 * u, 44 * u + 1, 14 * u + 3],
        magenta: [20 * u, 40 * u, 30 * u, 48 * u],
        cyan: [30 * u, 40 * u, 36 * u, 48 * u], // touches magenta
        brown: [size - 5 * u, 50 * u, size, 55 * u + 1], // touches the right edge
        'dark green': [2 * u, 37 * u, 40 * u, 37 * u + 2], // 2 px tall: survives the opening
      };
      for (const [name, [x1, y1, x2, y2]] of Object.entries(rects)) canvas.rect(x1, y1, x2, y2, colorNamed(name));
      // 1 px wide lines, like the bands resizing leaves between two colors: removed by the opening.
      canvas.rect(2 * u, 35 * u, 40 * u, 35 * u + 1, colorNamed('orange'));
      canvas.rect(45 * u, 10 * u, 45 * u + 1, 30 * u, colorNamed('orange'));
      // Pixels beyond the image do not match, so a 1 px line along its edge is removed too.
      canvas.rect(size - 1, 10 * u, size, 30 * u, colorNamed('purple'));
      const circle = { cx: 52 * u, cy: 20 * u, r: 5 * u + 0.5 };
      canvas.disc(circle.cx, circle.cy, circle.r, colorNamed('yellow'));
      const absent = ['orange', 'purple'];

      const out = await run(canvas);
      assert.deepEqual(out.output0.dims, [1, CHANNELS, ANCHORS]);
      assert.deepEqual(out.output1.dims, [1, MASK_COEFFS, size / 4, size / 4]);
      for (const [name, t] of Object.entries(out)) {
        if (t instanceof ort.Tensor) assert.ok((t.data as Float32Array).every(Number.isFinite), `${name} has NaN or Inf`);
      }

      const refs = palette.colors.map((c) => reference(canvas, c));
      for (let k = 0; k < K; k++) {
        const name = palette.names[k];
        const row = out.row(k);
        const ref = refs[k];
        if (name in rects) assert.deepEqual(ref.box, rects[name], `reference box of ${name}`);
        if (absent.includes(name)) assert.equal(ref.box, null, `${name} should be absent`);

        if (ref.box) {
          assert.deepEqual(row.slice(0, 4), asCxCyWh(ref.box), `box of ${name}`);
          assert.ok(Math.abs(row[4] - colorScore(k)) < 1e-6, `score of ${name}: ${row[4]}`);
        } else {
          assert.deepEqual(row.slice(0, 5).map(Math.abs), [0, 0, 0, 0, 0], `absent ${name}`);
        }
        assert.deepEqual(row.slice(5), Array.from({ length: MASK_COEFFS }, (_, j) => (j === k ? 1 : 0)), `coefficients of ${name}`);

        const dup = out.row(K + k);
        assert.deepEqual(dup.slice(0, 4), row.slice(0, 4), `duplicate box of ${name}`);
        assert.deepEqual(dup.slice(5), row.slice(5), `duplicate coefficients of ${name}`);
        assert.ok(Math.abs(dup[4] - DUPLICATE_SCORE_FACTOR * row[4]) < 1e-6, `duplicate score of ${name}`);
        if (ref.box) assert.ok(dup[4] > 0.4);
      }

      const yellow = refs[palette.names.indexOf('yellow')].box;
      assert.ok(yellow, 'the disc is detected');
      const analytic = [circle.cx - circle.r, circle.cy - circle.r, circle.cx + circle.r, circle.cy + circle.r];
      yellow.forEach((v, i) => assert.ok(Math.abs(v - analytic[i]) <= 1, `disc box ${yellow} vs ${analytic}`));

      const low = lowScoreAnchors();
      for (let a = 0; a < LOW_SCORE_ANCHORS; a++) {
        const row = out.row(2 * K + a);
        assert.ok(row[4] >= Math.fround(0.05) && row[4] <= Math.fround(0.3), `low-score anchor ${a} scores ${row[4]}`);
        assert.equal(row[4], low.scores[a]);
        assert.ok(row[2] > 0 && row[3] > 0, `low-score anchor ${a} has an empty box`);
        assert.deepEqual(row.slice(0, 4), Array.from(low.boxes.subarray(a * 4, a * 4 + 4)));
        assert.deepEqual(row.slice(5), Array.from(low.coeffs.subarray(a * MASK_COEFFS, (a + 1) * MASK_COEFFS)));
        assert.ok(row.slice(5).some((v) => v !== 0));
      }

      const cells = size / 4;
      for (let k = 0; k < K; k++) {
        for (let cy = 0; cy < cells; cy++) {
          for (let cx = 0; cx < cells; cx++) {
            const expected = PROTO_LOGIT * (2 * refs[k].coverage[cy * cells + cx] - 1);
            const got = out.proto(k, cx, cy);
            if (Math.abs(got - expected) > 1e-5) assert.fail(`prototype ${k} at cell (${cx}, ${cy}): ${got}, expected ${expected}`);
          }
        }
      }
      const red = palette.names.indexOf('red');
      const [rx1, ry1, rx2, ry2] = rects.red;
      const inside = { x: Math.floor((rx1 + rx2) / 8), y: Math.floor((ry1 + ry2) / 8) };
      assert.equal(out.proto(red, inside.x, inside.y), PROTO_LOGIT);
      assert.equal(out.proto(red, Math.floor(rx2 / 4) + 2, inside.y), -PROTO_LOGIT);
      assert.equal(out.proto(palette.names.indexOf('blue'), inside.x, inside.y), -PROTO_LOGIT);
      for (let c = K; c < MASK_COEFFS; c++) {
        assert.equal(out.proto(c, inside.x, inside.y), -PROTO_LOGIT);
        assert.equal(out.proto(c, 0, 0), -PROTO_LOGIT);
      }
    });
  }

  test('matches pixels within the tolerance and no further', async () => {
    const canvas = new Canvas(320);
    const red = colorNamed('red');
    canvas.rect(100, 100, 120, 120, red);
    canvas.rect(40, 150, 60, 170, [red[0], red[1] + 39, red[2]]); // distance 39: still red
    canvas.rect(200, 30, 260, 50, [red[0], red[1], red[2] + 41]); // distance 41: not red
    const k = palette.names.indexOf('red');
    const row = (await run(canvas)).row(k);
    assert.deepEqual(row.slice(0, 4), asCxCyWh([40, 100, 120, 170]));
  });

  test('reports nothing on an empty letterbox canvas', async () => {
    const out = await run(new Canvas(256));
    for (let a = 0; a < 2 * K; a++) assert.deepEqual(out.row(a).slice(0, 5).map(Math.abs), [0, 0, 0, 0, 0]);
    assert.ok((out.output1.data as Float32Array).every((v) => v === -PROTO_LOGIT));
  });
});

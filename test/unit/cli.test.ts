/**
 * The `fastsam` command as users run it: the built `dist/cli.js` (npm test builds
 * first) in a child process, on shape images it has never seen.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { assertCliBuilt, CLI, fastsam } from '../helpers/cli';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { fromFullMask } from '../../src/core/masks/box-mask';
import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import { OnnxGraph } from '../../src/core/onnx/graph';
import type { ResultJson } from '../../src/core/export/result-json';
import { assertShapesFound, boxTolerance, fullMaskBounds, paletteColors, paletteModelPath, shapeCentre } from '../helpers/fixture-model';
import { encodeScene, maskIoU, randomScene, type Scene, shapeMask } from '../helpers/shapes';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? (Date.now() % 1_000_000) + 1);
console.log(`cli: FASTSAM_TEST_SEED=${SEED}`);



let model: string;
let dir: string;
before(async () => {
  assertCliBuilt();
  model = await paletteModelPath();
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-cli-'));
});

async function writeScene(name: string, scene: Scene): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, await encodeScene(scene, name.endsWith('.jpg') ? 'jpeg' : 'png', name.endsWith('.jpg') ? { quality: 95 } : {}));
  return file;
}

/** Decodes an 8- or 16-bit grayscale PNG to its raw values. */
async function readGray(file: string): Promise<{ values: Uint16Array; width: number; height: number }> {
  const { data, info } = await sharp(file).raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const all = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  const values = new Uint16Array(info.width * info.height);
  for (let i = 0; i < values.length; i++) values[i] = all[i * info.channels]!;
  return { values, width: info.width, height: info.height };
}

function parseLines(stdout: string): ResultJson[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as ResultJson);
}

describe('fastsam segment: everything', () => {
  it('prints one JSON line per image and writes the index map and JSON', async () => {
    const scenes = [randomScene(SEED, 640, 427, paletteColors), randomScene(SEED + 1, 300, 500, paletteColors)];
    const files = [await writeScene('a.png', scenes[0]!), await writeScene('b.png', scenes[1]!)];
    const out = path.join(dir, 'everything');
    const run = await fastsam(['segment', ...files, '--model', model, '--json', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const lines = parseLines(run.stdout);
    assert.equal(lines.length, 2);
    for (const [i, json] of lines.entries()) {
      const scene = scenes[i]!;
      assert.equal(json.image, files[i]);
      assert.deepEqual([json.width, json.height], [scene.width, scene.height]);
      for (const k of ['decode', 'preprocess', 'inference', 'postprocess', 'prompt', 'total'] as const) assert.equal(typeof json.timings_ms[k], 'number');
      assert.equal(json.masks.length, scene.shapes.length);
      // Largest first, all selected.
      for (let k = 1; k < json.masks.length; k++) assert.ok(json.masks[k - 1]!.area >= json.masks[k]!.area);
      assert.ok(json.masks.every((m) => m.selected));

      // The RLE decodes to the shapes (pycocotools' format: compressed column-major counts).
      const decoded = json.masks.map((m) => decodeRleToFull(m.rle));
      assert.deepEqual(json.masks[0]!.rle.size, [scene.height, scene.width]);
      scene.shapes.forEach((_, s) => {
        const best = Math.max(...decoded.map((d) => maskIoU(d, shapeMask(scene, s))));
        assert.ok(best >= 0.85, `shape ${s}: IoU ${best}`);
      });
      decoded.forEach((d, k) => assert.equal(d.reduce((a, b) => a + b, 0), json.masks[k]!.area));

      // The index map: value k + 1 where masks[k] is (smallest on top), 0 elsewhere.
      const stem = path.join(out, path.basename(files[i]!, '.png'));
      const index = await readGray(`${stem}.masks.png`);
      assert.deepEqual([index.width, index.height], [scene.width, scene.height]);
      for (let p = 0; p < index.values.length; p += 7) {
        const v = index.values[p]!;
        if (v === 0) assert.ok(decoded.every((d) => d[p] === 0), `pixel ${p} has a mask but index 0`);
        else assert.equal(decoded[v - 1]![p], 1, `pixel ${p}: index ${v}`);
      }
      assert.deepEqual(JSON.parse(readFileSync(`${stem}.masks.json`, 'utf8')), json);
    }
  });
});

describe('fastsam segment: prompts', () => {
  it('a point selects the shape under it and writes <stem>.mask.png', async () => {
    const scene = randomScene(SEED + 2, 800, 600, paletteColors);
    const file = await writeScene('point.png', scene);
    const out = path.join(dir, 'point');
    const [x, y] = shapeCentre(scene, 0);
    const run = await fastsam(['segment', file, '--model', model, '--point', `${x},${y}`, '--json', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const [json] = parseLines(run.stdout);
    assert.equal(json!.masks[0]!.selected, true);
    assert.equal(json!.masks.filter((m) => m.selected).length, 1);
    const mask = await readGray(path.join(out, 'point.mask.png'));
    assert.deepEqual([mask.width, mask.height], [scene.width, scene.height]);
    assert.ok(mask.values.every((v) => v === 0 || v === 255), 'binary 0/255');
    const iou = maskIoU(Uint8Array.from(mask.values, (v) => (v ? 1 : 0)), shapeMask(scene, 0));
    assert.ok(iou >= 0.95, `IoU ${iou}`);
  });

  it('a background point rules a mask out; a box selects by IoU', async () => {
    const scene = randomScene(SEED + 3, 700, 500, paletteColors);
    const file = await writeScene('box.jpg', scene);
    const s = scene.shapes[1]!;
    const run = await fastsam(['segment', file, '--model', model, '--box', `${s.x - 2},${s.y - 2},${s.x + s.w + 2},${s.y + s.h + 2}`, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const [json] = parseLines(run.stdout);
    const selected = decodeRleToFull(json!.masks[0]!.rle);
    assert.ok(maskIoU(selected, shapeMask(scene, 1)) >= 0.9);
    const b = fullMaskBounds(shapeMask(scene, 1), scene.width);
    json!.masks[0]!.bbox.forEach((v, k) => assert.ok(Math.abs(v - b[k]!) <= boxTolerance(scene, 1024)));

    const [x, y] = shapeCentre(scene, 1);
    const excluded = await fastsam(['segment', file, '--model', model, '--point', `${x},${y},1`, '--point', `${x + 1},${y},0`]);
    assert.equal(excluded.code, 1, 'the only mask under the point also holds the background point');
    assert.match(excluded.stderr, /no mask matches the prompt/);
  });
});

describe('fastsam segment: bad input', () => {
  /** Exit code 1, exactly one line on stderr matching `pattern`, nothing written. */
  async function assertFails(args: string[], pattern: RegExp): Promise<void> {
    const out = mkdtempSync(path.join(dir, 'out-'));
    const run = await fastsam([...args, '--out', out]);
    assert.equal(run.code, 1, `exit code; stderr: ${run.stderr}`);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got: ${run.stderr}`);
    assert.match(lines[0]!, pattern);
    assert.deepEqual(readdirSync(out), [], 'nothing written');
    assert.equal(run.stdout, '');
  }

  it('a corrupt (truncated) PNG', async () => {
    const png = await encodeScene(randomScene(SEED + 4, 300, 200, paletteColors), 'png');
    const file = path.join(dir, 'broken.png');
    writeFileSync(file, png.subarray(0, png.length >> 1));
    await assertFails(['segment', file, '--model', model], /broken\.png/);
  });

  it('a text file named .png', async () => {
    const file = path.join(dir, 'readme.png');
    writeFileSync(file, 'hello\n');
    await assertFails(['segment', file, '--model', model], /readme\.png.*not a supported image/);
  });

  it('a missing image', async () => {
    await assertFails(['segment', path.join(dir, 'absent.png'), '--model', model], /absent\.png/);
  });

  it('a missing model', async () => {
    const file = await writeScene('ok.png', randomScene(SEED + 5, 200, 200, paletteColors));
    await assertFails(['segment', file, '--model', path.join(dir, 'missing.onnx')], /Model file not found: .*missing\.onnx/);
  });

  it('an ONNX model with the wrong outputs', async () => {
    const g = new OnnxGraph();
    const x = g.input('images', 'float32', [1, 3, 64, 64]);
    g.output(g.node('ReduceMean', [x], { axes: [2, 3], keepdims: 0 }), 'logits', 'float32', [1, 3]);
    const bad = path.join(dir, 'wrong.onnx');
    writeFileSync(bad, g.toModelBytes());
    const file = await writeScene('ok2.png', randomScene(SEED + 6, 200, 200, paletteColors));
    await assertFails(['segment', file, '--model', bad], /wrong\.onnx is not a FastSAM/);
  });

  it('points outside the image', async () => {
    const file = await writeScene('small.png', randomScene(SEED + 7, 200, 100, paletteColors));
    await assertFails(['segment', file, '--model', model, '--point', '250,50'], /small\.png: Point \(250, 50\) is outside the image \(200×100\)/);
    // A value starting with '-' must be attached with '=' (node's parseArgs rule).
    await assertFails(['segment', file, '--model', model, '--point=-3,50'], /outside the image/);
  });

  it('an existing output is not overwritten without --overwrite', async () => {
    const scene = randomScene(SEED + 8, 240, 160, paletteColors);
    const file = await writeScene('keep.png', scene);
    const out = mkdtempSync(path.join(dir, 'keep-'));
    const target = path.join(out, 'keep.mask.png');
    writeFileSync(target, 'precious');
    const [x, y] = shapeCentre(scene, 0);
    const run = await fastsam(['segment', file, '--model', model, '--point', `${x},${y}`, '--out', out]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /keep\.mask\.png already exists/);
    assert.equal(readFileSync(target, 'utf8'), 'precious');
    const again = await fastsam(['segment', file, '--model', model, '--point', `${x},${y}`, '--out', out, '--overwrite']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(statSync(target).size > 8);
    assert.deepEqual(readdirSync(out).sort(), ['keep.mask.png'], 'no temporary file left behind');
  });

  it('a provider that cannot load gives one line, without onnxruntime\'s own log', async () => {
    // Here (no CUDA libraries) the CUDA provider fails; where it loads, nothing is printed either.
    const file = await writeScene('provider.png', randomScene(SEED + 13, 200, 150, paletteColors));
    const run = await fastsam(['segment', file, '--model', model, '--provider', 'cuda']);
    assert.doesNotMatch(run.stderr, /onnxruntime|\x1b\[/, 'no native log line');
    if (run.code !== 0) assert.match(run.stderr, /^fastsam: The cuda execution provider could not load .*Choose "auto" or "cpu"\.\n$/);
  });

  it('one bad image among good ones: the others are still processed, and --json reports each', async () => {
    const good = await writeScene('good.png', randomScene(SEED + 9, 300, 200, paletteColors));
    const bad = path.join(dir, 'bad.png');
    writeFileSync(bad, 'nope');
    const missing = path.join(dir, 'missing.png');
    const run = await fastsam(['segment', bad, missing, good, '--model', model, '--json']);
    assert.equal(run.code, 1);
    const errors = run.stderr.trimEnd().split('\n');
    assert.equal(errors.length, 2, run.stderr);
    // One object per image, in order: the failed ones with the message stderr gives.
    const [first, second, third] = parseLines(run.stdout) as unknown as Record<string, unknown>[];
    assert.deepEqual(first, { image: bad, error: errors[0]!.replace(/^fastsam: /, '') });
    assert.deepEqual(second, { image: missing, error: errors[1]!.replace(/^fastsam: /, '') });
    assert.match(String(second!.error), /does not exist/);
    assert.equal(third!.image, good);
    assert.ok(Array.isArray(third!.masks));
  });

  it('two images with the same name and --out: the second is refused, the first one\'s files are kept, with --overwrite too', async () => {
    const a = await writeScene('same.png', randomScene(SEED + 11, 240, 160, paletteColors));
    const sub = mkdtempSync(path.join(dir, 'same-'));
    const b = path.join(sub, 'same.jpg');
    writeFileSync(b, await encodeScene(randomScene(SEED + 12, 320, 200, paletteColors), 'jpeg', { quality: 95 }));
    const out = mkdtempSync(path.join(dir, 'out-'));
    for (const extra of [[], ['--overwrite']]) {
      const run = await fastsam(['segment', a, b, '--model', model, '--out', out, '--json', ...extra]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /same\.jpg: its index map file .*same\.masks\.png would also be .*same\.png's/);
      const written = JSON.parse(readFileSync(path.join(out, 'same.masks.json'), 'utf8')) as ResultJson;
      assert.equal(written.width, 240, `${extra.join(' ')}: the JSON is the first image's`);
    }
  });

  it('a folder without images is an error, and so is --out naming a file', async () => {
    const empty = mkdtempSync(path.join(dir, 'empty-'));
    const out = path.join(dir, 'never-made');
    const run = await fastsam(['segment', empty, '--model', model, '--out', out]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no image files found in .*empty-/);
    assert.ok(!existsSync(out), 'no --out folder made for nothing');
    const file = await writeScene('plain.png', randomScene(SEED + 13, 200, 150, paletteColors));
    for (const out of [file, path.join(file, 'sub')]) {
      const bad = await fastsam(['segment', file, '--model', model, '--out', out]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Cannot create the folder .*plain\.png.*: part of its path is a file, not a folder/);
    }
  });

  it('an installation without its WebAssembly kernels, or with damaged ones, says so in one line', async () => {
    // The bundle alone, as a broken install would have it; its packages still resolve from the repository.
    const install = mkdtempSync(path.join(dir, 'install-'));
    for (const f of ['cli.js', 'pool-worker.js']) copyFileSync(path.join(path.dirname(CLI), f), path.join(install, f));
    const file = await writeScene('kernels.png', randomScene(SEED + 10, 200, 150, paletteColors));
    const env = { ...process.env, NODE_PATH: path.resolve(__dirname, '../../node_modules') };
    for (const [state, pattern] of [['missing', /kernels are missing \(.*kernels\.wasm\): reinstall the extension/], ['damaged', /kernels are damaged \(.*kernels\.wasm\): reinstall the extension/]] as const) {
      if (state === 'damaged') writeFileSync(path.join(install, 'kernels.wasm'), 'not WebAssembly');
      const out = mkdtempSync(path.join(dir, 'out-'));
      const run = await fastsam(['segment', file, '--model', model, '--out', out], env, path.join(install, 'cli.js'));
      assert.equal(run.code, 1, `${state}: ${run.stderr}`);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${state}: one line, got: ${run.stderr}`);
      assert.match(lines[0]!, pattern);
      assert.deepEqual(readdirSync(out), []);
    }
  });

  it('usage errors exit 2', async () => {
    for (const args of [[], ['segment'], ['segment', 'x.png'], ['segment', 'x.png', '--model', model, '--point', '1'], ['segment', 'x.png', '--model', model, '--imgsz', '100'], ['segment', 'x.png', '--model', model, '--imgsz', '4128'], ['segment', 'x.png', '--model', model, '--imgsz', '99999968'], ['segment', 'x.png', '--model', model, '--imgsz', '0x280'], ['segment', 'x.png', '--model', model, '--point', '0x10,5'], ['convert', 'x.pt', 'y.onnx', '--imgsz', '8192'], ['frobnicate'], ['segment', 'x.png', '--model', model, '--bogus']]) {
      const run = await fastsam(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /fastsam: /);
    }
  });

  it('--help prints the usage', async () => {
    const run = await fastsam(['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /fastsam segment <image\.\.\.> --model/);
  });
});

describe('fastsam segment: images never seen, any size and orientation', () => {
  it('finds every shape in a rotated JPEG and a tall PNG', async () => {
    // At S = 640 a prototype cell of the 1300-pixel image is 8 pixels, too coarse for the
    // 0.95 bound on its smallest shapes (a quarter of 250 pixels); it gets the default 1024.
    const cases: [string, Scene, Parameters<typeof encodeScene>[2], number][] = [
      ['rotated.jpg', randomScene(SEED + 10, 900, 600, paletteColors), { orientation: 8, quality: 95 }, 640],
      ['tall.png', randomScene(SEED + 11, 250, 1300, paletteColors), {}, 1024],
    ];
    for (const [name, scene, opts, imageSize] of cases) {
      const file = path.join(dir, name);
      writeFileSync(file, await encodeScene(scene, name.endsWith('.jpg') ? 'jpeg' : 'png', opts));
      const run = await fastsam(['segment', file, '--model', model, '--json', '--imgsz', String(imageSize)]);
      assert.equal(run.code, 0, run.stderr);
      const [json] = parseLines(run.stdout);
      // The JSON, decoded, must meet the same bounds as the engine's own result.
      assertShapesFound(
        scene,
        {
          width: json!.width,
          height: json!.height,
          imageSize,
          timings: { decode: 0, preprocess: 0, inference: 0, postprocess: 0 },
          masks: json!.masks.map((m) => ({ id: m.id, score: m.score, box: m.bbox, mask: fromFullMask(decodeRleToFull(m.rle), json!.width, json!.height) })),
        },
        name,
      );
    }
  });
});

/**
 * `fastsam segment --text` as users run it: the built `dist/cli.js` (npm test
 * builds first) in a child process, with the palette FastSAM fixture and the
 * clip-palette fixture CLIP, on shape images it has never seen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { assertCliBuilt, fastsam } from '../helpers/cli';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';

import { decodeRleToFull } from '../../src/core/masks/coco-rle';
import type { TextResultJson } from '../../src/cli/text-prompt';
import { clipFixturePath } from '../helpers/clip-fixture';
import { colorName, palette, paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { encodeScene, maskIoU, randomScene, type RGB, type Scene, shapeMask } from '../helpers/shapes';

const SEED = Number(process.env.FASTSAM_TEST_SEED ?? (Date.now() % 1_000_000) + 11);
console.log(`cli-text: FASTSAM_TEST_SEED=${SEED}`);



let model: string;
let clip: string;
let dir: string;
before(async () => {
  assertCliBuilt();
  [model, clip] = await Promise.all([paletteModelPath(), clipFixturePath()]);
  dir = mkdtempSync(path.join(tmpdir(), 'fastsam-cli-text-'));
});

const BLUE = [...palette.colors[palette.names.indexOf('blue')]!] as RGB;

/** A random scene that has a blue shape; returns it with the blue shape's index. */
function sceneWithBlue(seed: number): { scene: Scene; blue: number } {
  const scene = randomScene(seed, 800, 600, paletteColors);
  let blue = scene.shapes.findIndex((s) => colorName(s.color) === 'blue');
  if (blue < 0) {
    blue = seed % scene.shapes.length;
    scene.shapes[blue]!.color = BLUE;
  }
  return { scene, blue };
}

async function write(name: string, scene: Scene): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, await encodeScene(scene, 'png'));
  return file;
}

describe('fastsam segment --text', () => {
  it('selects the blue shape for "blue", then ranked alternatives, each with its text score', async () => {
    const { scene, blue } = sceneWithBlue(SEED);
    const file = await write('shapes.png', scene);
    const out = path.join(dir, 'out');
    const run = await fastsam(['segment', file, '--model', model, '--clip-model', clip, '--text', 'blue', '--json', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout) as TextResultJson;
    const [first, ...rest] = json.masks;
    assert.equal(first!.selected, true);
    const iou = maskIoU(decodeRleToFull(first!.rle), shapeMask(scene, blue));
    assert.ok(iou >= 0.95, `seed ${SEED}: IoU ${iou.toFixed(3)} with the blue shape`);
    assert.ok(first!.text_score! > 0.99, `text score ${first!.text_score}`);
    assert.equal(rest.length, Math.min(2, scene.shapes.length - 1), 'up to two alternatives');
    for (const [k, m] of rest.entries()) {
      assert.equal(m.selected, false);
      assert.ok(m.text_score! <= (k === 0 ? first! : rest[k - 1]!).text_score!, 'ranked by text score');
    }
    const written = await sharp(path.join(out, 'shapes.mask.png')).raw().toBuffer({ resolveWithObject: true });
    const selection = Uint8Array.from({ length: scene.width * scene.height }, (_, p) => (written.data[p * written.info.channels] ? 1 : 0));
    assert.ok(maskIoU(selection, shapeMask(scene, blue)) >= 0.95, 'the mask file is the blue shape');
  });

  it('--all-above selects every shape named', async () => {
    // Without "dark green": the fixture's bag of words reads "green and dark green" as dark green twice.
    const scene = randomScene(SEED + 1, 800, 600, paletteColors.filter((c) => colorName(c) !== 'dark green'));
    const file = await write('two.png', scene);
    const [a, b] = [colorName(scene.shapes[0]!.color), colorName(scene.shapes[1]!.color)];
    const run = await fastsam(['segment', file, '--model', model, '--clip-model', clip, '--text', `the ${a} and the ${b}`, '--all-above', '0.3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const json = JSON.parse(run.stdout) as TextResultJson;
    const selected = json.masks.filter((m) => m.selected);
    assert.equal(selected.length, 2);
    for (const shape of [0, 1]) {
      const best = Math.max(...selected.map((m) => maskIoU(decodeRleToFull(m.rle), shapeMask(scene, shape))));
      assert.ok(best >= 0.95, `shape ${shape}: IoU ${best.toFixed(3)}`);
    }
  });

  it('exits 1 with one clear line when the CLIP model is missing or broken', async () => {
    const { scene } = sceneWithBlue(SEED + 2);
    const file = await write('broken.png', scene);
    const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
      [['--clip-model', path.join(dir, 'no-such-folder')], /^fastsam: CLIP model folder ".*no-such-folder" does not exist$/],
      [['--clip-model', file], /^fastsam: CLIP model ".*broken\.png" is a file; it must be a folder/],
      [['--clip-model', dir], /^fastsam: CLIP model folder ".*" is incomplete: config\.json, .* missing$/],
      [[], /^fastsam: CLIP model "Xenova\/clip-vit-base-patch32" is not available offline: .* or pass a local folder with --clip-model$/, { ...process.env, HF_HUB_OFFLINE: '1', XDG_CACHE_HOME: path.join(dir, 'cache') }],
    ];
    for (const [args, message, env] of cases) {
      const run = await fastsam(['segment', file, '--model', model, '--text', 'blue', ...args], env);
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, message);
      assert.equal(run.stdout, '');
    }
  });

  it('rejects options that cannot apply (exit 2)', async () => {
    const { scene } = sceneWithBlue(SEED + 3);
    const file = await write('usage.png', scene);
    const cases: [string[], RegExp][] = [
      [['--all-above', '0.5'], /--all-above needs --text/],
      [['--clip-model', clip], /--clip-model needs --text/],
      [['--text', 'blue', '--point', '5,5'], /--text cannot be combined with --point or --box/],
      [['--text', 'blue', '--all-above', '0'], /--all-above must be above 0 and at most 1/],
      [['--text', '  '], /--text must not be empty/],
    ];
    for (const [args, message] of cases) {
      const run = await fastsam(['segment', file, '--model', model, ...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });
});

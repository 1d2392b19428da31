/**
 * samples/shapes: the committed files are what scripts/sample-shapes.ts
 * describes (so its scenes are valid ground truth for the UI tests and demos),
 * and the palette fixture model finds every drawn shape in them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FastSamEngine } from '../../src/core/engine';
import { encodeSample, SAMPLE_SHAPES, SAMPLE_SHAPES_DIR } from '../../scripts/sample-shapes';
import { assertShapesFound, paletteModelPath } from '../helpers/fixture-model';

let engine: FastSamEngine;
before(async () => {
  engine = await FastSamEngine.create({ modelPath: await paletteModelPath(), executionProvider: 'cpu' });
});
after(async () => engine?.dispose());

describe('samples/shapes', () => {
  for (const sample of SAMPLE_SHAPES) {
    const file = path.join(SAMPLE_SHAPES_DIR, sample.file);

    it(`${sample.file} is what scripts/sample-shapes.ts generates`, async () => {
      const committed = readFileSync(file);
      const generated = await encodeSample(sample);
      assert.ok(committed.equals(generated), `${sample.file} differs from its scene: run npx tsx scripts/make-sample-shapes.ts`);
    });

    it(`${sample.file}: the fixture model finds every shape`, async () => {
      const bytes = readFileSync(file);
      const meta = await sharp(bytes).metadata();
      assert.equal(meta.format, sample.format);
      assert.equal(meta.orientation, sample.options.orientation, 'EXIF orientation');
      const result = await engine.segment(bytes, { imageSize: 1024 });
      assertShapesFound(sample.scene, result, sample.file);
    });
  }

  it('stays small (the samples are committed)', () => {
    const total = SAMPLE_SHAPES.reduce((n, s) => n + readFileSync(path.join(SAMPLE_SHAPES_DIR, s.file)).length, 0);
    assert.ok(total < 200_000, `${total} bytes`);
  });
});

/**
 * LabelMe JSON: valid against a JSON schema of LabelMe's file format
 * (test/schemas/labelme.schema.json), points inside the image, the parts of a
 * mask sharing a group_id, and each group re-rasterized matching its mask.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { labelmeFile, stringifyLabelMe } from '../../src/core/export/labelme';
import { segmentedMask, testMasks } from '../helpers/masks';
import { rasterizePolygons } from '../helpers/rasterize';
import { maskIoU } from '../helpers/shapes';

const schema = JSON.parse(readFileSync(path.join(__dirname, '../schemas/labelme.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);
const W = 160;
const H = 120;
const cases = testMasks(W, H);

function check(data: unknown): void {
  assert.ok(validate(data), JSON.stringify(validate.errors, null, 1));
}

describe('LabelMe JSON', () => {
  const file = JSON.parse(stringifyLabelMe(labelmeFile('../images/photo.png', W, H, cases.map((t, i) => segmentedMask(t.full, W, H, i))))) as ReturnType<typeof labelmeFile>;

  it('validates against the LabelMe schema', () => {
    check(file);
    assert.equal(file.imagePath, '../images/photo.png');
    assert.equal(file.imageData, null);
    assert.deepEqual([file.imageWidth, file.imageHeight], [W, H]);
  });

  it('the schema rejects what LabelMe cannot open', () => {
    const broken = (change: (f: any) => void) => {
      const copy = structuredClone(file) as any;
      change(copy);
      return copy;
    };
    for (const bad of [
      broken((f) => delete f.imagePath),
      broken((f) => (f.imageWidth = 0)),
      broken((f) => (f.shapes[0].points = f.shapes[0].points.slice(0, 2))),
      broken((f) => (f.shapes[0].points[0] = [1])),
      broken((f) => (f.shapes[0].shape_type = 'blob')),
      broken((f) => (f.version = '4.0')),
    ]) {
      assert.equal(validate(bad), false);
    }
  });

  it('keeps every point inside the image', () => {
    for (const shape of file.shapes) {
      for (const [x, y] of shape.points) assert.ok(x >= 0 && x <= W && y >= 0 && y <= H, `(${x}, ${y})`);
    }
  });

  it('gives the parts of one mask one group_id, and each group matches its mask (IoU ≥ 0.9)', () => {
    cases.forEach((t, i) => {
      const shapes = file.shapes.filter((s) => s.group_id === i + 1);
      assert.equal(shapes.length, t.parts, `${t.name}: parts`);
      assert.ok(shapes.every((s) => s.label === 'object' && s.shape_type === 'polygon'));
      const iou = maskIoU(rasterizePolygons(shapes.map((s) => s.points.flat()), W, H), t.full);
      assert.ok(iou >= 0.9, `${t.name}: IoU ${iou.toFixed(4)}`);
    });
    assert.equal(file.shapes.length, cases.reduce((n, t) => n + t.parts, 0));
  });

  it('is valid without masks', () => {
    check(labelmeFile('a.jpg', 5, 5, []));
  });
});

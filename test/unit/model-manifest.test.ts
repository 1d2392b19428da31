/** models/manifest.json and its validation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserFacingError } from '../../src/core/errors';
import { ManifestError, MODEL_MANIFEST, findModel, parseManifest } from '../../src/core/models/manifest';

const entry = {
  id: 'fastsam-s', displayName: 'FastSAM-s', description: 'small', fileName: 'FastSAM-s.pt', format: 'pt', size: null,
  approximateSize: 23.8e6, sha256: null, license: 'AGPL-3.0', licenseUrl: 'https://example.org/license', urls: ['https://example.org/FastSAM-s.pt'],
};

describe('model manifest', () => {
  test('ships FastSAM-s and FastSAM-x from Ultralytics’ three release tags, AGPL-3.0', () => {
    assert.deepEqual(MODEL_MANIFEST.models.map((m) => [m.id, m.fileName]), [['fastsam-s', 'FastSAM-s.pt'], ['fastsam-x', 'FastSAM-x.pt']]);
    for (const m of MODEL_MANIFEST.models) {
      assert.equal(m.license, 'AGPL-3.0');
      assert.deepEqual(m.urls, ['v8.3.0', 'v8.2.0', 'v8.1.0'].map((tag) => `https://github.com/ultralytics/assets/releases/download/${tag}/${m.fileName}`));
    }
    assert.equal(findModel('fastsam-x').approximateSize, 138e6);
  });

  test('an unknown id names the known ones', () => {
    assert.throws(() => findModel('fastsam-l'), (e: unknown) => e instanceof UserFacingError && e.message === 'Unknown model "fastsam-l"; known models: fastsam-s, fastsam-x');
  });

  test('bad entries are refused with the field at fault', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ id: 'FastSAM S' }, /models\[0\]\.id "FastSAM S" must be lower-case/],
      [{ fileName: '../FastSAM-s.pt' }, /fileName "\.\.\/FastSAM-s\.pt" must be a plain \.pt file name/],
      [{ format: 'onnx' }, /format must be "pt"/],
      [{ size: -1 }, /size must be a positive integer or null/],
      [{ sha256: 'ABC' }, /sha256 must be 64 lower-case hex digits or null/],
      [{ urls: [] }, /urls must be a non-empty array/],
      [{ urls: ['ftp://example.org/x.pt'] }, /urls must be a non-empty array of http\(s\) URLs/],
      [{ license: '' }, /license must be a non-empty string/],
    ];
    for (const [change, message] of bad) {
      assert.throws(() => parseManifest({ schemaVersion: 1, models: [{ ...entry, ...change }] }), (e: unknown) => e instanceof ManifestError && message.test(e.message), JSON.stringify(change));
    }
    assert.throws(() => parseManifest({ schemaVersion: 1, models: [entry, entry] }), /models\[1\]\.id "fastsam-s" is not unique/);
    assert.throws(() => parseManifest({ schemaVersion: 2, models: [entry] }), /schemaVersion 2 is not supported/);
    assert.deepEqual(parseManifest({ schemaVersion: 1, models: [{ ...entry, sha256: 'a'.repeat(64), size: 5 }] }).models[0]!.size, 5);
  });
});

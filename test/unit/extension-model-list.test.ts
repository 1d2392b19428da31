/**
 * The model commands' list of models: what is in the models folder (complete,
 * partial, missing), size and recorded SHA-256, whether fastsam.modelPath uses
 * it, the quick picks' words, and deleting a model's files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { MODEL_MANIFEST } from '../../src/core/models/manifest';
import { downloadRecordPath } from '../../src/core/models/model-files';
import {
  deleteModelFiles,
  downloadChoices,
  downloadProgressMessage,
  formatBytes,
  listModels,
  manageChoices,
  modelActions,
  modelLabel,
  usesModel,
} from '../../src/extension/model-list';

const SHA = 'ab'.repeat(32);

function folder(): string {
  return mkdtempSync(path.join(tmpdir(), 'fastsam-models-'));
}

/** FastSAM-s downloaded (with its record and conversion), FastSAM-x half downloaded. */
function populated(): string {
  const dir = folder();
  const s = path.join(dir, 'FastSAM-s.pt');
  writeFileSync(s, Buffer.alloc(2_400_000));
  writeFileSync(downloadRecordPath(s), JSON.stringify({ schemaVersion: 1, modelId: 'fastsam-s', size: 2_400_000, sha256: SHA, url: 'http://x/FastSAM-s.pt', downloadedAt: '2024-01-01T00:00:00Z' }));
  writeFileSync(`${s}.onnx`, 'onnx');
  writeFileSync(path.join(dir, 'FastSAM-x.pt.part'), Buffer.alloc(5_000_000));
  writeFileSync(path.join(dir, 'FastSAM-x.pt.part.json'), '{}');
  return dir;
}

describe('listModels', () => {
  test('an empty folder: every manifest model, missing', async () => {
    const dir = folder();
    const list = await listModels(MODEL_MANIFEST, dir, undefined);
    assert.deepEqual(list.map((m) => [m.entry.id, m.state, m.path]), [
      ['fastsam-s', 'missing', path.join(dir, 'FastSAM-s.pt')],
      ['fastsam-x', 'missing', path.join(dir, 'FastSAM-x.pt')],
    ]);
    assert.ok(list.every((m) => !m.inUse && m.size === undefined && m.sha256 === null && m.onnxPath === undefined));
  });

  test('downloaded and partial models: size, recorded SHA-256, conversion, in use through the checkpoint or its conversion', async () => {
    const dir = populated();
    const s = path.join(dir, 'FastSAM-s.pt');
    for (const modelPath of [s, `${s}.onnx`]) {
      const [small, large] = await listModels(MODEL_MANIFEST, dir, modelPath);
      assert.deepEqual({ ...small!, entry: small!.entry.id }, { entry: 'fastsam-s', state: 'ready', path: s, onnxPath: `${s}.onnx`, size: 2_400_000, partialBytes: 0, sha256: SHA, inUse: true });
      assert.deepEqual([large!.state, large!.partialBytes, large!.inUse, large!.size], ['partial', 5_000_000, false, undefined]);
    }
    const [notUsed] = await listModels(MODEL_MANIFEST, dir, path.join(dir, 'other.onnx'));
    assert.equal(notUsed!.inUse, false);
  });

  test('a file put there by hand has no recorded hash; a damaged record is listed with its problem', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'FastSAM-s.pt'), 'x');
    writeFileSync(path.join(dir, 'FastSAM-x.pt'), 'x');
    writeFileSync(downloadRecordPath(path.join(dir, 'FastSAM-x.pt')), '{"schemaVersion": 1}');
    const [s, x] = await listModels(MODEL_MANIFEST, dir, undefined);
    assert.deepEqual([s!.state, s!.sha256, s!.recordProblem], ['ready', null, undefined]);
    assert.equal(x!.state, 'ready');
    assert.match(x!.recordProblem ?? '', /is not a valid download record/);
    assert.match(manageChoices([x!])[0]!.detail ?? '', /is not a valid download record/);
  });
});

describe('the quick picks', () => {
  test('Download Model…: name, size, license in the detail, and a "downloaded" marker', async () => {
    const dir = populated();
    const items = downloadChoices(await listModels(MODEL_MANIFEST, dir, path.join(dir, 'FastSAM-s.pt.onnx')));
    assert.deepEqual(items.map((i) => [i.label, i.description]), [
      ['FastSAM-s', '2.4 MB · downloaded · in use'],
      ['FastSAM-x', 'about 138.0 MB · 5.0 MB downloaded, resumes'],
    ]);
    for (const i of items) assert.match(i.detail ?? '', /Weights by Ultralytics, AGPL-3\.0 license\.$/);
    assert.deepEqual(items.map((i) => i.value.id), ['fastsam-s', 'fastsam-x']);
    const fresh = downloadChoices(await listModels(MODEL_MANIFEST, folder(), undefined));
    assert.deepEqual(fresh.map((i) => i.description), ['about 23.8 MB', 'about 138.0 MB']);
  });

  test('Manage Models…: downloaded and partial models first, then the others to download', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'FastSAM-x.pt'), Buffer.alloc(1000));
    const items = manageChoices(await listModels(MODEL_MANIFEST, dir, undefined));
    assert.deepEqual(items.map((i) => [i.group, i.label, i.description, i.value.kind]), [
      ['Downloaded', 'FastSAM-x', '1 kB · not in use', 'model'],
      ['Available', 'Download FastSAM-s…', 'about 23.8 MB', 'download'],
    ]);
    assert.equal(items[0]!.detail, 'No SHA-256 recorded');

    const both = manageChoices(await listModels(MODEL_MANIFEST, populated(), undefined));
    assert.deepEqual(both.map((i) => [i.label, i.description]), [
      ['FastSAM-s', '2.4 MB · not in use'],
      ['FastSAM-x', '5.0 MB of about 138.0 MB downloaded'],
    ]);
    assert.equal(both[0]!.detail, `SHA-256 ${SHA} (recorded at download)`);
  });

  test('actions: Use unless in use, Reveal, Delete; a partial download: Resume, Delete', async () => {
    const dir = populated();
    const s = path.join(dir, 'FastSAM-s.pt');
    const [unused, partial] = await listModels(MODEL_MANIFEST, dir, undefined);
    const [used] = await listModels(MODEL_MANIFEST, dir, s);
    assert.deepEqual(modelActions(unused!).map((a) => a.value), ['use', 'reveal', 'delete']);
    assert.deepEqual(modelActions(used!).map((a) => a.value), ['reveal', 'delete']);
    assert.match(modelActions(used!).at(-1)!.description ?? '', /clear fastsam\.modelPath/);
    assert.deepEqual(modelActions(partial!).map((a) => a.value), ['resume', 'delete']);
  });
});

describe('words', () => {
  test('sizes and download progress', () => {
    assert.equal(formatBytes(23_800_000), '23.8 MB');
    assert.equal(formatBytes(1_000), '1 kB');
    assert.equal(formatBytes(999), '999 bytes');
    assert.equal(downloadProgressMessage('FastSAM-s.pt', { bytes: 12_345_678, total: 23_800_000, percent: 51.87 }), 'Downloading FastSAM-s.pt: 12.3 MB of 23.8 MB (51%)');
    assert.equal(downloadProgressMessage('FastSAM-s.pt', { bytes: 3_000_000, total: null, percent: null }), 'Downloading FastSAM-s.pt: 3.0 MB');
  });

  test('a conversion is named by its checkpoint', () => {
    assert.equal(modelLabel('/s/models/FastSAM-s.pt.onnx'), 'FastSAM-s.pt');
    assert.equal(modelLabel('/s/models/FastSAM-s.pt'), 'FastSAM-s.pt');
    assert.equal(modelLabel('/m/palette-fastsam.onnx'), 'palette-fastsam.onnx');
  });

  test('usesModel: the checkpoint or its conversion, after normalising the path', () => {
    assert.ok(usesModel('/a/b/../b/FastSAM-s.pt', '/a/b/FastSAM-s.pt'));
    assert.ok(usesModel('/a/b/FastSAM-s.pt.onnx', '/a/b/FastSAM-s.pt'));
    assert.ok(!usesModel('/a/c/FastSAM-s.pt.onnx', '/a/b/FastSAM-s.pt'));
    assert.ok(!usesModel(undefined, '/a/b/FastSAM-s.pt'));
  });
});

describe('deleteModelFiles', () => {
  test('removes the checkpoint, its record, conversion and partial download, and nothing else', async () => {
    const dir = populated();
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const removed = await deleteModelFiles(path.join(dir, 'FastSAM-s.pt'));
    assert.deepEqual(removed.map((f) => path.basename(f)), ['FastSAM-s.pt', 'FastSAM-s.pt.download.json', 'FastSAM-s.pt.onnx']);
    assert.deepEqual(readdirSync(dir).sort(), ['FastSAM-x.pt.part', 'FastSAM-x.pt.part.json', 'notes.txt']);
    assert.deepEqual((await deleteModelFiles(path.join(dir, 'FastSAM-x.pt'))).map((f) => path.basename(f)), ['FastSAM-x.pt.part', 'FastSAM-x.pt.part.json']);
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
  });
});

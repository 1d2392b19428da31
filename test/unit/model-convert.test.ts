/**
 * Checkpoint → ONNX conversion against PyTorch itself: the committed tiny
 * checkpoints (official layout, -s and -x depth and channel caps) and their
 * PyTorch outputs, written by scripts/fixtures/make-checkpoints.py; the yaml
 * parsing at FastSAM's real scales; the conversion cache; random-weight models.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, promises as fs, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../../src/core/errors';
import { ZipArchive } from '../../src/core/models/checkpoint/zip';
import { type ConversionProgress, checkpointToOnnx, convertCheckpoint, convertedModelPath, fallbackConvertedModelPath, resolveModelFile } from '../../src/core/models/convert';
import { downloadRecordPath } from '../../src/core/models/model-files';
import { buildRandomYolov8Seg, calibratedRandomWeights } from '../../src/core/models/yolov8-random';
import { type Yolov8Yaml, ArchitectureError, YOLOV8_SEG_YAML, buildYolov8SegGraph, parseYolov8SegYaml } from '../../src/core/models/yolov8-seg';
import { makeReadOnly, undoReadOnly } from '../helpers/read-only-folder';

const FIXTURES = path.resolve(__dirname, '../../models/fixtures/checkpoints');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const floats = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));

async function run(model: Uint8Array, input: Float32Array, size: number): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(model);
  try {
    return (await session.run({ images: new ort.Tensor('float32', input, [1, 3, size, size]) })) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array, from = 0, to = a.length): number {
  let max = 0;
  for (let i = from; i < to; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('conversion matches PyTorch on the tiny official-layout checkpoints', () => {
  for (const name of ['tiny-s', 'tiny-x']) {
    for (const fixed of [false, true]) {
      test(`${name}, ${fixed ? 'fixed' : 'dynamic'} input`, async () => {
        const meta = JSON.parse(fixture(`${name}.json`).toString()) as { input: number[]; output0: number[]; output1: number[] };
        const size = meta.input[2]!;
        const warnings: string[] = [];
        const converted = await checkpointToOnnx(fixture(`${name}.pt`), {
          imageSize: fixed ? size : undefined,
          logger: { info: () => {}, warn: (m) => warnings.push(m) },
        });
        if (name === 'tiny-x') assert.deepEqual(warnings, ['The model yaml says scale "n" but the weights are scale "x"']);
        assert.equal(converted.architecture.scaleName, name === 'tiny-s' ? 's' : 'x');

        const input = Float32Array.from(fixture(`${name}.input.bin`), (v) => v / 255);
        const out = await run(converted.model, input, size);
        assert.deepEqual(out.output0!.dims, meta.output0);
        assert.deepEqual(out.output1!.dims, meta.output1);
        const head = out.output0!.data as Float32Array;
        const expectedHead = floats(fixture(`${name}.output0.bin`));
        const anchors = meta.output0[2]!;
        const boxes = maxAbsDiff(head, expectedHead, 0, 4 * anchors);
        const rest = maxAbsDiff(head, expectedHead, 4 * anchors);
        const protos = maxAbsDiff(out.output1!.data as Float32Array, floats(fixture(`${name}.output1.bin`)));
        console.log(`${name} (${fixed ? 'fixed' : 'dynamic'}): max |ONNX − PyTorch| boxes ${boxes.toExponential(2)}, scores+coefficients ${rest.toExponential(2)}, prototypes ${protos.toExponential(2)}`);
        assert.ok(boxes <= 1e-3, `boxes differ by ${boxes}`);
        assert.ok(rest <= 1e-3, `scores and coefficients differ by ${rest}`);
        assert.ok(protos <= 1e-3, `prototypes differ by ${protos}`);
      });
    }
  }

  test('a fixed input size shows in the model; a dynamic one is symbolic', async () => {
    for (const [imageSize, shape] of [[96, [1, 3, 96, 96]], [undefined, [1, 3, 'height', 'width']]] as const) {
      const { model } = await checkpointToOnnx(fixture('tiny-s.pt'), { imageSize });
      const session = await ort.InferenceSession.create(model);
      const input = session.inputMetadata[0]!;
      assert.deepEqual([input.name, input.isTensor ? input.shape : null], ['images', shape]);
      assert.deepEqual(session.outputNames, ['output0', 'output1']);
      await session.release();
    }
  });

  test('progress goes through every stage, in order, up to 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-convert-'));
    const seen: ConversionProgress[] = [];
    await convertCheckpoint(path.join(FIXTURES, 'tiny-s.pt'), path.join(dir, 'out.onnx'), { onProgress: (p) => seen.push(p) });
    const stages = seen.map((p) => p.stage).filter((s, i, all) => s !== all[i - 1]);
    assert.deepEqual(stages, ['read', 'unpickle', 'build', 'serialize', 'write']);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.fraction >= seen[i - 1]!.fraction);
    assert.equal(seen.at(-1)!.fraction, 1);
  });

  test('cancellation stops the conversion without writing anything', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-convert-'));
    const controller = new AbortController();
    const out = path.join(dir, 'out.onnx');
    await assert.rejects(
      convertCheckpoint(path.join(FIXTURES, 'tiny-s.pt'), out, { signal: controller.signal, onProgress: (p) => p.stage === 'build' && controller.abort() }),
      { name: 'CancelledError' },
    );
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test('a file that is not a checkpoint fails with one line naming it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-convert-'));
    const file = path.join(dir, 'notes.pt');
    writeFileSync(file, 'just text');
    await assert.rejects(convertCheckpoint(file, path.join(dir, 'out.onnx')), (e: unknown) => {
      assert.ok(e instanceof ModelError);
      assert.equal(e.message, `${file} is not a readable PyTorch checkpoint: not a PyTorch checkpoint: not a zip archive (no end of central directory)`);
      return true;
    });
    await assert.rejects(convertCheckpoint(path.join(dir, 'absent.pt'), path.join(dir, 'out.onnx')), { message: `Model file not found: ${path.join(dir, 'absent.pt')}` });
  });
});

describe('resolveModelFile', () => {
  function copyFixture(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-resolve-'));
    const file = path.join(dir, 'FastSAM-tiny.pt');
    copyFileSync(path.join(FIXTURES, 'tiny-s.pt'), file);
    return file;
  }

  test('an ONNX path is returned as it is', async () => {
    assert.equal(await resolveModelFile('/nowhere/model.onnx'), '/nowhere/model.onnx');
  });

  test('a checkpoint is converted once next to itself, reused while newer, converted again when the checkpoint changes', async () => {
    const file = copyFixture();
    let stages = 0;
    const onProgress = () => stages++;
    const onnx = await resolveModelFile(file, { onProgress });
    assert.equal(onnx, `${file}.onnx`);
    assert.equal(onnx, convertedModelPath(file));
    assert.ok(stages > 0);
    const converted = statSync(onnx).mtimeMs;

    stages = 0;
    assert.equal(await resolveModelFile(file, { onProgress }), onnx);
    assert.equal(stages, 0, 'reused, not converted again');

    // The checkpoint replaced after the conversion: newer than it.
    utimesSync(onnx, new Date(converted - 60_000), new Date(converted - 60_000));
    utimesSync(file, new Date(converted - 30_000), new Date(converted - 30_000));
    assert.equal(await resolveModelFile(file, { onProgress }), onnx);
    assert.ok(stages > 0, 'converted again after the checkpoint changed');
    assert.ok(statSync(onnx).mtimeMs > converted - 30_000);
    stages = 0;
    await resolveModelFile(file, { onProgress });
    assert.equal(stages, 0);
  });

  test('a downloaded checkpoint that no longer matches its record is refused before conversion', async () => {
    const file = copyFixture();
    writeFileSync(downloadRecordPath(file), JSON.stringify({ schemaVersion: 1, modelId: 'fastsam-s', size: statSync(file).size, sha256: 'a'.repeat(64), url: 'https://example.org', downloadedAt: '2024-01-01T00:00:00Z' }));
    await assert.rejects(resolveModelFile(file), (e: unknown) => e instanceof ModelError && e.code === 'corrupt' && /no longer has the SHA-256/.test(e.message));
    await assert.rejects(fs.stat(`${file}.onnx`), { code: 'ENOENT' });
  });

  test('a missing checkpoint is a not-found model error', async () => {
    await assert.rejects(resolveModelFile('/nowhere/FastSAM-s.pt'), (e: unknown) => e instanceof ModelError && e.code === 'not-found');
  });

  test('a checkpoint in a read-only folder is converted into the fallback folder (else refused with the way out)', async (t) => {
    const file = copyFixture();
    const folder = path.dirname(file);
    if (!makeReadOnly(folder)) return t.skip('this machine cannot make a read-only folder');
    try {
      await assert.rejects(resolveModelFile(file), (e: unknown) => e instanceof ModelError && /the folder is read-only\): convert it elsewhere with "fastsam convert/.test(e.message));
      const fallback = mkdtempSync(path.join(tmpdir(), 'fastsam-fallback-'));
      const cache = path.join(fallback, 'conversions');
      let stages = 0;
      const onnx = await resolveModelFile(file, { fallbackFolder: cache, onProgress: () => stages++ });
      assert.equal(onnx, fallbackConvertedModelPath(file, cache));
      assert.match(path.basename(onnx), /^FastSAM-tiny\.pt-[0-9a-f]{12}\.onnx$/);
      assert.ok(stages > 0);
      assert.ok(statSync(onnx).size > 0);
      assert.deepEqual(await fs.readdir(folder), ['FastSAM-tiny.pt']);
      // Reused, not converted again; another checkpoint of the same name elsewhere gets its own file.
      stages = 0;
      assert.equal(await resolveModelFile(file, { fallbackFolder: cache, onProgress: () => stages++ }), onnx);
      assert.equal(stages, 0);
      assert.notEqual(fallbackConvertedModelPath(path.join(tmpdir(), 'elsewhere', 'FastSAM-tiny.pt'), cache), onnx);
    } finally {
      undoReadOnly(folder);
    }
  });
});

describe('YOLOv8-seg architecture from the yaml', () => {
  const widths = (yaml: Yolov8Yaml, scale: string) =>
    parseYolov8SegYaml(yaml, { scale }).layers.map((l) => (l.type === 'Conv' || l.type === 'C2f' || l.type === 'SPPF' ? l.c2 : l.type));

  test('FastSAM-s (yolov8s-seg scale) and FastSAM-x (yolov8x-seg scale) channel widths, repeats and head', () => {
    const s = parseYolov8SegYaml(YOLOV8_SEG_YAML, { scale: 's' });
    assert.deepEqual(widths(YOLOV8_SEG_YAML, 's').slice(0, 10), [32, 64, 64, 128, 128, 256, 256, 512, 512, 512]);
    assert.deepEqual(s.layers.filter((l) => l.type === 'C2f').map((l) => (l.type === 'C2f' ? l.n : 0)), [1, 2, 2, 1, 1, 1, 1, 1]);
    assert.deepEqual(s.strides, [8, 16, 32]);
    assert.deepEqual([s.head.ch, s.head.nc, s.head.nm, s.head.npr, s.head.boxChannels, s.head.classChannels, s.head.maskChannels], [[128, 256, 512], 1, 32, 128, 64, 128, 32]);

    const x = parseYolov8SegYaml(YOLOV8_SEG_YAML, { scale: 'x' });
    // max_channels 512 caps the 1024-channel layers at 512 × 1.25.
    assert.deepEqual(widths(YOLOV8_SEG_YAML, 'x').slice(0, 10), [80, 160, 160, 320, 320, 640, 640, 640, 640, 640]);
    assert.deepEqual(x.layers.filter((l) => l.type === 'C2f').map((l) => (l.type === 'C2f' ? l.n : 0)), [3, 6, 6, 3, 3, 3, 3, 3]);
    assert.deepEqual([x.head.ch, x.head.npr, x.head.boxChannels, x.head.classChannels, x.head.maskChannels], [[320, 640, 640], 320, 80, 320, 80]);
  });

  test('depth rounds half to even as Python does; old yamls use depth_multiple and width_multiple without a cap', () => {
    const old: Yolov8Yaml = { nc: 1, backbone: YOLOV8_SEG_YAML.backbone, head: YOLOV8_SEG_YAML.head, depth_multiple: 0.5, width_multiple: 2 };
    const arch = parseYolov8SegYaml(old);
    assert.equal(arch.scaleName, null);
    // 3 × 0.5 = 1.5 → 2, 6 × 0.5 = 3.
    assert.deepEqual(arch.layers.filter((l) => l.type === 'C2f').map((l) => (l.type === 'C2f' ? l.n : 0)), [2, 3, 3, 2, 2, 2, 2, 2]);
    assert.equal(arch.layers[7]!.type === 'Conv' && arch.layers[7]!.c2, 2048);
    // Without "scale", the first scale listed.
    assert.equal(parseYolov8SegYaml({ ...YOLOV8_SEG_YAML, scale: undefined }).scaleName, 'n');
  });

  test('unsupported modules and non-segmentation heads are refused', () => {
    const detect = { ...YOLOV8_SEG_YAML, head: [...YOLOV8_SEG_YAML.head.slice(0, -1), [[15, 18, 21], 1, 'Detect', ['nc']]] };
    assert.throws(() => parseYolov8SegYaml(detect, { scale: 's' }), (e: unknown) => e instanceof ArchitectureError && /layer 22 \(Detect\): the module Detect is not supported/.test(e.message));
    const c3 = { ...YOLOV8_SEG_YAML, backbone: [[-1, 1, 'Conv', [64, 3, 2]], [-1, 3, 'C3', [128]]], head: [] };
    assert.throws(() => parseYolov8SegYaml(c3, { scale: 's' }), /layer 1 \(C3\): the module C3 is not supported/);
    assert.throws(() => parseYolov8SegYaml({ ...YOLOV8_SEG_YAML, activation: 'nn.ReLU()' }, { scale: 's' }), /activation nn\.ReLU\(\) is not supported/);
    assert.throws(() => parseYolov8SegYaml(YOLOV8_SEG_YAML, { scale: 'q' }), /no usable scale "q"/);
  });
});

describe('random-weight models', () => {
  const tiny: Yolov8Yaml = { ...YOLOV8_SEG_YAML, scales: { t: [0.33, 0.0625, 1024] }, scale: 't' };

  test('are deterministic for a seed and differ between seeds', async () => {
    const arch = parseYolov8SegYaml(tiny);
    const bytes = async (seed: number) => buildYolov8SegGraph(arch, await calibratedRandomWeights(arch, seed)).graph.toModelBytes();
    const [a, b, c] = [await bytes(7), await bytes(7), await bytes(8)];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('a FastSAM-s sized model: the real shapes and size, and activations neither faded nor exploded', async () => {
    const { model, parameterCount, architecture } = await buildRandomYolov8Seg({ scale: 's', imageSize: 320, seed: 3 });
    assert.equal(architecture.scaleName, 's');
    assert.equal(parameterCount, 11_779_971);
    const size = 320;
    // A photo-like input: soft gradients and a few blobs of moderate contrast.
    const input = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const blob = Math.exp(-(((x - 100 - 40 * c) ** 2 + (y - 160) ** 2) / 3000)) + 0.6 * Math.exp(-(((x - 240) ** 2 + (y - 80 + 20 * c) ** 2) / 1500));
          input[(c * size + y) * size + x] = 0.3 + 0.2 * ((x + c * y) / (2 * size)) + 0.3 * blob;
        }
      }
    }
    const out = await run(model, input, size);
    assert.deepEqual(out.output0!.dims, [1, 37, 2100]);
    assert.deepEqual(out.output1!.dims, [1, 32, 80, 80]);
    const head = out.output0!.data as Float32Array;
    const row = (r: number) => head.subarray(r * 2100, (r + 1) * 2100);
    const std = (a: Float32Array) => {
      const m = a.reduce((s, v) => s + v, 0) / a.length;
      return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
    };
    assert.ok(head.every(Number.isFinite) && (out.output1!.data as Float32Array).every(Number.isFinite));
    const scores = [...row(4)].sort((p, q) => q - p);
    // Scores spread and not saturated, so a confidence threshold can keep tens to hundreds of anchors.
    const logit = (p: number) => Math.log(p / (1 - p));
    assert.ok(logit(scores[0]!) - logit(scores[1000]!) > 0.5 && scores[1000]! < 0.5, `scores ${scores[0]} … ${scores[1000]}`);
    for (const r of [36, 20]) assert.ok(std(row(r)) > 0.2 && std(row(r)) < 10, `mask coefficients std ${std(row(r))}`);
    const w = row(2);
    assert.ok(Math.min(...w) > 0 && std(w) > 5, 'box widths positive and varied');
    const protoStd = std(out.output1!.data as Float32Array);
    assert.ok(protoStd > 0.05 && protoStd < 10, `prototype std ${protoStd}`);
  });
});

describe('damaged checkpoints', () => {
  test('a weight whose bytes are damaged is reported when the network is built', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-damaged-'));
    const file = path.join(dir, 'FastSAM-tiny.pt');
    const bytes = Buffer.from(fixture('tiny-s.pt'));
    // A byte in the middle of the first weight storage's data.
    const entry = ZipArchive.open(bytes).entries.get('tiny-s/data/0')!;
    const h = entry.localHeaderOffset;
    bytes[h + 30 + bytes.readUInt16LE(h + 26) + bytes.readUInt16LE(h + 28) + Math.floor(entry.size / 2)]! ^= 0x55;
    writeFileSync(file, bytes);
    await assert.rejects(convertCheckpoint(file, path.join(dir, 'out.onnx')), (e: unknown) => {
      assert.ok(e instanceof ModelError);
      assert.match(e.message, /FastSAM-tiny\.pt is damaged: tiny-s\/data\/\d+ fails its CRC check: the file is damaged/);
      return true;
    });
  });
});

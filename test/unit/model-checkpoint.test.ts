/**
 * The PyTorch checkpoint reader: zip layer (stored, deflate, zip64, damage),
 * the restricted unpickler on CPython's own pickles and on hostile ones, and
 * tensors of every float storage type as torch.save writes them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ModelError } from '../../src/core/errors';
import { PyObject, UnsafePickleError, unpickle } from '../../src/core/models/checkpoint/pickle';
import { CheckpointError, TorchTensor, flattenModule, readTorchCheckpoint } from '../../src/core/models/checkpoint/torch-checkpoint';
import { ZipArchive, ZipFormatError } from '../../src/core/models/checkpoint/zip';
import { convertCheckpoint } from '../../src/core/models/convert';
import { writeZip } from '../helpers/zip-writer';

const FIXTURES = path.resolve(__dirname, '../../models/fixtures/checkpoints');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));

/** Pickle opcodes, to write hostile and edge-case pickles by hand. */
const op = {
  proto: (v: number) => [0x80, v],
  global: (module: string, name: string) => [0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')],
  stackGlobal: [0x93],
  str: (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return [0x58, ...new Uint8Array(Uint32Array.of(b.length).buffer), ...b];
  },
  int: (n: number) => [0x4a, ...new Uint8Array(Int32Array.of(n).buffer)],
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  emptyTuple: [0x29],
  reduce: [0x52],
  persid: [0x51],
  stop: [0x2e],
};
const pickle = (...parts: (number[] | Uint8Array)[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const inZip = (data: Uint8Array, extra: { name: string; data: Uint8Array }[] = []) => writeZip([{ name: 'archive/data.pkl', data }, ...extra]);

describe('zip reader', () => {
  const entries = [
    { name: 'a/data.pkl', data: Buffer.from('hello') },
    { name: 'a/data/0', data: Buffer.alloc(1000, 3), deflate: true },
  ];

  for (const zip64 of [false, true]) {
    test(`reads stored and deflated entries${zip64 ? ' through zip64 records' : ''}`, () => {
      const zip = ZipArchive.open(writeZip(entries, { zip64 }));
      assert.deepEqual([...zip.entries.keys()], ['a/data.pkl', 'a/data/0']);
      assert.equal(Buffer.from(zip.read('a/data.pkl')).toString(), 'hello');
      assert.deepEqual(zip.read('a/data/0'), new Uint8Array(1000).fill(3));
    });
  }

  test('stored entries are views of the archive, not copies', () => {
    const bytes = writeZip(entries);
    const data = ZipArchive.open(bytes).read('a/data.pkl');
    assert.equal(data.buffer, bytes.buffer);
  });

  test('damage is reported: CRC, truncation, not a zip', () => {
    const bytes = Buffer.from(writeZip(entries));
    bytes[30 + 'a/data.pkl'.length] ^= 0xff; // first byte of "hello"
    assert.throws(() => ZipArchive.open(bytes).read('a/data.pkl'), /a\/data\.pkl fails its CRC check: the file is damaged/);
    assert.throws(() => ZipArchive.open(writeZip(entries).subarray(0, 60)), ZipFormatError);
    assert.throws(() => ZipArchive.open(Buffer.from('not a zip at all, just text')), /not a zip archive/);
  });
});

describe('restricted unpickler', () => {
  for (const protocol of [2, 3, 4, 5]) {
    test(`reads CPython's protocol ${protocol} pickle of plain data`, () => {
      const { root } = readTorchCheckpoint(inZip(fixture(`values.protocol${protocol}.pkl`)));
      assert.ok(root instanceof Map);
      const v = (k: string) => root.get(k);
      assert.equal(v('text'), 'héllo ✓');
      assert.deepEqual(v('integers'), [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31 - 1, 2 ** 40, -(2n ** 63n), 2n ** 64n]);
      assert.deepEqual(v('floats'), [0, -1.5, 1e-3, Math.PI]);
      assert.deepEqual(v('flags'), [true, false, null]);
      assert.ok(Object.isFrozen(v('flags')), 'tuples are frozen arrays');
      const nested = v('nested') as Map<string, unknown>;
      assert.deepEqual(nested.get('list'), [[1, 2], [3]]);
      assert.deepEqual(nested.get('tuple'), [1, [2, 3]]);
      assert.deepEqual(nested.get('empty'), [[], [], new Map()]);
      assert.deepEqual(v('bytes'), Uint8Array.from([0, 255, 32, 97, 98, 99]));
      assert.deepEqual(v('set'), new Set([1, 2, 3]));
      assert.deepEqual(v('frozenset'), new Set([4]));
      const shared = v('shared') as unknown[][];
      assert.equal(shared[0], shared[1], 'memoized objects are shared, as in Python');
    });
  }

  const marker = path.join(mkdtempSync(path.join(tmpdir(), 'fastsam-pickle-')), 'pwned');
  const hostile: [string, Uint8Array][] = [
    ['os.system via GLOBAL + REDUCE', pickle(op.proto(2), op.global('os', 'system'), op.str(`touch ${marker}`), op.tuple1, op.reduce, op.stop)],
    ['posix.system', pickle(op.proto(2), op.global('posix', 'system'), op.str(`touch ${marker}`), op.tuple1, op.reduce, op.stop)],
    ['builtins.eval', pickle(op.proto(2), op.global('builtins', 'eval'), op.str(`__import__('os').system('touch ${marker}')`), op.tuple1, op.reduce, op.stop)],
    ['subprocess.Popen via STACK_GLOBAL', pickle(op.proto(4), op.str('subprocess'), op.str('Popen'), op.stackGlobal, op.str('touch'), op.str(marker), op.tuple2, op.tuple1, op.reduce, op.stop)],
    ['torch.load', pickle(op.proto(2), op.global('torch', 'load'), op.str(marker), op.tuple1, op.reduce, op.stop)],
  ];
  for (const [what, data] of hostile) {
    test(`refuses ${what} before anything can be called`, () => {
      const [module, name] = what.split(' ')[0]!.split('.') as [string, string];
      let calls = 0;
      assert.throws(
        () =>
          unpickle(data, {
            resolveGlobal: (m, n) => {
              calls++;
              // The checkpoint resolver is the one under test; this wrapper only counts lookups.
              return readTorchResolver(m, n);
            },
          }),
        (e: unknown) => e instanceof UnsafePickleError && e.message.includes(`refused global ${module}.${name}`) && /may be malicious/.test(e.message),
      );
      assert.equal(calls, 1, 'stopped at the global, before REDUCE');
      assert.equal(existsSync(marker), false);
    });
  }

  test('a hostile checkpoint file fails conversion with one clear line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fastsam-hostile-'));
    const file = path.join(dir, 'FastSAM-s.pt');
    writeFileSync(file, inZip(hostile[0]![1]));
    await assert.rejects(convertCheckpoint(file, path.join(dir, 'out.onnx')), (e: unknown) => {
      assert.ok(e instanceof ModelError);
      assert.equal(e.message, `${file} was not converted: refused global os.system: a checkpoint may only reference tensors and model classes, so this file may be malicious.`);
      return true;
    });
    assert.equal(existsSync(marker), false);
    assert.equal(existsSync(path.join(dir, 'out.onnx')), false);
  });

  test('text-protocol and unknown opcodes are refused', () => {
    // Protocol 0 INST: "i" module\nname\n, which would call the class.
    const inst = pickle(op.mark, [0x69, ...Buffer.from('os\nsystem\n')], op.stop);
    assert.throws(() => readTorchCheckpoint(inZip(inst)), /unsupported pickle opcode 0x69 at byte 1/);
    assert.throws(() => readTorchCheckpoint(inZip(pickle(op.proto(2), [0xff]))), /unsupported pickle opcode 0xff/);
  });

  test('model classes become inert records; bound methods stay unresolved references', () => {
    const data = pickle(
      op.proto(2),
      op.global('builtins', 'getattr'),
      op.global('ultralytics.nn.modules.conv', 'Conv'), op.emptyTuple, [0x81], // NEWOBJ
      op.str('forward_fuse'), op.tuple2, op.reduce,
      op.stop,
    );
    const { root } = readTorchCheckpoint(inZip(data));
    assert.ok(root instanceof PyObject);
    assert.equal(root.className, 'builtins.getattr');
    assert.ok(root.args[0] instanceof PyObject);
    assert.equal((root.args[0] as PyObject).className, 'ultralytics.nn.modules.conv.Conv');
    // Calling such a reference is refused: records are data, never functions.
    const call = pickle(data.subarray(0, data.length - 1), op.emptyTuple, op.reduce, op.stop);
    assert.throws(() => readTorchCheckpoint(inZip(call)), /damaged checkpoint: call of builtins\.getattr at byte \d+/);
  });
});

/** The checkpoint allowlist, reached through the public reader (a one-global pickle in a zip). */
function readTorchResolver(module: string, name: string) {
  const { root } = readTorchCheckpoint(inZip(pickle(op.proto(2), op.global(module, name), op.stop)));
  return root as { qualifiedName: string; call(args: readonly unknown[]): unknown };
}

describe('torch checkpoints', () => {
  test('tensors of every float storage type, views with offsets and strides, parameters', () => {
    const { root, archiveName } = readTorchCheckpoint(fixture('tensors.pt'));
    assert.equal(archiveName, 'tensors');
    const expected = JSON.parse(fixture('tensors.json').toString()) as Record<string, { shape: number[]; values: number[] }>;
    assert.ok(root instanceof Map);
    for (const [name, { shape, values }] of Object.entries(expected)) {
      const t = root.get(name);
      assert.ok(t instanceof TorchTensor, name);
      assert.deepEqual(t.shape, shape, name);
      assert.deepEqual([...t.toFloat32()], values, name);
    }
    assert.equal((root.get('half') as TorchTensor).dtype, 'float16');
    assert.equal((root.get('narrow') as TorchTensor).offset, 5);
    assert.deepEqual((root.get('transposed') as TorchTensor).stride, [1, 4]);
    const [a, b] = root.get('shared') as TorchTensor[];
    assert.equal(a!.storage, b!.storage, 'one storage for tensors that share it');
  });

  test('an Ultralytics checkpoint: dict, metadata, module tree with state-dict names', () => {
    const { root } = readTorchCheckpoint(fixture('tiny-s.pt'));
    assert.ok(root instanceof Map);
    assert.equal(root.get('version'), '8.1.0');
    assert.equal(root.get('ema'), null);
    const model = root.get('model');
    assert.ok(model instanceof PyObject);
    assert.equal(model.className, 'ultralytics.nn.tasks.SegmentationModel');
    const tree = flattenModule(model);
    assert.equal(tree.modules.get('model.2')?.className, 'ultralytics.nn.modules.block.C2f');
    assert.equal(tree.modules.get('model.22')?.className, 'ultralytics.nn.modules.head.Segment');
    assert.equal(tree.modules.get('model.0.act')?.className, 'torch.nn.modules.activation.SiLU');
    const w = tree.tensors.get('model.0.conv.weight')!;
    assert.deepEqual([w.dtype, ...w.shape], ['float16', 8, 3, 3, 3]);
    assert.equal(tree.tensors.get('model.0.bn.num_batches_tracked')?.dtype, 'int64');
    assert.equal(tree.modules.get('model.0.bn')?.get('eps'), 1e-3);
  });

  test('legacy, big-endian, incomplete and inconsistent files are refused with a reason', () => {
    assert.throws(() => readTorchCheckpoint(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a)), /legacy \(pre-1\.6\) format/);
    const big = inZip(pickle(op.proto(2), op.int(1), op.stop), [{ name: 'archive/byteorder', data: Buffer.from('big') }]);
    assert.throws(() => readTorchCheckpoint(big), /saved on a big-endian machine/);
    assert.throws(() => readTorchCheckpoint(writeZip([{ name: 'x/other', data: Buffer.from('') }])), /expected one <archive>\/data\.pkl, found 0/);
    const truncated = fixture('tiny-s.pt').subarray(0, 400_000);
    assert.throws(() => readTorchCheckpoint(truncated), CheckpointError);
    // A tensor of 5 values on a storage of 4.
    const outside = pickle(
      op.proto(2),
      op.global('torch._utils', '_rebuild_tensor_v2'),
      op.mark,
      op.mark, op.str('storage'), op.global('torch', 'FloatStorage'), op.str('0'), op.str('cpu'), op.int(4), op.tuple, op.persid,
      op.int(0), op.int(5), op.tuple1, op.int(1), op.tuple1, [0x89], op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce,
      op.tuple,
      op.reduce,
      op.stop,
    );
    assert.throws(() => readTorchCheckpoint(inZip(outside, [{ name: 'archive/data/0', data: new Uint8Array(16) }])), /tensor of shape \[5\] at offset 0 lies outside its storage of 4 values/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import * as ort from 'onnxruntime-node';

import { OnnxGraph, attr, tensor } from '../../src/core/onnx/graph';
import { ProtoWriter } from '../../src/core/onnx/protobuf';

async function runGraph(g: OnnxGraph, feeds: Record<string, ort.Tensor> = {}) {
  const session = await ort.InferenceSession.create(g.toModelBytes());
  try {
    return { session, outputs: await session.run(feeds) };
  } finally {
    await session.release();
  }
}

const f32 = (values: number[], dims: number[]) => new ort.Tensor('float32', Float32Array.from(values), dims);
const valuesOf = (t: ort.OnnxValue | undefined): (number | bigint)[] => Array.from((t as ort.Tensor).data as ArrayLike<number | bigint>);

describe('ProtoWriter', () => {
  test('encodes varints, including multi-byte and negative int64', () => {
    assert.deepEqual([...new ProtoWriter().varintField(1, 300).finish()], [0x08, 0xac, 0x02]);
    assert.deepEqual([...new ProtoWriter().varintField(1, -1).finish()], [0x08, ...Array(9).fill(0xff), 0x01]);
    assert.deepEqual([...new ProtoWriter().varintField(2, 2 ** 35).finish()], [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert.deepEqual(
      [...new ProtoWriter().varintField(1, 2n ** 63n - 1n).finish()],
      [0x08, ...Array(8).fill(0xff), 0x7f],
    );
    assert.deepEqual([...new ProtoWriter().varintField(20, 7).finish()], [0xa0, 0x01, 0x07]);
    assert.throws(() => new ProtoWriter().varintField(1, 0.5));
    assert.throws(() => new ProtoWriter().varintField(1, 2n ** 64n));
  });

  test('encodes fixed32 floats, strings, packed fields and nested messages', () => {
    assert.deepEqual([...new ProtoWriter().floatField(2, 1.5).finish()], [0x15, 0x00, 0x00, 0xc0, 0x3f]);
    assert.deepEqual([...new ProtoWriter().stringField(4, 'hé').finish()], [0x22, 3, 0x68, 0xc3, 0xa9]);
    assert.deepEqual([...new ProtoWriter().packedVarintField(8, [1, 300, -1n]).finish()], [
      0x42, 13, 0x01, 0xac, 0x02, ...Array(9).fill(0xff), 0x01,
    ]);
    assert.deepEqual([...new ProtoWriter().packedFloatField(7, [1, -2]).finish()], [
      0x3a, 8, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0,
    ]);
    assert.equal(new ProtoWriter().packedVarintField(1, []).finish().length, 0);
    const nested = new ProtoWriter().messageField(7, (m) => m.varintField(1, 150)).finish();
    assert.deepEqual([...nested], [0x3a, 3, 0x08, 0x96, 0x01]);
  });

  test('keeps large payloads intact across nesting levels', () => {
    const payload = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    const w = new ProtoWriter().varintField(1, 1);
    w.messageField(2, (a) => a.stringField(1, 'x').messageField(2, (b) => b.bytesField(9, payload).varintField(3, 5)));
    const bytes = w.finish();
    // field 1 (2 bytes), field 2 tag + 3-byte length, 'x' (3 bytes), field 2 tag + 3-byte length, field 9 tag + 3-byte length, payload, field 3 (2 bytes)
    assert.equal(bytes.length, 2 + 4 + 3 + 4 + 4 + payload.length + 2);
    assert.deepEqual(bytes.subarray(17, 17 + payload.length), payload);
    assert.deepEqual([...bytes.subarray(bytes.length - 2)], [0x18, 5]);
  });
});

describe('OnnxGraph', () => {
  test('runs Add and Mul with an initializer over symbolic dims', async () => {
    const g = new OnnxGraph();
    const a = g.input('a', 'float32', ['batch', 3]);
    const b = g.input('b', 'float32', ['batch', 3]);
    const w = g.constant('w', Float32Array.from([1, 2, -3]), [3]);
    g.output(g.node('Mul', [g.node('Add', [a, b]), w]), 'y', 'float32', ['batch', 3]);

    const session = await ort.InferenceSession.create(g.toModelBytes());
    assert.deepEqual(session.inputNames, ['a', 'b']);
    assert.deepEqual(session.outputNames, ['y']);
    const meta = session.inputMetadata[0];
    assert.ok(meta.isTensor);
    assert.deepEqual(meta.shape, ['batch', 3]);
    for (const batch of [1, 4]) {
      const av = Array.from({ length: batch * 3 }, (_, i) => i);
      const bv = Array.from({ length: batch * 3 }, (_, i) => 0.5 * i - 1);
      const out = await session.run({ a: f32(av, [batch, 3]), b: f32(bv, [batch, 3]) });
      assert.deepEqual((out.y as ort.Tensor).dims, [batch, 3]);
      assert.deepEqual(valuesOf(out.y), av.map((v, i) => (v + bv[i]) * [1, 2, -3][i % 3]));
    }
    await session.release();
  });

  test('passes int64 constants, including negative and INT64_MAX values', async () => {
    const g = new OnnxGraph();
    const x = g.input('x', 'float32', [2, 3]);
    const flat = g.node('Reshape', [x, g.constant('shape', BigInt64Array.from([-1n]), [1])]);
    const tail = g.node('Slice', [
      flat,
      g.constant('starts', [-4], [1], 'int64'),
      g.constant('ends', BigInt64Array.from([2n ** 63n - 1n]), [1]),
    ]);
    g.output(g.node('Reshape', [tail, g.constant('shape', [2, -1], [2], 'int64')]), 'y', 'float32', [2, 2]);
    const { outputs } = await runGraph(g, { x: f32([1, 2, 3, 4, 5, 6], [2, 3]) });
    assert.deepEqual((outputs.y as ort.Tensor).dims, [2, 2]);
    assert.deepEqual(valuesOf(outputs.y), [3, 4, 5, 6]);
  });

  test('writes every attribute kind so onnxruntime honours it', async () => {
    const g = new OnnxGraph();
    const x = g.input('x', 'float32', [1, 2, 2]);
    const leaky = g.node('LeakyRelu', [x], { alpha: attr.float(0.25) }); // FLOAT
    const transposed = g.node('Transpose', [leaky], { perm: [0, 2, 1] }); // INTS; the default would reverse all axes
    const listed = g.node('Constant', [], { value_floats: attr.floats([7.5, -1]) }); // FLOATS
    const filled = g.node('ConstantOfShape', [g.constant('fill_shape', [2], [1], 'int64')], {
      value: attr.tensor(tensor(Float32Array.of(2.5), [1])), // TENSOR
    });
    const row = g.node('Concat', [listed, filled], { axis: attr.int(-1) }); // INT (negative)
    const padded = g.node('Pad', [transposed, g.constant('pads', [0, 0, 1, 0, 0, 1], [6], 'int64')], {
      mode: 'reflect', // STRING
    });
    g.output(padded, 'padded', 'float32', [1, 2, 4]);
    g.output(row, 'row', 'float32', [4]);

    const { outputs } = await runGraph(g, { x: f32([1, -4, -8, 2], [1, 2, 2]) });
    // LeakyRelu → [[1, -1], [-2, 2]]; transposed → [[1, -2], [-1, 2]]; reflect-padded by one column each side.
    assert.deepEqual(valuesOf(outputs.padded), [-2, 1, -2, 1, 2, -1, 2, -1]);
    assert.deepEqual(valuesOf(outputs.row), [7.5, -1, 2.5, 2.5]);
  });

  test('builds multi-output nodes, explicit output names and deduplicated constant names', async () => {
    const g = new OnnxGraph();
    const x = g.input('x', 'float32', [5]);
    const [head, rest] = g.nodeMulti('Split', [x, g.constant('w', [2, 3], [2], 'int64')], 2, { axis: 0 });
    const [top] = g.nodeMulti('TopK', [rest, g.constant('w', [1], [1], 'int64')], ['top_values', 'top_indices']);
    assert.equal(top, 'top_values');
    g.output(head, 'head', 'float32', [2]);
    g.output(top, 'top_values', 'float32', [1]);
    g.output(g.node('Identity', ['top_indices']), 'top_index', 'int64', [1]);

    const { outputs } = await runGraph(g, { x: f32([4, 3, 1, 9, 2], [5]) });
    assert.deepEqual(valuesOf(outputs.head), [4, 3]);
    assert.deepEqual(valuesOf(outputs.top_values), [9]);
    assert.deepEqual(valuesOf(outputs.top_index), [1n]);
  });

  test('stores a large float32 initializer once, as raw data', async () => {
    const n = 4 * 1024 * 1024;
    const big = new Float32Array(n).map((_, i) => (i % 1000) - 500.25);
    const g = new OnnxGraph();
    const picks = g.constant('picks', [0, 1_234_567, n - 1], [3], 'int64');
    g.output(g.node('Gather', [g.constant('big', big, [n]), picks]), 'y', 'float32', [3]);
    const bytes = g.toModelBytes();
    assert.ok(bytes.length > n * 4 && bytes.length < n * 4 + 1024, `model is ${bytes.length} bytes`);
    const { outputs } = await runGraph(g);
    assert.deepEqual(valuesOf(outputs.y), [big[0], big[1_234_567], big[n - 1]]);
  });

  test('rejects malformed graphs early', () => {
    const g = new OnnxGraph();
    const x = g.input('x', 'float32', [1]);
    assert.throws(() => g.input('x', 'float32', [1]), /already used/);
    assert.throws(() => g.node('Relu', ['nope']), /unknown input nope/);
    assert.throws(() => g.node('LeakyRelu', [x], { alpha: 0.1 }), /attr\.float/);
    assert.throws(() => g.node('Custom', [x], {}, { domain: 'com.example' }), /no opset import/);
    assert.throws(() => g.constant('c', [1, 2, 3], [2], 'float32'), /needs 2 values/);
    assert.throws(() => g.constant('c', [1.5], [1], 'int64'), /not an integer/);
    assert.throws(() => g.constant('c', Float32Array.of(1), [1], 'int64'), /dtype int64/);
    assert.throws(() => g.input('y', 'float32', [-1]), /invalid dim/);
    assert.throws(() => g.toModelBytes(), /no outputs/);
  });
});

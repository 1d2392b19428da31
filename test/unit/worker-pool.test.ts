/**
 * Mask assembly shared out to worker threads gives exactly what one thread gives, and the workers really run (the pool falls back to this
 * thread silently, so a test that only compared results could not tell).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { computeLetterbox } from '../../src/core/image/letterbox';
import { MaskAssembler } from '../../src/core/postprocess/assemble-masks';
import { type AssemblyJob, WorkerPool } from '../../src/core/parallel/worker-pool';

function scene(seed: number, [w, h, size] = [1500, 1000, 256]) {
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const lb = computeLetterbox(w, h, size);
  const side = size / 4, channels = 32;
  const data = Float32Array.from({ length: channels * side * side }, () => rand() * 2 - 1);
  const geometry = { imageWidth: w, imageHeight: h, modelSize: size, resizedWidth: lb.newWidth, resizedHeight: lb.newHeight, padLeft: lb.padLeft, padTop: lb.padTop };
  const protos = { data, channels, height: side, width: side };
  const jobs: AssemblyJob[] = Array.from({ length: 60 }, () => {
    const x = rand() * w, y = rand() * h;
    return { coefficients: Float32Array.from({ length: channels }, () => rand() - 0.5), box: [x, y, x + rand() * (w - x), y + rand() * (h - y)] as const };
  });
  return { geometry, protos, jobs };
}

/**
 * Assembles `x` on the pool until worker threads took part in one run (at most 50
 * runs), checking every result against one thread's. The engine's thread takes
 * masks too, and it can finish a job before a worker that has just started (or
 * woken) takes one, so one run alone cannot show that the workers work.
 */
async function assembleUntilWorkersTakePart(pool: WorkerPool, x: ReturnType<typeof scene>, what: string): Promise<void> {
  const alone = new MaskAssembler(x.geometry, x.protos);
  const expected = x.jobs.map((j) => alone.assemble(j.coefficients, j.box));
  for (let run = 0; run < 50; run++) {
    const before = pool.piecesDoneByWorkers;
    assert.deepEqual(await pool.assembleMasks(x.geometry, x.protos, x.jobs), expected, what);
    assert.equal(pool.activeWorkers, 2, `${what}: both workers answered`);
    if (pool.piecesDoneByWorkers > before) return;
  }
  assert.fail(`${what}: the workers took no mask in 50 runs`);
}

describe('WorkerPool', () => {
  it('assembles on worker threads exactly what one thread assembles, in order', async () => {
    const pool = new WorkerPool(2);
    try {
      for (const seed of [1, 2]) await assembleUntilWorkersTakePart(pool, scene(seed), `seed ${seed}`);
    } finally {
      await pool.dispose();
    }
    assert.equal(pool.activeWorkers, 0);
  });

  it('gives the workers the larger memory a larger image needs, and a smaller image after it', async () => {
    const pool = new WorkerPool(2);
    try {
      // Each image grows the pool's memory past the last (prototypes and every thread's scratch).
      for (const [seed, dims] of [[7, [600, 400, 128]], [8, [4000, 3000, 640]], [9, [300, 200, 64]]] as const) {
        await assembleUntilWorkersTakePart(pool, scene(seed, [...dims]), `${dims}`);
      }
    } finally {
      await pool.dispose();
    }
  });

  it('runs jobs asked for at once one after the other, each with its own result', async () => {
    const pool = new WorkerPool(2);
    try {
      const a = scene(4), b = scene(5);
      const expect = (x: ReturnType<typeof scene>) => {
        const alone = new MaskAssembler(x.geometry, x.protos);
        return x.jobs.map((j) => alone.assemble(j.coefficients, j.box));
      };
      const [ma, mb] = await Promise.all([
        pool.assembleMasks(a.geometry, a.protos, a.jobs),
        pool.assembleMasks(b.geometry, b.protos, b.jobs),
      ]);
      assert.deepEqual(ma, expect(a));
      assert.deepEqual(mb, expect(b));
      assert.equal(pool.activeWorkers, 2);
    } finally {
      await pool.dispose();
    }
  });

  it('a worker that ended is not waited for, and after dispose jobs run on this thread', { timeout: 60_000 }, async () => {
    const pool = new WorkerPool(2);
    const { geometry, protos, jobs } = scene(6);
    const alone = new MaskAssembler(geometry, protos);
    const expected = jobs.map((j) => alone.assemble(j.coefficients, j.box));
    try {
      assert.deepEqual(await pool.assembleMasks(geometry, protos, jobs), expected);
      const [first] = (pool as unknown as { workers: Worker[] }).workers;
      await first!.terminate();
      assert.deepEqual(await pool.assembleMasks(geometry, protos, jobs), expected);
      assert.equal(pool.activeWorkers, 0, 'the pool stopped using workers');
    } finally {
      await pool.dispose();
    }
    assert.deepEqual(await pool.assembleMasks(geometry, protos, jobs), expected);
    assert.equal(pool.activeWorkers, 0, 'no worker started after dispose');
  });

  it('with no workers, assembles on this thread', async () => {
    const pool = new WorkerPool(0);
    const { geometry, protos, jobs } = scene(3);
    const alone = new MaskAssembler(geometry, protos);
    assert.deepEqual(await pool.assembleMasks(geometry, protos, jobs), jobs.map((j) => alone.assemble(j.coefficients, j.box)));
    assert.equal(pool.activeWorkers, 0);
    await pool.dispose();
  });
});

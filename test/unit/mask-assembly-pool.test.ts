/**
 * Mask assembly shared out to worker threads gives exactly the masks of one
 * thread, in order, and the workers really run (the pool falls back to this
 * thread silently, so a test that only compared masks could not tell).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeLetterbox } from '../../src/core/image/letterbox';
import { MaskAssembler } from '../../src/core/postprocess/assemble-masks';
import { type AssemblyJob, MaskAssemblyPool } from '../../src/core/postprocess/mask-assembly-pool';

function scene(seed: number) {
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const [w, h, size] = [1500, 1000, 256];
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

describe('MaskAssemblyPool', () => {
  it('assembles on worker threads exactly what one thread assembles, in order', async () => {
    const pool = new MaskAssemblyPool(2);
    try {
      for (const seed of [1, 2]) {
        const { geometry, protos, jobs } = scene(seed);
        const alone = new MaskAssembler(geometry, protos);
        const expected = jobs.map((j) => alone.assemble(j.coefficients, j.box));
        assert.deepEqual(await pool.assemble(geometry, protos, jobs), expected, `seed ${seed}`);
        assert.equal(pool.activeWorkers, 2, 'both workers answered');
      }
    } finally {
      await pool.dispose();
    }
    assert.equal(pool.activeWorkers, 0);
  });

  it('with no workers, assembles on this thread', async () => {
    const pool = new MaskAssemblyPool(0);
    const { geometry, protos, jobs } = scene(3);
    const alone = new MaskAssembler(geometry, protos);
    assert.deepEqual(await pool.assemble(geometry, protos, jobs), jobs.map((j) => alone.assemble(j.coefficients, j.box)));
    assert.equal(pool.activeWorkers, 0);
    await pool.dispose();
  });
});

/**
 * The benchmark (`npm run bench`): its statistics, its choice of confidence, and
 * a quick run end to end into a temporary folder, which builds the random model
 * and photos it needs, measures one configuration in a child process, the
 * editor's hover path in Chromium and a text prompt, and writes both files; and
 * an argument it does not know stops it before it writes anything.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { calibrate, type ConfigMeasurement } from '../../bench/measure';
import { summarize } from '../../bench/stats';

const ROOT = path.resolve(__dirname, '../..');

describe('bench statistics', () => {
  it('takes the median of an odd count as the middle value, of an even count as the mean of the middle two', () => {
    assert.equal(summarize([5, 1, 3]).median, 3);
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
  });

  it('takes p95 by nearest rank, and min and max', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => 20 - i); // 20 … 1, unsorted on purpose
    assert.deepEqual(summarize(twenty), { n: 20, median: 10.5, p95: 19, min: 1, max: 20 });
    assert.equal(summarize(Array.from({ length: 21 }, (_, i) => i + 1)).p95, 20);
    assert.equal(summarize([7]).p95, 7);
  });

  it('refuses no samples', () => {
    assert.throws(() => summarize([]), /No samples/);
  });
});

describe('bench calibration', () => {
  it('puts the confidence between the scores of the count-th and the next detection', () => {
    const scores = [0.9, 0.8, 0.7, 0.6, 0.5];
    const { confidence, maxDetections } = calibrate(scores, 3);
    assert.ok(confidence < 0.7 && confidence > 0.6, String(confidence));
    assert.equal(scores.filter((s) => s > confidence).length, 3);
    assert.equal(maxDetections, 300);
  });

  it('lets every detection through when there are no more than asked for', () => {
    const { confidence } = calibrate([0.9, 0.4], 100);
    assert.ok(confidence < 0.4 && confidence > 0.39);
  });

  it('caps the count instead where tied scores leave no confidence between them', () => {
    assert.deepEqual(calibrate([1, 1, 1, 1, 0.5], 2), { confidence: 1 - 1e-6, maxDetections: 2 });
  });
});

describe('npm run bench -- --quick', () => {
  it('refuses an argument it does not know, before measuring or writing anything', async () => {
    const before = readFileSync(path.join(ROOT, 'bench', 'results.json'), 'utf8');
    const failure = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), '--quick', '--output', os.tmpdir()], { cwd: ROOT }, (error, _stdout, stderr) =>
        resolve({ code: error ? (error as { code?: number }).code ?? null : 0, stderr }),
      );
    });
    assert.equal(failure.code, 2);
    assert.match(failure.stderr, /^bench: Unknown option '--output'/);
    assert.equal(readFileSync(path.join(ROOT, 'bench', 'results.json'), 'utf8'), before);
  });

  it('measures a configuration, the hover path and text prompts, and writes the results and the tables', { timeout: 600_000 }, async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'fastsam-bench-'));
    try {
      await new Promise<void>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), '--quick', '--out', out], { cwd: ROOT, maxBuffer: 16 * 2 ** 20 }, (error, _stdout, stderr) =>
          error ? reject(new Error(`bench failed: ${stderr}`)) : resolve(),
        );
      });
      const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
        quick: boolean;
        configs: (ConfigMeasurement & { modelId: string; photoId: string })[];
        hover: { masks: number; firstHover: { n: number; p95: number } };
        textPrompt: { masks: number; warm: { n: number } };
        gpu: { reason: string | null; configs: unknown[] };
      };
      assert.equal(results.quick, true);
      assert.equal(results.configs.length, 1);
      const c = results.configs[0]!;
      assert.deepEqual([c.modelId, c.imageSize, c.photoId, c.width, c.height, c.runs], ['FastSAM-s', 640, '3MP', 2048, 1536, 2]);
      // The calibrated confidence gives a realistic number of masks.
      assert.ok(c.detections >= 50 && c.detections <= 150, `${c.detections} masks`);
      assert.ok(c.prompts.masks >= 100, `${c.prompts.masks} masks for the prompts`);
      for (const stage of Object.values(c.stages)) assert.equal(stage.n, 2);
      assert.ok(c.stages.endToEnd.median >= c.stages.inference.median);
      const beyondSessionRun = c.stages.endToEnd.median - c.sessionRunAlone.median;
      assert.ok(Math.abs(c.overhead - beyondSessionRun / c.sessionRunAlone.median) < 1e-3, 'overhead is end to end against session.run alone');
      assert.ok(c.peakRssMiB > 0);
      assert.ok(results.hover.masks >= 100 && results.hover.firstHover.n > 0);
      assert.ok(results.textPrompt.masks > 0 && results.textPrompt.warm.n > 0);
      // Without a GPU provider the reason is recorded and printed; with one, the GPU section ran.
      if (results.gpu.reason === null) assert.ok(results.gpu.configs.length > 0);
      else assert.match(results.gpu.reason, /no GPU execution provider/);

      const tables = readFileSync(path.join(out, 'BENCHMARKS.md'), 'utf8');
      assert.match(tables, /\*\*Quick run\*\*/);
      assert.match(tables, /Raw numbers: \[results\.json\]\(results\.json\)/);
      assert.match(tables, new RegExp(`\\| FastSAM-s \\| 640 \\| 3MP \\(2048×1536\\) \\| ${c.confidence} \\| ${c.detections} \\|`));
      assert.match(tables, /## Hover in the editor/);
      assert.match(tables, /## Text prompts/);
      assert.match(tables, results.gpu.reason === null ? /## GPU\n\nCUDA execution provider/ : /## GPU\n\nSkipped: no GPU execution provider/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

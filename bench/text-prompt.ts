/**
 * Text prompt latency, in its own process so the first query is really cold:
 * loading CLIP (including the library import), embedding the masks once, the
 * first query; then a warm query with new text, and a repeated text.
 *
 *   tsx bench/text-prompt.ts <fastsam.onnx> <clip model or folder> <image>
 */
import { FastSamEngine } from '../src/core/engine';

export interface TextPromptMeasurement {
  masks: number;
  coldFirstQueryMs: { total: number; loadClip: number; embedMasks: number; query: number };
  warmQueryMs: number[];
  repeatedQueryMs: number[];
  visionRunsAfterWarmQueries: number;
}

async function measure(modelPath: string, clipModel: string, image: string): Promise<TextPromptMeasurement> {
  const engine = await FastSamEngine.create({ modelPath, executionProvider: 'cpu' });
  const result = await engine.segment(image);
  let t = performance.now();
  const start = t;
  // Imported here: the library import is part of what the first query costs.
  const { TextPrompter } = await import('../src/core/clip/text-prompt.js');
  const prompter = await TextPrompter.load({ model: clipModel, allowRemote: false });
  const loadClip = performance.now() - t;
  t = performance.now();
  const embeddings = await prompter.embedMasks(result, image);
  const embedMasks = performance.now() - t;
  t = performance.now();
  await prompter.queryText(embeddings, 'the red one');
  const query = performance.now() - t;
  const total = performance.now() - start;
  const visionRuns = prompter.counters.visionRuns;

  const warm: number[] = [];
  const repeated: number[] = [];
  for (const text of ['blue', 'a green shape', 'yellow', 'the orange one', 'purple', 'cyan', 'magenta', 'brown']) {
    t = performance.now();
    await prompter.queryText(embeddings, text);
    warm.push(performance.now() - t);
    t = performance.now();
    await prompter.queryText(embeddings, text);
    repeated.push(performance.now() - t);
  }
  if (prompter.counters.visionRuns !== visionRuns) throw new Error('a warm query ran the vision model');
  await engine.dispose();
  return {
    masks: result.masks.length,
    coldFirstQueryMs: { total, loadClip, embedMasks, query },
    warmQueryMs: warm,
    repeatedQueryMs: repeated,
    visionRunsAfterWarmQueries: prompter.counters.visionRuns,
  };
}

if (require.main === module) {
  const [model, clip, image] = process.argv.slice(2);
  measure(model!, clip!, image!)
    .then((m) => process.stdout.write(JSON.stringify(m) + '\n'))
    .catch((e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    });
}

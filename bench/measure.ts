/**
 * One benchmark configuration (model × image size × photo), run in its own
 * process so that its peak memory is its own. Prints one JSON object on stdout.
 *
 *   tsx bench/measure.ts <model.onnx> <imageSize> <photo> <runs> [provider]
 */
import { FastSamEngine } from '../src/core/engine';
import type { ExecutionProviderChoice } from '../src/core/model/segmentation-model';
import { openImage } from '../src/core/image/decode';
import { letterboxTensor } from '../src/core/image/preprocess';
import { selectMasks } from '../src/core/prompts/select';
import { summarize, type Summary } from './stats';

/** Detections the benchmark aims for: what a real photo gives FastSAM (50 to 150). */
const TARGET_DETECTIONS = 100;
/** The prompt benchmark needs a result with at least this many masks. */
const PROMPT_MASKS = 120;
const PROMPT_REPEATS = 300;
/**
 * End-to-end runs before the timed ones, the calibration probe included. Four, as
 * libuv runs sharp's work on four threads in turn and the C allocator gives each
 * its own arena: the first decode on each thread faults in a fresh output buffer
 * (at 3 MP about 30 ms against 14 ms later, on a VM where a first touch is slow),
 * a cost a long-running extension host pays once.
 */
const WARM_UP_RUNS = 4;

export interface ConfigMeasurement {
  model: string;
  imageSize: number;
  photo: string;
  width: number;
  height: number;
  runs: number;
  confidence: number;
  /** 300 (FastSAM's default) unless tied scores made the cap pick the detections (see calibrate). */
  maxDetections: number;
  detections: number;
  stages: { decode: Summary; preprocess: Summary; inference: Summary; postprocess: Summary; endToEnd: Summary };
  /**
   * Minor page faults per end-to-end run (memory touched for the first time). Most are
   * the decoder's output buffer, which sharp allocates anew for every image; where first
   * touches are slow (some virtual machines), they are much of the decode time.
   */
  pageFaults: Summary;
  sessionRunAlone: Summary;
  /** (end to end − session.run alone) / session.run alone, from the medians. */
  overhead: number;
  /**
   * The engine's own time: end to end less that run's own inference, per run. Unlike
   * the overhead, a difference of two noisy medians, it holds no inference time, so
   * it does not carry the run-to-run noise of session.run (±10% on a busy VM).
   */
  ownTime: Summary;
  prompts: { masks: number; point: Summary; box: Summary };
  peakRssMiB: number;
  executionProvider: string;
}

/** A seeded generator, so every run prompts the same points and boxes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * The confidence, and the detection cap, at which about `count` masks come out,
 * from the masks' scores sorted descending (after NMS, at a confidence that lets
 * everything through). Random weights can saturate many scores at exactly 1; then
 * the confidence cannot separate them and the cap (which counts masks) does.
 */
export function calibrate(scores: number[], count: number): { confidence: number; maxDetections: number } {
  if (scores.length <= count) return { confidence: Math.max(0, (scores[scores.length - 1] ?? 0) - 1e-6), maxDetections: 300 };
  const at = scores[count - 1]!, next = scores[count]!;
  if (at === next) return { confidence: Math.max(0, at - 1e-6), maxDetections: count };
  return { confidence: (at + next) / 2, maxDetections: 300 };
}

async function measure(modelPath: string, imageSize: number, photo: string, runs: number, provider: ExecutionProviderChoice): Promise<ConfigMeasurement> {
  const engine = await FastSamEngine.create({ modelPath, executionProvider: provider });
  const image = await openImage(photo);

  // Warm-up, and calibration: random weights score anchors arbitrarily, so the
  // confidence is chosen to let about TARGET_DETECTIONS through.
  // Only the scores are kept: the probe's thousand masks would otherwise stay in memory through the timed runs.
  const scores = (await engine.segment(image, { imageSize, confidence: 0.001, maxDetections: 1000 })).masks.map((m) => m.score).sort((a, b) => b - a);
  const { confidence, maxDetections } = calibrate(scores, TARGET_DETECTIONS);
  for (let i = 1; i < WARM_UP_RUNS; i++) await engine.segment(photo, { imageSize, confidence, maxDetections });

  // The limit: the same image's session.run alone, on a tensor prepared once. Timed
  // runs alternate with the pipeline's so that both see the same machine load.
  const prepared = await letterboxTensor(image, imageSize);
  const samples = { decode: [] as number[], preprocess: [] as number[], inference: [] as number[], postprocess: [] as number[], endToEnd: [] as number[] };
  const alone: number[] = [];
  const faults: number[] = [];
  let detections = 0;
  for (let i = 0; i < runs; i++) {
    const faultsBefore = process.resourceUsage().minorPageFault;
    let start = performance.now();
    // From the file each time: decode is part of end to end.
    const r = await engine.segment(photo, { imageSize, confidence, maxDetections });
    samples.endToEnd.push(performance.now() - start);
    faults.push(process.resourceUsage().minorPageFault - faultsBefore);
    for (const k of ['decode', 'preprocess', 'inference', 'postprocess'] as const) samples[k].push(r.timings[k]);
    detections = r.masks.length;
    start = performance.now();
    await engine.model.run(prepared.tensor, imageSize);
    alone.push(performance.now() - start);
  }

  // Prompts on a result with PROMPT_MASKS or more masks.
  const many = await engine.segment(image, { imageSize, ...calibrate(scores, PROMPT_MASKS) });
  const rand = lcg(7);
  const { width, height } = many;
  const point: number[] = [];
  const box: number[] = [];
  for (let i = 0; i < PROMPT_REPEATS; i++) {
    const x = rand() * width, y = rand() * height;
    let t = performance.now();
    selectMasks(many.masks, { points: [{ x, y, label: 1 }] }, width, height);
    point.push(performance.now() - t);
    const w = (0.05 + rand() * 0.5) * width, h = (0.05 + rand() * 0.5) * height;
    t = performance.now();
    selectMasks(many.masks, { boxes: [[x - w / 2, y - h / 2, x + w / 2, y + h / 2]] }, width, height);
    box.push(performance.now() - t);
  }

  const stages = {
    decode: summarize(samples.decode),
    preprocess: summarize(samples.preprocess),
    inference: summarize(samples.inference),
    postprocess: summarize(samples.postprocess),
    endToEnd: summarize(samples.endToEnd),
  };
  const sessionRunAlone = summarize(alone);
  const result: ConfigMeasurement = {
    model: modelPath,
    imageSize,
    photo,
    width,
    height,
    runs,
    confidence: Math.round(confidence * 1e6) / 1e6,
    maxDetections,
    detections,
    stages,
    pageFaults: summarize(faults),
    sessionRunAlone,
    overhead: Math.round(((stages.endToEnd.median - sessionRunAlone.median) / sessionRunAlone.median) * 1e4) / 1e4,
    ownTime: summarize(samples.endToEnd.map((e, i) => e - samples.inference[i]!)),
    prompts: { masks: many.masks.length, point: summarize(point), box: summarize(box) },
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    executionProvider: engine.executionProvider,
  };
  await engine.dispose();
  return result;
}

if (require.main === module) {
  const [modelPath, size, photo, runs, provider = 'cpu'] = process.argv.slice(2);
  measure(modelPath!, Number(size), photo!, Number(runs), provider as ExecutionProviderChoice)
    .then((m) => process.stdout.write(JSON.stringify(m) + '\n'))
    .catch((e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    });
}

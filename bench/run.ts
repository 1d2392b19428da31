/**
 * `npm run bench`: every stage of the engine on this machine, for FastSAM-s and
 * FastSAM-x sized networks (random weights from the graph builder) at image
 * sizes 640 and 1024, on photos of about 0.3, 3 and 12 megapixels. Writes
 * bench/results.json (raw) and BENCHMARKS.md (tables).
 *
 *   npm run bench            the full matrix
 *   npm run bench -- --quick FastSAM-s at 640 only, 2 runs (a smoke test)
 *   npm run bench -- --render writes BENCHMARKS.md again from bench/results.json
 *   npm run bench -- --out D  writes results.json and BENCHMARKS.md into folder D
 *                             instead (the tests' smoke run leaves the record alone)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../src/core/io/atomic-write';
import { buildRandomYolov8Seg } from '../src/core/models/yolov8-random';
import { defaultPoolWorkers } from '../src/core/parallel/worker-pool';
import type { ConfigMeasurement } from './measure';
import { benchPhotos } from './photos';
import { summarize, type Summary } from './stats';
import type { TextPromptMeasurement } from './text-prompt';

const ROOT = path.resolve(__dirname, '..');
const TMP = path.join(ROOT, 'bench', 'tmp');
/**
 * The command line. Anything else is refused: a mistyped --out would otherwise
 * overwrite the recorded results.
 */
function commandLine() {
  try {
    return parseArgs({ options: { quick: { type: 'boolean' }, render: { type: 'boolean' }, out: { type: 'string' } } }).values;
  } catch (e) {
    log(`bench: ${(e as Error).message}`);
    process.exit(2);
  }
}
const args = commandLine();
const quick = args.quick ?? false;

/** The raw results and the tables: the recorded ones in the repository, or both in the folder given with --out. */
function outputFiles(): { json: string; markdown: string; jsonLink: string } {
  if (args.out === undefined) return { json: path.join(ROOT, 'bench', 'results.json'), markdown: path.join(ROOT, 'BENCHMARKS.md'), jsonLink: 'bench/results.json' };
  mkdirSync(args.out, { recursive: true });
  return { json: path.join(args.out, 'results.json'), markdown: path.join(args.out, 'BENCHMARKS.md'), jsonLink: 'results.json' };
}

interface ModelSpec {
  id: string;
  scale: 's' | 'x';
  /** Timed runs per configuration after the warm-up; the larger network gets fewer. */
  runs: number;
}

const MODELS: ModelSpec[] = quick ? [{ id: 'FastSAM-s', scale: 's', runs: 2 }] : [
  { id: 'FastSAM-s', scale: 's', runs: 21 },
  { id: 'FastSAM-x', scale: 'x', runs: 3 },
];
const IMAGE_SIZES = quick ? [640] : [640, 1024];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A random-weight model with a dynamic input, built once and kept in bench/tmp. */
async function modelFile(spec: ModelSpec): Promise<{ file: string; buildMs: number | null }> {
  const file = path.join(TMP, 'models', `${spec.id}-random.onnx`);
  if (existsSync(file)) return { file, buildMs: null };
  mkdirSync(path.dirname(file), { recursive: true });
  const start = performance.now();
  const built = await buildRandomYolov8Seg({ scale: spec.scale, seed: 1 });
  await writeFileAtomic(file, built.model, { overwrite: true });
  return { file, buildMs: performance.now() - start };
}

/** Runs a TypeScript file of this folder in a fresh process and returns its stdout. */
function runChild(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { maxBuffer: 16 * 1024 * 1024, env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(script)} ${args.map((a) => path.basename(a)).join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

async function measureInChild(model: string, imageSize: number, photo: string, runs: number, provider = 'cpu'): Promise<ConfigMeasurement> {
  return JSON.parse(await runChild(path.join(__dirname, 'measure.ts'), [model, String(imageSize), photo, String(runs), provider])) as ConfigMeasurement;
}

interface HoverMeasurement {
  megapixels: number;
  masks: number;
  firstRenderMs: number;
  /** Pointer event dispatched to highlighted overlay drawn, first visit of each mask (bitmaps prepared while idle). */
  firstHover: Summary;
  /** The same, second visit. */
  cachedHover: Summary;
  /** From the input event's own timestamp instead: includes Chromium holding the move until its next frame. */
  firstHoverFromInput: Summary;
  cachedHoverFromInput: Summary;
}

/**
 * The editor's hover path in the real webview bundle (headless Chromium, software
 * rendering), 12 megapixels with 200 masks: the harness's stress scenario records it.
 */
async function measureHover(): Promise<HoverMeasurement> {
  const file = path.join(TMP, 'hover.json');
  await runChild(path.join(ROOT, 'test', 'webview', 'run-harness.ts'), ['--only', 'stress'], { ...process.env, FASTSAM_HOVER_RESULTS: file });
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    megapixels: number; masks: number; firstRenderMs: number;
    firstHoverMs: number[]; cachedHoverMs: number[]; firstHoverFromInputMs: number[]; cachedHoverFromInputMs: number[];
  };
  return {
    megapixels: raw.megapixels,
    masks: raw.masks,
    firstRenderMs: Math.round(raw.firstRenderMs),
    firstHover: summarize(raw.firstHoverMs),
    cachedHover: summarize(raw.cachedHoverMs),
    firstHoverFromInput: summarize(raw.firstHoverFromInputMs),
    cachedHoverFromInput: summarize(raw.cachedHoverFromInputMs),
  };
}

interface TextPromptResults extends TextPromptMeasurement {
  clipModel: string;
  warm: Summary;
  repeated: Summary;
}

/** Cold first and warm next text query, with the fixture CLIP (real CLIP weights cannot be fetched here). */
async function measureTextPrompt(): Promise<TextPromptResults> {
  const clipModel = path.join(ROOT, 'models', 'fixtures', 'clip-palette');
  const out = await runChild(path.join(__dirname, 'text-prompt.ts'), [path.join(ROOT, 'models', 'fixtures', 'palette-fastsam.onnx'), clipModel, path.join(ROOT, 'samples', 'shapes', 'shapes.png')]);
  const m = JSON.parse(out) as TextPromptMeasurement;
  return { ...m, clipModel: 'models/fixtures/clip-palette (fixture)', warm: summarize(m.warmQueryMs), repeated: summarize(m.repeatedQueryMs) };
}

/** Why no GPU section ran, or null when a GPU provider is usable. */
function gpuUnavailableReason(): string | null {
  const backends = ort.listSupportedBackends().map((b) => b.name);
  const cudaLib = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  if (process.platform === 'linux' && backends.includes('cuda') && existsSync(cudaLib)) return null;
  return `no GPU execution provider is usable here (onnxruntime-node backends: ${backends.join(', ')}; CUDA provider library ${existsSync(cudaLib) ? 'present' : 'not installed'}; WebGPU is not benchmarked without a GPU adapter)`;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    poolWorkers: defaultPoolWorkers(),
  };
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function markdown(results: BenchResults, jsonLink: string): string {
  const m = results.machine;
  const lines = [
    '# Benchmarks',
    '',
    `Recorded by \`npm run bench\` on ${results.date}, in ${Math.round(results.totalSeconds)} s (model builds included where listed at the end). Raw numbers: [${jsonLink}](${jsonLink}).`,
    '',
    ...(results.quick ? ['**Quick run** (`npm run bench -- --quick`): FastSAM-s at S = 640 on the 3-megapixel photo only, 2 timed runs. Run `npm run bench` for the full matrix.', ''] : []),
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, onnxruntime-node ${m.onnxruntime}, CPU execution provider. Load average at start: ${m.loadAverageAtStart.join(', ')}.`,
    '',
    'Models: FastSAM-s and FastSAM-x sized YOLOv8-seg networks with seeded random weights, built by the same graph builder that converts the official checkpoints (`src/core/models`). Random weights score anchors arbitrarily, so each configuration picks the confidence that lets about 100 detections through (the `conf` column) — what a real photo gives FastSAM — and the NMS IoU stays 0.9. Where the random FastSAM-x saturates many scores at exactly 1, no confidence separates them, so the detection cap (`max_det`, normally 300; it counts masks, as a detection whose mask is empty at full resolution is dropped) is set to 100 instead (marked \\* in the table). Random prototypes also make noisy masks: about 70% of the prototype cells under a box straddle a mask edge (a few percent for a real object\'s mask), and the assembly of a mask costs most there, so post-processing here is near its worst case.',
    '',
    `Times are milliseconds, median and p95 over the timed runs after four warm-up runs (the first decode on each of libuv's four threads is slow, see bench/measure.ts). \`session.run\` alone is the same image's inference on a tensor prepared once, in the same process: the limit no pipeline can beat. Overhead = (end to end − session.run alone) / session.run alone, from the medians. Own time is the engine's own work, measured directly: the median over runs of end to end less that run's inference, given also as a share of session.run alone. The overhead subtracts two medians of noisy inference times (on this virtual machine session.run varies by about ±10% from one run to the next), so it carries that noise, own time does not. Decode is given with its fastest run in brackets. Page faults are the minor page faults of one end-to-end run (median), memory touched for the first time: the model's output tensors, which onnxruntime-node allocates for every run (about 2,800 pages at S = 1024 and 1,100 at 640; \`session.run\` alone has them too), and the decoder's output buffer, which sharp allocates for every image (2,300 pages at 3 MP, 9,400 at 12 MP) unless the C allocator hands back memory freed earlier. On this virtual machine a first touch costs about 12 µs (its host backs memory lazily), so they, not the decoding, make most of the difference between the two decode figures; on a laptop they cost well under a microsecond. Decoding runs on two libvips threads, one decoding and one writing the pixels out. The letterbox (resampling and conversion) and the masks (logits and fill) run in WebAssembly with SIMD; the letterbox on the engine's thread, the masks on it and ${m.poolWorkers ?? 0} worker thread(s) (the cores left, at most 3), each taking the next mask until none is left. Memory is the process's peak resident set.`,
    '',
    '| model | S | photo | conf | masks | decode (fastest) | page faults | preprocess | inference | postprocess | end to end (p95) | session.run alone (p95) | overhead | own time (share) | peak RSS |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of results.configs) {
    const s = c.stages;
    lines.push(
      `| ${c.modelId} | ${c.imageSize} | ${c.photoId} (${c.width}×${c.height}) | ${c.confidence}${c.maxDetections < 300 ? '\\*' : ''} | ${c.detections} | ${ms(s.decode.median)} (${ms(s.decode.min)}) | ${Math.round(c.pageFaults.median)} | ${ms(s.preprocess.median)} | ${ms(s.inference.median)} | ${ms(s.postprocess.median)} | ${ms(s.endToEnd.median)} (${ms(s.endToEnd.p95)}) | ${ms(c.sessionRunAlone.median)} (${ms(c.sessionRunAlone.p95)}) | ${(c.overhead * 100).toFixed(1)}% | ${c.ownTime ? `${ms(c.ownTime.median)} (${((c.ownTime.median / c.sessionRunAlone.median) * 100).toFixed(1)}%)` : '–'} | ${c.peakRssMiB} MiB |`,
    );
  }
  lines.push('', '## Prompts', '', 'Point and box prompts on a result with the listed number of masks (300 random prompts each); no inference runs.', '');
  lines.push('| model | S | photo | masks | point median | point p95 | box median | box p95 |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of results.configs) {
    const p = c.prompts;
    lines.push(`| ${c.modelId} | ${c.imageSize} | ${c.photoId} | ${p.masks} | ${ms(p.point.median)} | ${ms(p.point.p95)} | ${ms(p.box.median)} | ${ms(p.box.p95)} |`);
  }
  if (results.hover) {
    const h = results.hover;
    lines.push(
      '',
      '## Hover in the editor',
      '',
      `The webview answers hover by itself (\`maskAtPoint\` over the masks it received once), so no message crosses to the host per pointer move; the bitmaps a hover draws are made while the browser is idle after the view is drawn. Measured in the real webview bundle in headless Chromium with software rendering, ${h.megapixels} megapixels and ${h.masks} masks, with real pointer input (CDP): ${h.firstHover.n} points on masks, each followed by a point off the masks, all visited twice. Times run to the end of the drawing of the highlighted overlay, from the pointer event's dispatch (the hover path: hit-test and drawing), and from the input's own timestamp (adds the wait for the frame, as Chromium delivers pointer moves at the start of its next frame).`,
      '',
      '| | median | p95 | max |',
      '| --- | --- | --- | --- |',
      `| first visit of a mask: event → highlight drawn | ${ms(h.firstHover.median)} | ${ms(h.firstHover.p95)} | ${ms(h.firstHover.max)} |`,
      `| second visit: event → highlight drawn | ${ms(h.cachedHover.median)} | ${ms(h.cachedHover.p95)} | ${ms(h.cachedHover.max)} |`,
      `| first visit: input → highlight drawn | ${ms(h.firstHoverFromInput.median)} | ${ms(h.firstHoverFromInput.p95)} | ${ms(h.firstHoverFromInput.max)} |`,
      `| second visit: input → highlight drawn | ${ms(h.cachedHoverFromInput.median)} | ${ms(h.cachedHoverFromInput.p95)} | ${ms(h.cachedHoverFromInput.max)} |`,
      '',
      `First render of all ${h.masks} masks after the result arrived: ${h.firstRenderMs} ms.`,
    );
  }
  if (results.textPrompt) {
    const t = results.textPrompt;
    lines.push(
      '',
      '## Text prompts',
      '',
      `CLIP model: ${t.clipModel}, on samples/shapes/shapes.png (${t.masks} masks). The real ViT-B/32 weights cannot be downloaded where this was recorded; with them, loading and the vision model cost more, the structure does not change.`,
      '',
      `- cold first query: ${ms(t.coldFirstQueryMs.total)} ms (loading CLIP, including the library import: ${ms(t.coldFirstQueryMs.loadClip)} ms; embedding every mask once: ${ms(t.coldFirstQueryMs.embedMasks)} ms; the query: ${ms(t.coldFirstQueryMs.query)} ms)`,
      `- warm next query (new text: text encoder only): median ${ms(t.warm.median)} ms, p95 ${ms(t.warm.p95)} ms`,
      `- repeated text (cached): median ${ms(t.repeated.median)} ms`,
      `- vision model runs after all warm queries: ${t.visionRunsAfterWarmQueries}`,
    );
  }
  lines.push('', '## Model builds', '');
  for (const b of results.builds) lines.push(`- ${b.id}: ${b.buildMs === null ? 'reused from bench/tmp' : `built in ${(b.buildMs / 1000).toFixed(1)} s`}`);
  lines.push('', '## GPU', '');
  if (results.gpu.configs.length === 0) lines.push(`Skipped: ${results.gpu.reason}.`);
  else {
    lines.push('CUDA execution provider, 3-megapixel photo, S = 1024.', '', '| model | end to end (p95) | session.run alone (p95) | overhead |', '| --- | --- | --- | --- |');
    for (const c of results.gpu.configs) lines.push(`| ${c.modelId} | ${ms(c.stages.endToEnd.median)} (${ms(c.stages.endToEnd.p95)}) | ${ms(c.sessionRunAlone.median)} (${ms(c.sessionRunAlone.p95)}) | ${(c.overhead * 100).toFixed(1)}% |`);
  }
  lines.push('');
  return lines.join('\n');
}

interface BenchResults {
  date: string;
  quick: boolean;
  machine: ReturnType<typeof machine>;
  builds: { id: string; buildMs: number | null }[];
  configs: (ConfigMeasurement & { modelId: string; photoId: string })[];
  gpu: { reason: string | null; configs: (ConfigMeasurement & { modelId: string; photoId: string })[] };
  hover: HoverMeasurement | null;
  textPrompt: TextPromptResults | null;
  totalSeconds: number;
}

async function main(): Promise<void> {
  const out = outputFiles();
  if (args.render) {
    const recorded = JSON.parse(readFileSync(out.json, 'utf8')) as BenchResults;
    await writeFileAtomic(out.markdown, markdown(recorded, out.jsonLink), { overwrite: true });
    log(`wrote ${out.markdown} from ${out.json}`);
    return;
  }
  const start = performance.now();
  const results: BenchResults = { date: new Date().toISOString(), quick, machine: machine(), builds: [], configs: [], gpu: { reason: null, configs: [] }, hover: null, textPrompt: null, totalSeconds: 0 };
  const photos = await benchPhotos(path.join(TMP, 'photos'));
  for (const spec of MODELS) {
    const { file, buildMs } = await modelFile(spec);
    results.builds.push({ id: spec.id, buildMs });
    for (const imageSize of IMAGE_SIZES) {
      for (const photo of quick ? photos.slice(1, 2) : photos) {
        log(`${spec.id} S=${imageSize} ${photo.id} …`);
        const m = await measureInChild(file, imageSize, photo.file, spec.runs);
        results.configs.push({ ...m, modelId: spec.id, photoId: photo.id });
        log(`  end to end ${ms(m.stages.endToEnd.median)} ms, session.run ${ms(m.sessionRunAlone.median)} ms, overhead ${(m.overhead * 100).toFixed(1)}%, ${m.detections} masks, point p95 ${ms(m.prompts.point.p95)} ms`);
      }
    }
  }
  log('hover path in the webview (12 MP, 200 masks) …');
  results.hover = await measureHover();
  log(`  hover p95: first visit ${ms(results.hover.firstHover.p95)} ms (from input ${ms(results.hover.firstHoverFromInput.p95)} ms), second ${ms(results.hover.cachedHover.p95)} ms`);
  log('text prompts …');
  results.textPrompt = await measureTextPrompt();
  log(`  cold ${ms(results.textPrompt.coldFirstQueryMs.total)} ms, warm median ${ms(results.textPrompt.warm.median)} ms`);
  results.gpu.reason = gpuUnavailableReason();
  if (results.gpu.reason === null) {
    const photo = photos[1]!;
    for (const spec of MODELS) {
      log(`${spec.id} S=1024 ${photo.id} on CUDA …`);
      const m = await measureInChild((await modelFile(spec)).file, 1024, photo.file, spec.runs, 'cuda');
      results.gpu.configs.push({ ...m, modelId: spec.id, photoId: photo.id });
    }
  } else {
    log(`GPU section skipped: ${results.gpu.reason}`);
  }
  results.totalSeconds = Math.round((performance.now() - start) / 100) / 10;
  await writeFileAtomic(out.json, JSON.stringify(results, null, 2) + '\n', { overwrite: true });
  await writeFileAtomic(out.markdown, markdown(results, out.jsonLink), { overwrite: true });
  log(`wrote ${path.relative(ROOT, out.json)} and ${path.relative(ROOT, out.markdown)} in ${results.totalSeconds} s`);
}

main().catch((e: unknown) => {
  log(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});

/**
 * The engine's work besides `session.run`, shared out between the engine's thread
 * and worker threads (pool-worker.ts): the letterbox, by rows, and mask assembly,
 * by masks. Both are pure functions of large inputs, which the workers read from
 * shared memory; `session.run` has used every core and leaves them idle when it
 * returns, so this is the engine's own time divided by the cores.
 *
 * Where no worker can be started (a bundle without the worker script, a host that
 * forbids threads) or one fails, the work is done on the engine's thread, as it
 * would be without the pool.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RgbImage } from '../image/decode';
import type { Letterbox } from '../image/letterbox';
import { copyLetterboxRows, fillPadding, letterboxRows, sourceRowsOf } from '../image/preprocess';
import type { BoxMask } from '../masks/box-mask';
import { MaskAssembler, type MaskGeometry, type Prototypes } from '../postprocess/assemble-masks';

export interface AssemblyJob {
  coefficients: Float32Array;
  /** Box in image pixels, x1 y1 x2 y2. */
  box: readonly [number, number, number, number];
}

/** Masks to assemble: one image's prototypes (shared) and a share of its jobs. */
export interface AssemblyRequest {
  kind: 'masks';
  geometry: MaskGeometry;
  protos: { buffer: SharedArrayBuffer; length: number; channels: number; height: number; width: number };
  /** Job i's coefficients at [i · channels, (i + 1) · channels). */
  coefficients: Float32Array;
  /** Job i's box at [4i, 4i + 4). */
  boxes: Float64Array;
}

/** Letterbox rows [from, to): the source pixels (the rows they read) and the output, both shared, in tensor layout. */
export interface LetterboxRequest {
  kind: 'letterbox';
  rgb: { buffer: SharedArrayBuffer; width: number; height: number };
  letterbox: Letterbox;
  output: SharedArrayBuffer;
  from: number;
  to: number;
}

export type PoolRequest = AssemblyRequest | LetterboxRequest;

/** A mask as a worker returns it; `bits` travels as a transferred buffer. */
export type AssembledMask = Omit<BoxMask, 'imageWidth' | 'imageHeight'>;

export type PoolReply = { ok: true; masks?: AssembledMask[] } | { ok: false; error: string };

/** Below this many output pixels a letterbox is not worth a message to a worker. */
const MIN_PARALLEL_LETTERBOX = 256 * 256;

/**
 * How to start a worker: the bundled script beside this module's bundle (dist/), or,
 * when the engine runs from its TypeScript sources (tests and benchmarks under tsx),
 * the .ts source through tsx's CommonJS hook, as Node does not pass tsx's loader on
 * to worker threads. Null when neither is there.
 */
function workerStarter(): (() => Worker) | null {
  if (!__filename.endsWith('.ts')) {
    const bundled = path.join(__dirname, 'pool-worker.js');
    return existsSync(bundled) ? () => new Worker(bundled) : null;
  }
  const source = path.join(__dirname, 'pool-worker.ts');
  const bootstrap = `require(require.resolve('tsx/cjs/api', { paths: [${JSON.stringify(__dirname)}] })).register(); require(${JSON.stringify(source)});`;
  return () => new Worker(bootstrap, { eval: true });
}

/**
 * Worker threads to use besides the engine's own: the cores left, at most 3 (each
 * is a JavaScript heap of its own, about 10 MB, and four threads already assemble
 * a photo's masks in a few milliseconds).
 */
export function defaultPoolWorkers(): number {
  return Math.min(3, Math.max(0, os.availableParallelism() - 1));
}

/** Shared memory that grows only when an image needs more, so it is touched for the first time once. */
class SharedScratch {
  private buffer: SharedArrayBuffer | null = null;

  get(bytes: number): SharedArrayBuffer {
    if (!this.buffer || this.buffer.byteLength < bytes) this.buffer = new SharedArrayBuffer(bytes);
    return this.buffer;
  }
}

export class WorkerPool {
  private workers: Worker[] | null = null;
  private readonly start: (() => Worker) | null;
  private readonly protos = new SharedScratch();
  private readonly rgb = new SharedScratch();
  private readonly tensor = new SharedScratch();
  private readonly exited = new WeakSet<Worker>();
  /** The job in progress: jobs run one at a time, as they share the scratch memory and the workers. */
  private running: Promise<unknown> = Promise.resolve();

  /** `workers`: threads besides the engine's; 0 does everything on the engine's thread. */
  constructor(private readonly workerCount = defaultPoolWorkers()) {
    this.start = workerCount > 0 ? workerStarter() : null;
  }

  /** Worker threads in use: 0 before the first job, or where none could start or one failed. */
  get activeWorkers(): number {
    return this.workers?.length ?? 0;
  }

  /** Starts the workers now (they start with the first job otherwise): while a model loads, say. */
  warmUp(): void {
    this.startWorkers();
  }

  /**
   * The model input, as `letterboxToTensor(rgb, lb, tensor)` writes it: the padding
   * here, the rows of the scaled image in bands, one per thread.
   */
  letterbox(rgb: RgbImage, lb: Letterbox, tensor: Float32Array): Promise<void> {
    return this.exclusive(() => this.letterboxNow(rgb, lb, tensor));
  }

  /** The masks of `jobs`, in order. */
  assembleMasks(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    return this.exclusive(() => this.assembleNow(geometry, protos, jobs));
  }

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.running.then(job, job);
    this.running = result.catch(() => undefined);
    return result;
  }

  private async letterboxNow(rgb: RgbImage, lb: Letterbox, tensor: Float32Array): Promise<void> {
    fillPadding(tensor, lb);
    const workers = lb.newWidth * lb.newHeight >= MIN_PARALLEL_LETTERBOX ? this.startWorkers() : [];
    const bands = Math.min(workers.length + 1, lb.newHeight);
    const edge = (i: number) => Math.round((lb.newHeight * i) / bands);
    if (bands <= 1) {
      letterboxRows(rgb, lb, tensor, 0, lb.newHeight);
      return;
    }

    // The workers' bands: the source rows each reads go into shared memory, at their own offsets.
    const stride = rgb.width * 3;
    const source = this.rgb.get(rgb.height * stride);
    const sourceBytes = new Uint8Array(source);
    const output = this.tensor.get(tensor.byteLength);
    const pending = workers.slice(0, bands - 1).map((worker, w) => {
      const from = edge(w + 1), to = edge(w + 2);
      const [first, last] = sourceRowsOf(lb, from, to);
      sourceBytes.set(rgb.data.subarray(first * stride, (last + 1) * stride), first * stride);
      const request: LetterboxRequest = { kind: 'letterbox', rgb: { buffer: source, width: rgb.width, height: rgb.height }, letterbox: lb, output, from, to };
      return this.request(worker, request, []).then(
        // Back into the tensor (ONNX Runtime does not take shared memory as input).
        () => copyLetterboxRows(new Float32Array(output, 0, tensor.length), tensor, lb, from, to),
        () => {
          this.retire();
          letterboxRows(rgb, lb, tensor, from, to);
        },
      );
    });
    letterboxRows(rgb, lb, tensor, 0, edge(1));
    await Promise.all(pending);
  }

  private async assembleNow(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    const workers = jobs.length > 1 ? this.startWorkers() : [];
    const assembler = new MaskAssembler(geometry, protos);
    if (workers.length === 0) return jobs.map((j) => assembler.assemble(j.coefficients, j.box));

    // Largest first into the least loaded share: a mask costs about its box's area.
    const shares: number[][] = Array.from({ length: workers.length + 1 }, () => []);
    const load = new Float64Array(shares.length);
    const order = jobs.map((_, i) => i).sort((a, b) => area(jobs[b]!.box) - area(jobs[a]!.box));
    for (const i of order) {
      let least = 0;
      for (let s = 1; s < load.length; s++) if (load[s]! < load[least]!) least = s;
      shares[least]!.push(i);
      load[least]! += area(jobs[i]!.box) + 1;
    }

    const buffer = this.protos.get(protos.data.byteLength);
    new Float32Array(buffer, 0, protos.data.length).set(protos.data);
    const shared = { buffer, length: protos.data.length, channels: protos.channels, height: protos.height, width: protos.width };
    const results: BoxMask[] = new Array(jobs.length);
    const pending = workers.map((worker, w) => {
      const share = shares[w + 1]!;
      if (share.length === 0) return Promise.resolve();
      const coefficients = new Float32Array(share.length * protos.channels);
      const boxes = new Float64Array(share.length * 4);
      share.forEach((i, k) => {
        coefficients.set(jobs[i]!.coefficients.subarray(0, protos.channels), k * protos.channels);
        boxes.set(jobs[i]!.box, k * 4);
      });
      const request: AssemblyRequest = { kind: 'masks', geometry, protos: shared, coefficients, boxes };
      return this.request(worker, request, [coefficients.buffer, boxes.buffer]).then(
        (masks) => masks!.forEach((m, k) => (results[share[k]!] = { imageWidth: geometry.imageWidth, imageHeight: geometry.imageHeight, ...m })),
        () => {
          // A worker that failed is not asked again; its share is done here.
          this.retire();
          for (const i of share) results[i] = assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
        },
      );
    });
    for (const i of shares[0]!) results[i] = assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
    await Promise.all(pending);
    return results;
  }

  async dispose(): Promise<void> {
    const workers = this.workers ?? [];
    // Jobs after this run on the calling thread; no worker starts again.
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private startWorkers(): Worker[] {
    if (this.workers) return this.workers;
    if (!this.start) return [];
    try {
      this.workers = Array.from({ length: this.workerCount }, () => {
        const worker = this.start!();
        // Idle workers must not keep a CLI process alive.
        worker.unref();
        // A worker that ends (it crashed, or ran out of memory) is not asked again, nor are the others.
        worker.once('exit', () => {
          this.exited.add(worker);
          this.retire();
        });
        return worker;
      });
    } catch {
      this.workers = [];
    }
    return this.workers;
  }

  private retire(): void {
    const workers = this.workers ?? [];
    this.workers = [];
    for (const w of workers) void w.terminate();
  }

  private request(worker: Worker, message: PoolRequest, transfer: ArrayBuffer[]): Promise<AssembledMask[] | undefined> {
    return new Promise((resolve, reject) => {
      // An ended worker answers nothing and will not report its exit again.
      if (this.exited.has(worker)) return reject(new Error('pool worker has exited'));
      const onMessage = (reply: PoolReply) => {
        cleanup();
        if (reply.ok) resolve(reply.masks);
        else reject(new Error(reply.error));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number) => onError(new Error(`pool worker exited with code ${code}`));
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.unref();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // Referenced while it works: the process waits for the answer.
      worker.ref();
      worker.postMessage(message, transfer);
    });
  }
}

function area(box: readonly [number, number, number, number]): number {
  return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
}

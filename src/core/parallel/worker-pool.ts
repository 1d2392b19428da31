/**
 * The engine's work besides `session.run`, shared out between the engine's thread
 * and worker threads (pool-worker.ts): the letterbox, by chunks of rows, and mask
 * assembly, by masks. Both are pure functions of large inputs, which the workers
 * read from shared memory; `session.run` has used every core and leaves them idle
 * when it returns, so this is the engine's own time divided by the cores.
 *
 * The work is not split in fixed shares: every thread, the engine's included,
 * takes the next chunk or mask from a shared counter until none is left. A thread
 * that starts late or runs slow (on a busy or virtual machine, a thread's speed
 * varies by half from one job to the next) then simply does less, and the job
 * ends when the last chunk does, not when the slowest share does.
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
import { chunkRows, takeClaims } from './claims';

export interface AssemblyJob {
  coefficients: Float32Array;
  /** Box in image pixels, x1 y1 x2 y2. */
  box: readonly [number, number, number, number];
}

/** Masks to assemble: one image's prototypes and all its jobs, shared; a worker takes jobs until none is left. */
export interface AssemblyRequest {
  kind: 'masks';
  geometry: MaskGeometry;
  protos: { buffer: SharedArrayBuffer; length: number; channels: number; height: number; width: number };
  /** Job i's coefficients at [i · channels, (i + 1) · channels). */
  coefficients: Float32Array;
  /** Job i's box at [4i, 4i + 4). */
  boxes: Float64Array;
  /** The jobs in the order they are taken: `order[claim]` for each claim. */
  order: Int32Array;
  /** [0]: the next claim (Atomics), shared by every thread of the job. */
  counter: Int32Array;
}

/**
 * Letterbox rows in chunks: chunk c is rows [c · chunkRows, (c + 1) · chunkRows) of
 * the scaled image. The source pixels and the output are shared, in tensor layout.
 */
export interface LetterboxRequest {
  kind: 'letterbox';
  rgb: { buffer: SharedArrayBuffer; width: number; height: number };
  letterbox: Letterbox;
  output: SharedArrayBuffer;
  chunkRows: number;
  chunks: number;
  /** [0]: the next chunk (Atomics), shared by every thread of the job. */
  counter: Int32Array;
}

export type PoolRequest = AssemblyRequest | LetterboxRequest;

/** A mask as a worker returns it; `bits` travels as a transferred buffer. */
export type AssembledMask = Omit<BoxMask, 'imageWidth' | 'imageHeight'>;

/** `done`: the jobs (mask indices) or chunks the worker took; a mask job's result is `masks[k]` for `done[k]`. */
export type PoolReply = { ok: true; done: number[]; masks?: AssembledMask[] } | { ok: false; error: string };
type WorkerResult = Extract<PoolReply, { ok: true }>;

/** Below this many output pixels a letterbox is not worth a message to a worker. */
const MIN_PARALLEL_LETTERBOX = 256 * 256;

/**
 * Rows of a letterbox chunk: 24 chunks at S = 1024, few enough that taking one costs
 * nothing, many enough that the last to finish is soon done.
 */
const LETTERBOX_CHUNK_ROWS = 32;

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
  /** The counter the threads of a job take their pieces from; jobs run one at a time, so one serves them all. */
  private claims: Int32Array | null = null;
  private workerPieces = 0;
  /** The job in progress: jobs run one at a time, as they share the scratch memory and the workers. */
  private running: Promise<unknown> = Promise.resolve();

  /** `workers`: threads besides the engine's; 0 does everything on the engine's thread. */
  constructor(private readonly workerCount = defaultPoolWorkers()) {
    this.start = workerCount > 0 ? workerStarter() : null;
  }

  /** Letterbox chunks and masks done by worker threads since the pool started: that they take part at all shows here. */
  get piecesDoneByWorkers(): number {
    return this.workerPieces;
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
    const chunks = Math.ceil(lb.newHeight / LETTERBOX_CHUNK_ROWS);
    const workers = lb.newWidth * lb.newHeight >= MIN_PARALLEL_LETTERBOX && chunks > 1 ? this.startWorkers() : [];
    const rows = (chunk: number) => chunkRows(chunk, LETTERBOX_CHUNK_ROWS, lb.newHeight);
    if (workers.length === 0) {
      letterboxRows(rgb, lb, tensor, 0, lb.newHeight);
      return;
    }

    // Chunk 0 is this thread's, done while the workers wake up; they may take any
    // other, so the source rows those read go into shared memory first.
    const stride = rgb.width * 3;
    const source = this.rgb.get(rgb.height * stride);
    const [first, last] = sourceRowsOf(lb, rows(1)[0], lb.newHeight);
    new Uint8Array(source).set(rgb.data.subarray(first * stride, (last + 1) * stride), first * stride);
    const output = this.tensor.get(tensor.byteLength);
    const counter = this.claimCounter(1);
    const request: LetterboxRequest = {
      kind: 'letterbox',
      rgb: { buffer: source, width: rgb.width, height: rgb.height },
      letterbox: lb,
      output,
      chunkRows: LETTERBOX_CHUNK_ROWS,
      chunks,
      counter,
    };
    const pending = workers.map((worker) => this.request(worker, request));
    const done = new Uint8Array(chunks);
    letterboxRows(rgb, lb, tensor, ...rows(0));
    done[0] = 1;
    for (const chunk of takeClaims(counter, chunks, (c) => letterboxRows(rgb, lb, tensor, ...rows(c)))) done[chunk] = 1;

    // The workers' chunks back into the tensor (ONNX Runtime does not take shared memory as input).
    const shared = new Float32Array(output, 0, tensor.length);
    for (const reply of await Promise.allSettled(pending)) {
      if (reply.status === 'rejected') {
        this.retire();
        continue;
      }
      this.workerPieces += reply.value.done.length;
      for (const chunk of reply.value.done) {
        copyLetterboxRows(shared, tensor, lb, ...rows(chunk));
        done[chunk] = 1;
      }
    }
    // Chunks a failed worker took are done here.
    done.forEach((d, chunk) => d || letterboxRows(rgb, lb, tensor, ...rows(chunk)));
  }

  private async assembleNow(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    const workers = jobs.length > 1 ? this.startWorkers() : [];
    const assembler = new MaskAssembler(geometry, protos);
    const assemble = (i: number) => assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
    if (workers.length === 0) return jobs.map((_, i) => assemble(i));

    // Largest first (a mask costs about its box's area), so the last taken are small
    // and the threads finish close together.
    const order = Int32Array.from(jobs.keys()).sort((a, b) => area(jobs[b]!.box) - area(jobs[a]!.box));
    const buffer = this.protos.get(protos.data.byteLength);
    new Float32Array(buffer, 0, protos.data.length).set(protos.data);
    const coefficients = new Float32Array(jobs.length * protos.channels);
    const boxes = new Float64Array(jobs.length * 4);
    jobs.forEach((job, i) => {
      coefficients.set(job.coefficients.subarray(0, protos.channels), i * protos.channels);
      boxes.set(job.box, i * 4);
    });
    const counter = this.claimCounter(0);
    const request: AssemblyRequest = {
      kind: 'masks',
      geometry,
      protos: { buffer, length: protos.data.length, channels: protos.channels, height: protos.height, width: protos.width },
      coefficients,
      boxes,
      order,
      counter,
    };
    const pending = workers.map((worker) => this.request(worker, request));
    const results: (BoxMask | undefined)[] = new Array(jobs.length);
    takeClaims(counter, jobs.length, (claim) => (results[order[claim]!] = assemble(order[claim]!)));

    for (const reply of await Promise.allSettled(pending)) {
      if (reply.status === 'rejected') {
        this.retire();
        continue;
      }
      const { done, masks } = reply.value;
      this.workerPieces += done.length;
      done.forEach((i, k) => (results[i] = { imageWidth: geometry.imageWidth, imageHeight: geometry.imageHeight, ...masks![k]! }));
    }
    // Masks a failed worker took are assembled here.
    return results.map((mask, i) => mask ?? assemble(i));
  }

  /** The shared counter of the job about to start, set to `first`. */
  private claimCounter(first: number): Int32Array {
    this.claims ??= new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(this.claims, 0, first);
    return this.claims;
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

  private request(worker: Worker, message: PoolRequest): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      // An ended worker answers nothing and will not report its exit again.
      if (this.exited.has(worker)) return reject(new Error('pool worker has exited'));
      const onMessage = (reply: PoolReply) => {
        cleanup();
        if (reply.ok) resolve(reply);
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
      worker.postMessage(message);
    });
  }
}

function area(box: readonly [number, number, number, number]): number {
  return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
}

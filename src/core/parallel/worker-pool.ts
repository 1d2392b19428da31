/**
 * Mask assembly, the engine's largest work besides `session.run`, shared out
 * between the engine's thread and worker threads (pool-worker.ts), mask by mask.
 * It is a pure function of large inputs, which the workers read from shared
 * memory; `session.run` has used every core and leaves them idle when it
 * returns, so this is the assembly's time divided by the cores. (The letterbox,
 * before `session.run`, runs in WebAssembly on the engine's thread alone: about
 * 7 ms for a 3 MP photo at S = 1024.)
 *
 * The work is not split in fixed shares: every thread, the engine's included,
 * takes the next mask from a shared counter until none is left. A thread
 * that starts late or runs slow (on a busy or virtual machine, a thread's speed
 * varies by half from one job to the next) then simply does less, and the job
 * ends when the last mask does, not when the slowest share does.
 *
 * Where no worker can be started (a bundle without the worker script, a host that
 * forbids threads) or one fails, the work is done on the engine's thread, as it
 * would be without the pool.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BoxMask } from '../masks/box-mask';
import { type AssemblerScratch, MaskAssembler, type MaskGeometry, placePrototypes, type Prototypes } from '../postprocess/assemble-masks';
import { Kernels } from '../wasm/kernels';
import { takeClaims } from './claims';

export interface AssemblyJob {
  coefficients: Float32Array;
  /** Box in image pixels, x1 y1 x2 y2. */
  box: readonly [number, number, number, number];
}

/** Masks to assemble: one image's prototypes and all its jobs, shared; a worker takes jobs until none is left. */
export interface AssemblyRequest {
  geometry: MaskGeometry;
  /** The prototypes in the pool's kernel memory, and the scratch area of the worker asked. */
  protos: { memory: WebAssembly.Memory; offset: number; scratch: AssemblerScratch; channels: number; height: number; width: number };
  /** Job i's coefficients at [i · channels, (i + 1) · channels). */
  coefficients: Float32Array;
  /** Job i's box at [4i, 4i + 4). */
  boxes: Float64Array;
  /** The jobs in the order they are taken: `order[claim]` for each claim. */
  order: Int32Array;
  /** [0]: the next claim (Atomics), shared by every thread of the job. */
  counter: Int32Array;
}

/** A mask as a worker returns it; `bits` travels as a transferred buffer. */
export type AssembledMask = Omit<BoxMask, 'imageWidth' | 'imageHeight'>;

/** `done`: the jobs (mask indices) the worker took; job `done[k]`'s mask is `masks[k]`. */
export type PoolReply = { ok: true; done: number[]; masks: AssembledMask[] } | { ok: false; error: string };
type WorkerResult = Extract<PoolReply, { ok: true }>;

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

export class WorkerPool {
  private workers: Worker[] | null = null;
  private readonly start: (() => Worker) | null;
  /**
   * The prototypes and each thread's scratch, in shared memory that grows only when
   * an image needs more, so that it is touched for the first time once.
   */
  private readonly kernels = new Kernels();
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

  /** Masks assembled by worker threads since the pool started: that they take part at all shows here. */
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

  /** The masks of `jobs`, in order. */
  assembleMasks(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    return this.exclusive(() => this.assembleNow(geometry, protos, jobs));
  }

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.running.then(job, job);
    this.running = result.catch(() => undefined);
    return result;
  }

  private async assembleNow(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    const workers = jobs.length > 1 ? this.startWorkers() : [];
    const { channels, height, width } = protos;
    const placed = placePrototypes(geometry, protos, 1 + workers.length, this.kernels);
    const assembler = new MaskAssembler(geometry, { channels, height, width, kernels: this.kernels, offset: placed.offset, scratch: placed.scratch[0]! });
    const assemble = (i: number) => assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
    if (workers.length === 0) return jobs.map((_, i) => assemble(i));

    // Largest first (a mask costs about its box's area), so the last taken are small
    // and the threads finish close together.
    const order = Int32Array.from(jobs.keys()).sort((a, b) => area(jobs[b]!.box) - area(jobs[a]!.box));
    const coefficients = new Float32Array(jobs.length * channels);
    const boxes = new Float64Array(jobs.length * 4);
    jobs.forEach((job, i) => {
      coefficients.set(job.coefficients.subarray(0, channels), i * channels);
      boxes.set(job.box, i * 4);
    });
    const counter = this.claimCounter();
    const request = (worker: number): AssemblyRequest => ({
      geometry,
      protos: { memory: this.kernels.memory, offset: placed.offset, scratch: placed.scratch[1 + worker]!, channels, height, width },
      coefficients,
      boxes,
      order,
      counter,
    });
    const pending = workers.map((worker, k) => this.request(worker, request(k)));
    const results: (BoxMask | undefined)[] = new Array(jobs.length);
    takeClaims(counter, jobs.length, (claim) => (results[order[claim]!] = assemble(order[claim]!)));

    for (const reply of await Promise.allSettled(pending)) {
      if (reply.status === 'rejected') {
        this.retire();
        continue;
      }
      const { done, masks } = reply.value;
      this.workerPieces += done.length;
      done.forEach((i, k) => (results[i] = { imageWidth: geometry.imageWidth, imageHeight: geometry.imageHeight, ...masks[k]! }));
    }
    // Masks a failed worker took are assembled here.
    return results.map((mask, i) => mask ?? assemble(i));
  }

  /** The shared counter of the job about to start, set to 0. */
  private claimCounter(): Int32Array {
    this.claims ??= new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(this.claims, 0, 0);
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

  private request(worker: Worker, message: AssemblyRequest): Promise<WorkerResult> {
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

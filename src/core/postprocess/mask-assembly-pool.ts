/**
 * Mask assembly on every core: the detections of one image are shared out between
 * this thread and worker threads (mask-assembly-worker.ts), which read the
 * prototypes from shared memory and hand each mask's bits back without a copy.
 * Assembly is the largest part of post-processing and each mask is independent,
 * so it scales with the cores that `session.run` leaves idle once it returns.
 *
 * Where no worker can be started (a bundle without the worker script, a host
 * that forbids threads) or one fails, the masks are assembled here, as before.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BoxMask } from '../masks/box-mask';
import { MaskAssembler, type MaskGeometry, type Prototypes } from './assemble-masks';

export interface AssemblyJob {
  coefficients: Float32Array;
  /** Box in image pixels, x1 y1 x2 y2. */
  box: readonly [number, number, number, number];
}

/** What a worker is asked: one image's prototypes (shared) and its share of the jobs. */
export interface AssemblyRequest {
  geometry: MaskGeometry;
  protos: { buffer: SharedArrayBuffer; length: number; channels: number; height: number; width: number };
  /** Job i's coefficients at [i · channels, (i + 1) · channels). */
  coefficients: Float32Array;
  /** Job i's box at [4i, 4i + 4). */
  boxes: Float64Array;
}

/** A mask as a worker returns it; `bits` travels as a transferred buffer. */
export type AssembledMask = Omit<BoxMask, 'imageWidth' | 'imageHeight'>;

export type AssemblyReply = { ok: true; masks: AssembledMask[] } | { ok: false; error: string };

/**
 * How to start a worker: the bundled script beside this module's bundle (dist/), or,
 * when the engine runs from its TypeScript sources (tests and benchmarks under tsx),
 * the .ts source through tsx's CommonJS hook, as Node does not pass tsx's loader on
 * to worker threads. Null when neither is there.
 */
function workerStarter(): (() => Worker) | null {
  if (!__filename.endsWith('.ts')) {
    const bundled = path.join(__dirname, 'mask-assembly-worker.js');
    return existsSync(bundled) ? () => new Worker(bundled) : null;
  }
  const source = path.join(__dirname, 'mask-assembly-worker.ts');
  const bootstrap = `require(require.resolve('tsx/cjs/api', { paths: [${JSON.stringify(__dirname)}] })).register(); require(${JSON.stringify(source)});`;
  return () => new Worker(bootstrap, { eval: true });
}

/**
 * Worker threads to use besides this one: the cores left, at most 3 (each is a
 * JavaScript heap of its own, about 10 MB, and four threads already assemble a
 * photo's masks in a few milliseconds).
 */
export function defaultAssemblyWorkers(): number {
  return Math.min(3, Math.max(0, os.availableParallelism() - 1));
}

export class MaskAssemblyPool {
  private workers: Worker[] | null = null;
  private shared: SharedArrayBuffer | null = null;
  private readonly start: (() => Worker) | null;

  /** `workers`: threads besides this one; 0 assembles everything here. */
  constructor(private readonly workerCount = defaultAssemblyWorkers()) {
    this.start = workerCount > 0 ? workerStarter() : null;
  }

  /** Worker threads assembling masks now: 0 before the first image, or where none could start or one failed. */
  get activeWorkers(): number {
    return this.workers?.length ?? 0;
  }

  /** The masks of `jobs`, in order. */
  async assemble(geometry: MaskGeometry, protos: Prototypes, jobs: readonly AssemblyJob[]): Promise<BoxMask[]> {
    const workers = jobs.length > 1 ? this.startWorkers() : [];
    if (workers.length === 0) {
      const assembler = new MaskAssembler(geometry, protos);
      return jobs.map((j) => assembler.assemble(j.coefficients, j.box));
    }

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

    const sharedProtos = this.share(protos);
    const pending = workers.map((worker, w) => this.request(worker, geometry, sharedProtos, protos, shares[w + 1]!.map((i) => jobs[i]!)));
    const results: BoxMask[] = new Array(jobs.length);
    // This thread's share meanwhile.
    const assembler = new MaskAssembler(geometry, protos);
    for (const i of shares[0]!) results[i] = assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
    const replies = await Promise.allSettled(pending);
    replies.forEach((reply, w) => {
      const share = shares[w + 1]!;
      if (reply.status === 'fulfilled') {
        reply.value.forEach((m, k) => (results[share[k]!] = { imageWidth: geometry.imageWidth, imageHeight: geometry.imageHeight, ...m }));
      } else {
        // A worker that failed is not asked again; its share is done here.
        this.retire();
        for (const i of share) results[i] = assembler.assemble(jobs[i]!.coefficients, jobs[i]!.box);
      }
    });
    return results;
  }

  /** Starts the workers now (they start with the first image otherwise): while a model loads, say. */
  warmUp(): void {
    this.startWorkers();
  }

  async dispose(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
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

  /** The prototypes copied into shared memory, which grows only when an image needs more. */
  private share(protos: Prototypes): AssemblyRequest['protos'] {
    const bytes = protos.data.byteLength;
    if (!this.shared || this.shared.byteLength < bytes) this.shared = new SharedArrayBuffer(bytes);
    new Float32Array(this.shared, 0, protos.data.length).set(protos.data);
    return { buffer: this.shared, length: protos.data.length, channels: protos.channels, height: protos.height, width: protos.width };
  }

  private request(worker: Worker, geometry: MaskGeometry, sharedProtos: AssemblyRequest['protos'], protos: Prototypes, jobs: AssemblyJob[]): Promise<AssembledMask[]> {
    if (jobs.length === 0) return Promise.resolve([]);
    const coefficients = new Float32Array(jobs.length * protos.channels);
    const boxes = new Float64Array(jobs.length * 4);
    jobs.forEach((j, i) => {
      coefficients.set(j.coefficients.subarray(0, protos.channels), i * protos.channels);
      boxes.set(j.box, i * 4);
    });
    const message: AssemblyRequest = { geometry, protos: sharedProtos, coefficients, boxes };
    return new Promise((resolve, reject) => {
      const onMessage = (reply: AssemblyReply) => {
        cleanup();
        if (reply.ok) resolve(reply.masks);
        else reject(new Error(reply.error));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number) => onError(new Error(`mask assembly worker exited with code ${code}`));
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
      worker.postMessage(message, [coefficients.buffer, boxes.buffer]);
    });
  }
}

function area(box: readonly [number, number, number, number]): number {
  return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
}

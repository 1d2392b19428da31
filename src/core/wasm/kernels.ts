/**
 * The WebAssembly kernels (assembly/kernels.ts, compiled by esbuild.mjs into
 * dist/kernels.wasm) and the memory they work in. The module is compiled once
 * per thread; each `Kernels` is an instance of it over one memory, shared, so
 * that worker threads can have instances of their own over the same memory.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InstallationError } from '../errors';

const PAGE_BYTES = 65536;
/** wasm32's limit, 4 GiB. A shared memory must declare a maximum; it reserves address space, not memory. */
const MAX_PAGES = 65536;
/** Buffers start above the first page, which is left to the module (it has no static data today). */
const FIRST_BUFFER = PAGE_BYTES;

interface KernelExports {
  letterbox(
    src: number, cols: number, rows: number, newWidth: number, newHeight: number,
    scratch: number, tensor: number, size: number, padLeft: number, padTop: number,
  ): void;
  logits(
    protos: number, width: number, height: number, channels: number, coefficients: number,
    r0: number, r1: number, c0: number, c1: number, out: number,
  ): void;
  fillMask(
    logits: number, cells: number, r0: number, c0: number,
    tables: number, columns: number, columnWeights: number,
    left: number, right: number, top: number, bottom: number,
    runs: number, mixed: number, template: number, bits: number,
  ): number;
}

let compiled: WebAssembly.Module | null = null;

/** Where the compiled kernels are: beside the bundle (dist/) that runs this code, or in the repository's dist/ when running from the TypeScript sources (tests, benchmarks). */
function kernelsFile(): string {
  return __filename.endsWith('.ts') ? path.join(__dirname, '..', '..', '..', 'dist', 'kernels.wasm') : path.join(__dirname, 'kernels.wasm');
}

function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    const file = kernelsFile();
    // Only a broken installation or an unbuilt checkout gets here, so the message says how to mend either.
    const mend = 'reinstall the extension, or run "npm run build" in a source checkout';
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = readFileSync(file) as Uint8Array<ArrayBuffer>;
    } catch (err) {
      throw new InstallationError(`The engine's WebAssembly kernels are missing (${file}): ${mend}.`, { cause: err });
    }
    try {
      compiled = new WebAssembly.Module(bytes);
    } catch (err) {
      throw new InstallationError(`The engine's WebAssembly kernels are damaged (${file}): ${mend}.`, { cause: err });
    }
  }
  return compiled;
}

/**
 * A shared memory for the kernels, as small as can be until `reserve` grows it,
 * up to `maximumBytes`. A shared memory reserves address space for its maximum
 * when it is made, so a memory for one image asks for what that image needs.
 */
export function kernelMemory(maximumBytes = MAX_PAGES * PAGE_BYTES): WebAssembly.Memory {
  const maximum = Math.ceil(maximumBytes / PAGE_BYTES);
  if (maximum > MAX_PAGES) throw new RangeError(`the engine's kernels need ${maximumBytes} bytes of memory, more than WebAssembly's 4 GiB`);
  return new WebAssembly.Memory({ initial: 1, maximum, shared: true });
}

/**
 * Buffers laid out one after the other from the start of a kernel memory, each
 * aligned to 16 bytes (a SIMD vector). Offsets are byte addresses in the memory.
 */
export class KernelLayout {
  private end = FIRST_BUFFER;

  /** Reserves `bytes` and returns their offset. */
  take(bytes: number): number {
    const offset = this.end;
    this.end = offset + Math.ceil(bytes / 16) * 16;
    return offset;
  }

  /** Bytes from the start of the memory to the end of the last buffer. */
  get size(): number {
    return this.end;
  }
}

/** One instance of the kernels over a memory: their functions take byte offsets in it. */
export class Kernels {
  readonly letterbox: KernelExports['letterbox'];
  readonly logits: KernelExports['logits'];
  readonly fillMask: KernelExports['fillMask'];

  constructor(readonly memory: WebAssembly.Memory = kernelMemory()) {
    const exports = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as KernelExports;
    this.letterbox = exports.letterbox;
    this.logits = exports.logits;
    this.fillMask = exports.fillMask;
  }

  /** Grows the memory to at least `bytes`. Views of the memory must be taken after this: growing gives it a new, longer buffer. */
  reserve(bytes: number): void {
    const pages = Math.ceil(bytes / PAGE_BYTES);
    if (pages > MAX_PAGES) throw new RangeError(`the engine's kernels need ${bytes} bytes of memory, more than WebAssembly's 4 GiB`);
    const current = this.memory.buffer.byteLength / PAGE_BYTES;
    if (pages > current) this.memory.grow(pages - current);
  }
}

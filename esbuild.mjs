// Bundles every entry point of the extension, its worker, its webview and the CLI, and
// compiles the engine's WebAssembly kernels beside them (dist/kernels.wasm).
// Native and heavy packages stay external: they are resolved from node_modules at run time.
import * as fs from 'node:fs';
import asc from 'assemblyscript/asc';
import * as esbuild from 'esbuild';
import { extensionTestsBuild } from './test/extension/build.mjs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
// --kernels: only the WebAssembly kernels, which the unit tests and the benchmark load from dist/.
const kernelsOnly = process.argv.includes('--kernels');

const external = ['vscode', 'onnxruntime-node', 'sharp', '@huggingface/transformers'];

/** @type {esbuild.BuildOptions[]} */
const builds = [
  {
    entryPoints: { cli: 'src/cli/main.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    external,
  },
  {
    entryPoints: { extension: 'src/extension/extension.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external,
  },
  // The engine's worker thread (src/extension/engine-client.ts starts it from dist/).
  {
    entryPoints: { 'engine-worker': 'src/extension/worker/engine-worker.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external,
  },
  // The engine's worker threads for mask assembly (src/core/parallel/worker-pool.ts
  // starts them from beside the bundle that runs the engine: dist/cli.js or dist/engine-worker.js).
  {
    entryPoints: { 'pool-worker': 'src/core/parallel/pool-worker.ts' },
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external,
  },
  // Extension-host test suite -> out/test/extension/index.js (see test/extension/build.mjs).
  extensionTestsBuild(external),
  // The segmentation editor's webview: runs in the browser, loaded by the host's HTML.
  {
    entryPoints: { webview: 'src/webview/main.ts' },
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

/**
 * src/core/wasm/assembly → dist/kernels.wasm: optimised, with SIMD, over a shared memory
 * that the loader (src/core/wasm/kernels.ts) provides, and without a runtime or allocator,
 * as the kernels allocate nothing.
 */
async function compileKernels() {
  const { error, stderr } = await asc.main([
    'src/core/wasm/assembly/kernels.ts',
    '--outFile', 'dist/kernels.wasm',
    '--optimizeLevel', '3',
    '--runtime', 'stub',
    '--enable', 'simd',
    '--enable', 'threads',
    '--importMemory',
    '--sharedMemory',
    '--noExportMemory',
    '--initialMemory', '1',
    '--maximumMemory', '65536',
  ]);
  if (error) throw new Error(`compiling the WebAssembly kernels failed:\n${stderr.toString()}`);
}

/** Recompiles the kernels when their source changes, reporting failures without stopping the watch. */
function watchKernels() {
  let timer;
  fs.watch('src/core/wasm/assembly', () => {
    clearTimeout(timer);
    timer = setTimeout(() => compileKernels().catch((err) => console.error(err.message)), 100);
  });
}

const common = { bundle: true, outdir: 'dist', sourcemap: !production, minify: production, logLevel: 'warning' };

await compileKernels();
if (watch) {
  for (const b of builds) await (await esbuild.context({ ...common, ...b })).watch();
  watchKernels();
} else if (!kernelsOnly) {
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}

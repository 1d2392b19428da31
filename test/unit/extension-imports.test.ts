/**
 * Which code may load what. src/core and the engine worker run outside VS Code
 * (the CLI, a worker thread), so they must never import 'vscode'; the modules
 * the unit tests cover must not either. The extension's main bundle must not
 * load onnxruntime or sharp: their native libraries belong to the worker, off
 * the extension host's main thread. esbuild resolves the real import graph
 * (type-only imports erased), as it does for the shipped bundles.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');

/** Every package each bundle would load at run time, with the module that imports it. */
/** `entry` bundled as esbuild.mjs bundles it for Node, packages left out, not written: its metafile says what went in. */
function bundleWithoutPackages(entry: string) {
  return esbuild.build({
    entryPoints: [path.join(ROOT, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    logLevel: 'silent',
  });
}

async function packagesImported(entry: string): Promise<{ pkg: string; from: string }[]> {
  const result = await bundleWithoutPackages(entry);
  const found: { pkg: string; from: string }[] = [];
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) if (imp.external && !imp.path.startsWith('node:')) found.push({ pkg: imp.path, from: file });
  }
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const VSCODE_SPECIFIER = /(?:from\s+|require\(\s*|import\(\s*)['"]vscode['"]/;

describe('imports', () => {
  test('no file under src/core mentions the vscode module, even for types', () => {
    const offenders = tsFiles('src/core').filter((f) => VSCODE_SPECIFIER.test(readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  test('no file under src/extension/worker mentions the vscode module', () => {
    const offenders = tsFiles('src/extension/worker').filter((f) => VSCODE_SPECIFIER.test(readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  for (const entry of [
    'src/extension/worker/engine-worker.ts',
    'src/extension/engine-client.ts',
    'src/extension/result-cache.ts',
    'src/extension/mask-export.ts',
    'src/extension/settings.ts',
    'src/extension/model-sources.ts',
    'src/extension/model-list.ts',
  ]) {
    test(`${entry} does not load vscode, directly or through its imports`, async () => {
      assert.deepEqual((await packagesImported(entry)).filter((i) => i.pkg === 'vscode'), []);
    });
  }

  test('the extension’s main bundle loads neither onnxruntime nor sharp', async () => {
    // Model downloads run there (VS Code sets up Node's https for its extension host):
    // their proxy agents are plain JavaScript. Any other package is one too many.
    const allowed = new Set(['vscode', 'http-proxy-agent', 'https-proxy-agent']);
    const heavy = (await packagesImported('src/extension/extension.ts')).filter((i) => !allowed.has(i.pkg));
    assert.deepEqual(heavy, []);
  });

  test('the extension’s main bundle does not carry the checkpoint converter (it runs in the worker)', async () => {
    const result = await bundleWithoutPackages('src/extension/extension.ts');
    const converter = Object.keys(result.metafile.inputs).filter((f) => /src\/core\/(models\/(convert|checkpoint\/|yolov8-seg)|onnx\/)/.test(f));
    assert.deepEqual(converter, []);
  });
});

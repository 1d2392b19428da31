// esbuild configuration of the extension-host test suite, used by the repo's esbuild.mjs.
// Bundles test/extension/index.ts (the suite's run()) together with every
// test/extension/*.test.ts into out/test/extension/index.js. The test files are
// listed by the virtual module 'virtual:extension-test-files', generated at build
// time, so adding a *.test.ts file needs no other change. Each test file stays
// lazily initialised (a require() inside a function) so that Mocha's globals
// (describe/it/suite/test) exist when it runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const VIRTUAL = 'virtual:extension-test-files';

/** @type {import('esbuild').Plugin} */
const testFilesPlugin = {
  name: 'extension-test-files',
  setup(build) {
    build.onResolve({ filter: /^virtual:extension-test-files$/ }, () => ({ path: VIRTUAL, namespace: 'extension-test-files' }));
    build.onLoad({ filter: /.*/, namespace: 'extension-test-files' }, () => {
      const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.test.ts')).sort();
      const rows = files.map((f) => `  { file: ${JSON.stringify(f)}, load: () => require(${JSON.stringify(`./${f}`)}) },`);
      return { contents: `module.exports = [\n${rows.join('\n')}\n];\n`, loader: 'js', resolveDir: testDir, watchDirs: [testDir] };
    });
  },
};

/**
 * @param {string[]} external packages left to node_modules at run time
 * @returns {import('esbuild').BuildOptions}
 */
export function extensionTestsBuild(external) {
  return {
    // index.js: a small loader that turns on source maps, then loads suite.js.
    entryPoints: { index: 'test/extension/main.ts', suite: 'test/extension/index.ts' },
    outdir: 'out/test/extension',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // mocha is a devDependency, resolved from the repo's node_modules at run time.
    external: [...new Set([...external, 'vscode', 'mocha'])],
    plugins: [testFilesPlugin],
  };
}

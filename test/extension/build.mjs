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

const repoRoot = path.resolve(testDir, '../..');
const sourceDirs = ['test', 'scripts'].map((d) => path.join(repoRoot, d) + path.sep);

/**
 * Test helpers and fixture scripts are shared with the unit tests, which run from
 * source (tsx) and find files next to them with __dirname. In this bundle __dirname
 * would be out/test/extension/, so in files under test/ and scripts/ (not src/,
 * whose code must see its bundled layout) __dirname/__filename become the source
 * file's own folder/path.
 * @type {import('esbuild').Plugin}
 */
const sourceDirnamePlugin = {
  name: 'source-dirname',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      if (!sourceDirs.some((d) => args.path.startsWith(d)) || args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = await fs.promises.readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      const contents = source
        .replace(/\b__dirname\b/g, JSON.stringify(path.dirname(args.path)))
        .replace(/\b__filename\b/g, JSON.stringify(args.path));
      return { contents, loader: path.extname(args.path).endsWith('js') ? 'js' : 'ts' };
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
    plugins: [testFilesPlugin, sourceDirnamePlugin],
  };
}

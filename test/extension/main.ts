// The entry point VS Code loads as extensionTestsPath (out/test/extension/index.js).
// It turns on Node's source maps before loading the suite bundle (./suite.js), so that
// stack traces point into the .ts files; modules loaded before that call are not mapped.
import * as path from 'node:path';

process.setSourceMapsEnabled(true);

// A computed path: esbuild leaves this require to run time. (module.filename, not
// __dirname, which build.mjs rewrites to the source folder in test/ files.)
const suite = require(path.join(path.dirname(module.filename), 'suite.js')) as { run(): Promise<void> };

export function run(): Promise<void> {
  return suite.run();
}

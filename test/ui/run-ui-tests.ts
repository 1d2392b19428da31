/**
 * Runs the UI tests: every `scenarios` export of test/ui/*.ui.ts, each in a real
 * VS Code (the server build from .vscode-test/) driven by headless Chromium.
 *
 *   bash scripts/vscode-server/install.sh && npm run build && npm run fixtures && npm run test:ui
 *
 * Builds nothing itself. Screenshots of every step, the browser console and the
 * server log go to test-results/ui/<scenario>/. The last line is
 * `ui: N passed, N failed, N skipped` (a step after a failed one is skipped); the
 * exit code is 0 only when no step failed and at least one passed.
 *
 * Env: FASTSAM_UI_SCENARIO=id[,id] (only those scenarios), plus those of
 *      test/vscode/server.ts (HEADED=1, FASTSAM_VSCODE_SERVER_ECHO=1, ...).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInstalled, REPO_ROOT } from '../vscode/server';
import { runActiveCleanups, runScenario, type RunSummary, type Scenario } from './harness';

const summary: RunSummary = { passed: 0, failed: 0, skipped: 0, failures: [] };

function finish(): number {
  if (summary.failures.length > 0) console.log(`\nFailed:\n${summary.failures.map((f) => `  ${f}`).join('\n')}`);
  console.log(`ui: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return summary.failed === 0 && summary.passed > 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const started = Date.now();
  const missing = ['dist/extension.js', 'dist/engine-worker.js', 'dist/webview.js', 'models/fixtures/palette-fastsam.onnx'].filter((f) => !fs.existsSync(path.join(REPO_ROOT, f)));
  if (missing.length > 0 || !isInstalled()) {
    for (const f of missing) console.log(`${f} is missing: run npm run build and npm run fixtures`);
    if (!isInstalled()) console.log('The VS Code server or Chromium is missing: run bash scripts/vscode-server/install.sh');
    summary.failed++;
    summary.failures.push('prerequisites');
    return finish();
  }

  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.ui.ts'))
    .sort();
  const only = process.env.FASTSAM_UI_SCENARIO?.split(',').map((s) => s.trim()).filter(Boolean);
  const scenarios: Scenario[] = [];
  for (const file of files) {
    const mod = (await import(path.join(__dirname, file))) as { scenarios?: Scenario[] };
    if (!Array.isArray(mod.scenarios)) throw new Error(`test/ui/${file} exports no \`scenarios\` array`);
    scenarios.push(...mod.scenarios.filter((s) => !only || only.includes(s.id)));
  }
  if (only) {
    const unknown = only.filter((id) => !scenarios.some((s) => s.id === id));
    if (unknown.length > 0) console.log(`FASTSAM_UI_SCENARIO: no scenario ${unknown.join(', ')}`);
  }
  for (const scenario of scenarios) await runScenario(scenario, summary);
  console.log(`\n${scenarios.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return finish();
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.log(`\n${sig}: cleaning up`);
    void runActiveCleanups().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    summary.failed++;
    process.exit(finish());
  },
);

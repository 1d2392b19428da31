// Runs the extension-host test suite (out/test/extension/index.js) in VS Code
// desktop through @vscode/test-electron, for machines that can download VS Code
// (not this project's offline machines and CI: there, use run-extension-tests-server.ts).
//
//   npm run build && npm run test:vscode:electron        (Linux without a display: xvfb-run -a ...)
//
// Same suite, same results contract (test/vscode/results.ts) as the server launcher.
// VS Code goes to .vscode-test/ (test-electron's cache). Logs and results go to
// test-results/vscode-extension-tests-electron/<run>/.
//
// Env: VSCODE_TEST_VERSION (default 1.100.3, the server launcher's version; or 'stable', 'insiders'),
//      VSCODE_EXECUTABLE_PATH (use this VS Code instead of downloading one),
//      FASTSAM_VSCODE_TEST_GREP, FASTSAM_VSCODE_TEST_TIMEOUT_MS, FASTSAM_TEST_WORKSPACE.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { FileTail, RESULTS_ENV, createRunDir, finishRun, progressLogPath, readResults, summaryLine } from './results';
import { REPO_ROOT, VSCODE_TEST_DIR, createWorkspace } from './server';

const RUNS_DIR = path.join(REPO_ROOT, 'test-results', 'vscode-extension-tests-electron');
const SUITE = path.join(REPO_ROOT, 'out', 'test', 'extension', 'index.js');
const EXTENSION_MAIN = path.join(REPO_ROOT, 'dist', 'extension.js');

const t0 = Date.now();
function say(msg: string): void {
  process.stderr.write(`[test:vscode:electron ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

async function main(): Promise<number> {
  for (const f of [SUITE, EXTENSION_MAIN]) {
    if (!fs.existsSync(f)) {
      say(`${path.relative(REPO_ROOT, f)} is missing: run \`npm run build\` first`);
      return 2;
    }
  }
  const outDir = createRunDir(RUNS_DIR);
  const resultsPath = path.join(outDir, 'results.json');
  const logFile = path.join(outDir, 'vscode.log');
  const log = fs.createWriteStream(logFile);
  const ownWorkspace = !process.env.FASTSAM_TEST_WORKSPACE;
  const workspace = ownWorkspace
    ? createWorkspace()
    : path.resolve(process.env.FASTSAM_TEST_WORKSPACE!);

  // A fresh profile for each run (a short path: VS Code's IPC socket lives in it).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsam-vscode-profile-'));

  const progress = new FileTail(progressLogPath(resultsPath), (text) => process.stdout.write(text));
  const timer = setInterval(() => progress.poll(), 200);
  let problem: string | undefined;
  try {
    const version = process.env.VSCODE_TEST_VERSION || '1.100.3';
    const vscodeExecutablePath = process.env.VSCODE_EXECUTABLE_PATH;
    say(`VS Code ${vscodeExecutablePath ?? version}; VS Code's own output goes to ${path.relative(REPO_ROOT, logFile)}`);
    await runTests({
      ...(vscodeExecutablePath ? { vscodeExecutablePath } : { version }),
      cachePath: VSCODE_TEST_DIR,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: SUITE,
      extensionTestsEnv: { [RESULTS_ENV]: resultsPath },
      launchArgs: [
        workspace,
        `--user-data-dir=${path.join(profile, 'user-data')}`,
        `--extensions-dir=${path.join(profile, 'extensions')}`,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
        '--disable-gpu',
        // Chromium refuses to run as root with its sandbox on.
        ...(process.platform === 'linux' && process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      ],
      stdout: log,
      stderr: log,
    });
  } catch (err) {
    // runTests rejects when VS Code exits non-zero, which run() causes on failures;
    // the results file says more. Without one, this error is the reason.
    problem = err instanceof Error ? err.message : String(err);
  } finally {
    clearInterval(timer);
    await new Promise<void>((r) => log.end(r));
    if (ownWorkspace) fs.rmSync(workspace, { recursive: true, force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  }
  progress.poll();
  const results = readResults(resultsPath);
  if (!results) say(`no results from the suite; see ${path.relative(REPO_ROOT, logFile)}`);
  return finishRun({ results, problem: results ? undefined : (problem ?? 'the suite wrote no results'), reportAlreadyPrinted: progress.started, say });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.stdout.write(`${summaryLine(undefined)}\n`);
    process.exit(1);
  },
);

// Runs the extension-host test suite (out/test/extension/index.js) inside a real
// VS Code, offline: the VS Code server from .vscode-test/ plus headless Chromium.
//
//   bash scripts/vscode-server/install.sh && npm run build && npm run test:vscode
//
// Builds nothing itself. Logs (server, browser console) and the results JSON go
// to test-results/vscode-extension-tests/<run>/ (and .../latest). Exit code 0 only when every test passed
// and at least one ran.
//
// Env: FASTSAM_VSCODE_TEST_GREP (only tests whose full title contains it),
//      FASTSAM_VSCODE_TEST_TIMEOUT_MS (per test, default 20000),
//      FASTSAM_VSCODE_RUN_TIMEOUT_MS (the whole run, default 600000),
//      FASTSAM_TEST_WORKSPACE (folder to open; default an empty temp folder),
//      plus those of test/vscode/server.ts (HEADED=1, FASTSAM_VSCODE_SERVER_ECHO=1, ...).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileTail, RESULTS_ENV, createRunDir, finishRun, progressLogPath, readResults, summaryLine, type TestResults } from './results';
import { REPO_ROOT, createWorkspace, delay, launchChromium, startServer, tail, type LaunchedChromium, type VSCodeServer } from './server';

const RUN_TIMEOUT_MS = Number(process.env.FASTSAM_VSCODE_RUN_TIMEOUT_MS || 10 * 60_000);
const RUNS_DIR = path.join(REPO_ROOT, 'test-results', 'vscode-extension-tests');
const SUITE = path.join(REPO_ROOT, 'out', 'test', 'extension', 'index.js');
const EXTENSION_MAIN = path.join(REPO_ROOT, 'dist', 'extension.js');
const EXT_HOST_EXIT = /Extension Host Process exited with code: (-?\d+|null), signal: (\w+)/;

const t0 = Date.now();
function say(msg: string): void {
  process.stderr.write(`[test:vscode ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
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
  const browserLog = fs.createWriteStream(path.join(outDir, 'browser-console.log'));
  const workspace = process.env.FASTSAM_TEST_WORKSPACE
    ? path.resolve(process.env.FASTSAM_TEST_WORKSPACE)
    : createWorkspace();

  let server: VSCodeServer | undefined;
  let browser: LaunchedChromium | undefined;
  const cleanup = async (): Promise<void> => {
    await browser?.close();
    await server?.stop();
    browserLog.end();
    if (!process.env.FASTSAM_TEST_WORKSPACE && process.env.FASTSAM_KEEP_TEMP !== '1') fs.rmSync(workspace, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    // The server's environment reaches the extension host it forks: that is how
    // the suite learns where to write its results.
    server = await startServer({ env: { [RESULTS_ENV]: resultsPath }, logFile: path.join(outDir, 'server.log') });
    say(`VS Code server on ${server.origin} (pid ${server.pid}); logs in ${path.relative(REPO_ROOT, outDir)}`);
    browser = await launchChromium({ onConsole: (line) => browserLog.write(`${new Date().toISOString()} ${line}\n`) });
    const url = server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: REPO_ROOT, extensionTestsPath: SUITE });
    await browser.page.goto(url);
    say(`workbench opened; waiting for the suite (timeout ${Math.round(RUN_TIMEOUT_MS / 1000)} s)`);

    let suiteStarted = false;
    const progress = new FileTail(progressLogPath(resultsPath), (text) => {
      if (!suiteStarted) say('suite started');
      suiteStarted = true;
      process.stdout.write(text);
    });
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let hostExit: { match: RegExpMatchArray; at: number } | undefined;
    let hostLaunched = false;
    let serverExit: string | undefined;
    void server.exited.then(({ code, signal }) => (serverExit = `code ${code}, signal ${signal}`));
    let results: TestResults | undefined;
    let problem: string | undefined;

    for (;;) {
      progress.poll();
      results = readResults(resultsPath);
      if (results) break;
      if (!hostLaunched && /Launched Extension Host Process/.test(server.output())) {
        hostLaunched = true;
        say('extension host launched');
      }
      if (!hostExit) {
        const m = server.output().match(EXT_HOST_EXIT);
        if (m) hostExit = { match: m, at: Date.now() };
      }
      // The results file is written before run() settles; allow a moment anyway.
      if (hostExit && Date.now() - hostExit.at > 3000) {
        problem = `the extension host exited (code ${hostExit.match[1]}, signal ${hostExit.match[2]}) without writing ${path.relative(REPO_ROOT, resultsPath)}`;
        break;
      }
      if (serverExit) {
        problem = `the VS Code server exited (${serverExit}) before the suite finished`;
        break;
      }
      if (Date.now() > deadline) {
        problem = `timed out after ${Math.round(RUN_TIMEOUT_MS / 1000)} s waiting for the suite`;
        break;
      }
      await delay(200);
    }
    progress.poll();

    if (!results) {
      say(`server log (${path.relative(REPO_ROOT, server.logFile)}), last lines:\n${tail(server.output(), 60)}`);
      say(`browser console: ${path.relative(REPO_ROOT, path.join(outDir, 'browser-console.log'))}`);
    }
    return finishRun({ results, problem, reportAlreadyPrinted: progress.started, say });
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.stdout.write(`${summaryLine(undefined)}\n`);
    process.exit(1);
  },
);

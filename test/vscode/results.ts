// The contract between the extension-host test suite (test/extension/index.ts),
// which runs inside VS Code's extension host, and the launchers (test/vscode/run-*.ts),
// which run outside it. The suite writes:
//   - <resultsPath>.log : its spec-style report, appended line by line while it runs
//   - <resultsPath>     : the final TestResults JSON, written atomically when done
// The launcher passes <resultsPath> through the environment variable RESULTS_ENV.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const RESULTS_ENV = 'FASTSAM_VSCODE_TEST_RESULTS';
/** Optional Mocha grep (a plain string, matched against full titles). */
export const GREP_ENV = 'FASTSAM_VSCODE_TEST_GREP';
/** Optional per-test timeout in ms (default 20000). */
export const TEST_TIMEOUT_ENV = 'FASTSAM_VSCODE_TEST_TIMEOUT_MS';

export type TestState = 'passed' | 'failed' | 'pending';

export interface TestRecord {
  /** The test's own title ("activates"), or a hook's ('"before all" hook for "x"'). */
  title: string;
  /** Titles of the enclosing suites and the test, joined by spaces. */
  fullTitle: string;
  /** The test file (relative to test/extension/), when known. */
  file?: string;
  state: TestState;
  durationMs?: number;
  error?: { message: string; stack?: string };
}

export interface TestResults {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  vscodeVersion: string;
  nodeVersion: string;
  stats: { tests: number; passed: number; failed: number; pending: number };
  tests: TestRecord[];
  /** The whole spec-style report, as also streamed to <resultsPath>.log. */
  report: string;
  /** A failure outside any test (a test file that did not load, Mocha that threw). */
  error?: string;
}

export function progressLogPath(resultsPath: string): string {
  return `${resultsPath}.log`;
}

export function writeResultsAtomically(resultsPath: string, results: TestResults): void {
  const tmp = `${resultsPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(results, null, 2));
  fs.renameSync(tmp, resultsPath);
}

export function readResults(resultsPath: string): TestResults | undefined {
  if (!fs.existsSync(resultsPath)) return undefined;
  return JSON.parse(fs.readFileSync(resultsPath, 'utf8')) as TestResults;
}

/** Why a run counts as failed, or undefined when it passed. */
export function failureReason(results: TestResults): string | undefined {
  if (results.error) return results.error;
  if (results.stats.failed > 0) return `${results.stats.failed} test(s) failed`;
  if (results.stats.passed === 0) return 'no test ran';
  return undefined;
}

/** A closing line in the form CI tools recognise: "vscode: N passed, N failed, N skipped". */
export function summaryLine(results: TestResults | undefined): string {
  const s = results?.stats ?? { passed: 0, failed: 0, pending: 0 };
  const failed = s.failed + (results?.error || !results ? 1 : 0);
  return `vscode: ${s.passed} passed, ${failed} failed, ${s.pending} skipped`;
}

/** Follows a growing text file (the suite's progress log), handing new text to `onText`. */
export class FileTail {
  private offset = 0;
  constructor(
    private readonly file: string,
    private readonly onText: (text: string) => void,
  ) {}

  /** Reads whatever was appended since the last call. */
  poll(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      // Only hand over complete lines (and so complete UTF-8 sequences).
      const text = buf.subarray(0, n).toString('utf8');
      const end = text.lastIndexOf('\n') + 1;
      if (end === 0) return;
      this.offset += Buffer.byteLength(text.slice(0, end));
      this.onText(text.slice(0, end));
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether anything was read yet. */
  get started(): boolean {
    return this.offset > 0;
  }
}

/**
 * Prints the end of a run to stdout/stderr (the report, when it was not streamed;
 * the failed tests; the closing summary line) and returns the exit code.
 * `problem` is a failure found by the launcher itself (timeout, crash).
 */
export function finishRun(opts: {
  results: TestResults | undefined;
  problem?: string | undefined;
  reportAlreadyPrinted: boolean;
  say: (msg: string) => void;
}): number {
  const { results, say } = opts;
  let problem = opts.problem;
  if (results) {
    if (!opts.reportAlreadyPrinted) process.stdout.write(results.report);
    problem ??= failureReason(results);
    say(`suite ran in VS Code ${results.vscodeVersion} (Node ${results.nodeVersion}) in ${results.durationMs} ms`);
    for (const t of results.tests.filter((r) => r.state === 'failed')) say(`FAILED: ${t.fullTitle}${t.file ? ` (${t.file})` : ''}`);
  }
  if (problem) say(`FAILED: ${problem}`);
  process.stdout.write(`${summaryLine(results)}\n`);
  return problem ? 1 : 0;
}

/**
 * A fresh folder for one run's logs and results: <base>/<date-time>-<pid>, so that
 * runs in the same tree at the same time don't mix. <base>/latest links to it.
 * Keeps the 10 newest runs (and any from the last 30 minutes).
 */
export function createRunDir(base: string): string {
  fs.mkdirSync(base, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const dir = path.join(base, `${stamp}-${process.pid}`);
  fs.mkdirSync(dir);
  const runs = fs
    .readdirSync(base, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d{8}-\d{6}-\d+$/.test(e.name))
    .map((e) => ({ name: e.name, mtime: fs.statSync(path.join(base, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const r of runs.slice(10)) {
    if (Date.now() - r.mtime > 30 * 60_000) fs.rmSync(path.join(base, r.name), { recursive: true, force: true });
  }
  try {
    const tmp = path.join(base, `.latest-${process.pid}`);
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(path.basename(dir), tmp);
    fs.renameSync(tmp, path.join(base, 'latest'));
  } catch {
    // a convenience only
  }
  return dir;
}

// The extension-host test suite: VS Code calls run() inside the extension host
// (the `extensionTestsPath` contract shared by @vscode/test-electron and the
// VS Code server launcher). Bundled with every test/extension/*.test.ts into
// out/test/extension/index.js by test/extension/build.mjs.
//
// Test files use Mocha's BDD interface (describe/it/before/after/...), as globals.
// Results go to the file named by $FASTSAM_VSCODE_TEST_RESULTS (see test/vscode/results.ts).
import * as fs from 'node:fs';
import { findSourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import testFiles from 'virtual:extension-test-files';
import {
  GREP_ENV,
  RESULTS_ENV,
  TEST_TIMEOUT_ENV,
  progressLogPath,
  writeResultsAtomically,
  type TestRecord,
  type TestResults,
} from '../vscode/results';

const { EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING } =
  Mocha.Runner.constants;

/** Collects the report text, streaming each line to the progress log. */
class Report {
  private readonly lines: string[] = [];
  constructor(private readonly logFile: string | undefined) {
    if (logFile) fs.writeFileSync(logFile, '');
  }
  line(text = ''): void {
    this.lines.push(text);
    if (this.logFile) fs.appendFileSync(this.logFile, `${text}\n`);
  }
  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }
}

interface RecorderOptions {
  report: Report;
  records: TestRecord[];
}

/**
 * Maps the bundle positions in a stack trace to the .ts sources. (Node's own
 * source-map support is bypassed in the extension host, which installs its own
 * Error.prepareStackTrace; the maps are still loaded, see main.ts.)
 */
function mapStack(stack: string): string {
  return stack.replace(/((?:file:\/\/)?\/[^\s():]+\.js):(\d+):(\d+)/g, (all, file: string, line: string, col: string) => {
    try {
      const map = findSourceMap(file.startsWith('file://') ? fileURLToPath(file) : file);
      const entry = map?.findEntry(Number(line) - 1, Number(col) - 1);
      if (!entry || !('originalSource' in entry)) return all;
      const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource;
      return `${src}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    } catch {
      return all;
    }
  });
}

function errorInfo(err: unknown): { message: string; stack?: string } {
  if (err instanceof Error) return { message: err.message, ...(err.stack ? { stack: mapStack(err.stack) } : {}) };
  return { message: String(err) };
}

/** A Mocha reporter that records every test and writes a spec-style report. */
class Recorder extends Mocha.reporters.Base {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const { report, records } = options.reporterOptions as RecorderOptions;
    const failures: { test: Mocha.Runnable; err: unknown }[] = [];
    const startedMs = Date.now();
    let indent = 0;
    const pad = (): string => '  '.repeat(Math.max(0, indent - 1));
    const fileOf = (r: Mocha.Runnable): string | undefined => r.file ?? r.parent?.file;
    const record = (test: Mocha.Runnable, state: TestRecord['state'], err?: unknown): void => {
      const file = fileOf(test);
      records.push({
        title: test.title,
        fullTitle: test.fullTitle(),
        ...(file ? { file } : {}),
        state,
        ...(test.duration !== undefined ? { durationMs: test.duration } : {}),
        ...(err !== undefined ? { error: errorInfo(err) } : {}),
      });
    };

    runner.once(EVENT_RUN_BEGIN, () => report.line());
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      indent++;
      if (!suite.root) report.line(`${pad()}${suite.title}`);
    });
    runner.on(EVENT_SUITE_END, () => {
      indent--;
      if (indent === 1) report.line();
    });
    runner.on(EVENT_TEST_PENDING, (test: Mocha.Test) => {
      record(test, 'pending');
      report.line(`${pad()}  - ${test.title}`);
    });
    runner.on(EVENT_TEST_PASS, (test: Mocha.Test) => {
      record(test, 'passed');
      const slow = test.duration !== undefined && test.duration > test.slow() / 2 ? ` (${test.duration}ms)` : '';
      report.line(`${pad()}  ✔ ${test.title}${slow}`);
    });
    runner.on(EVENT_TEST_FAIL, (test: Mocha.Runnable, err: unknown) => {
      record(test, 'failed', err);
      failures.push({ test, err });
      report.line(`${pad()}  ${failures.length}) ${test.title}`);
    });
    runner.once(EVENT_RUN_END, () => {
      const passed = records.filter((r) => r.state === 'passed').length;
      const pending = records.filter((r) => r.state === 'pending').length;
      report.line(`  ${passed} passing (${Math.round(Date.now() - startedMs)}ms)`);
      if (pending) report.line(`  ${pending} pending`);
      if (failures.length) report.line(`  ${failures.length} failing`);
      failures.forEach(({ test, err }, i) => {
        const { message, stack } = errorInfo(err);
        report.line();
        report.line(`  ${i + 1}) ${test.fullTitle()}:`);
        // A stack starts with "Name: message"; print the message once.
        const body = stack && stack.includes(message) ? stack : `${message}\n${stack ?? ''}`;
        for (const l of body.trimEnd().split('\n')) report.line(`     ${l}`);
      });
      report.line();
    });
  }
}

export async function run(): Promise<void> {
  const startedAt = new Date();
  const resultsPath = process.env[RESULTS_ENV] || path.join(__dirname, 'results.json');
  fs.mkdirSync(path.dirname(resultsPath), { recursive: true });
  fs.rmSync(resultsPath, { force: true });
  const report = new Report(progressLogPath(resultsPath));
  const records: TestRecord[] = [];
  const errors: string[] = [];

  const timeout = Number(process.env[TEST_TIMEOUT_ENV] || 20_000);
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout });
  const grep = process.env[GREP_ENV];
  if (grep) mocha.grep(grep);
  mocha.reporter(Recorder, { report, records } satisfies RecorderOptions);

  for (const { file, load } of testFiles) {
    mocha.suite.emit('pre-require', globalThis as unknown as Mocha.MochaGlobals, file, mocha);
    try {
      load();
    } catch (err) {
      // Recorded as a failed test (so it fails the run), then the other files still run.
      const { message, stack } = errorInfo(err);
      records.push({ title: `load ${file}`, fullTitle: `load ${file}`, file, state: 'failed', error: { message, ...(stack ? { stack } : {}) } });
      report.line(`✖ ${file} did not load:\n${stack ?? message}`);
    }
    mocha.suite.emit('require', undefined, file, mocha);
    mocha.suite.emit('post-require', globalThis as unknown as Mocha.MochaGlobals, file, mocha);
  }

  try {
    await new Promise<number>((resolve) => mocha.run(resolve));
  } catch (err) {
    errors.push(`mocha failed: ${errorInfo(err).stack ?? errorInfo(err).message}`);
  }

  const count = (state: TestRecord['state']): number => records.filter((r) => r.state === state).length;
  const results: TestResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    vscodeVersion: vscode.version,
    nodeVersion: process.version,
    stats: { tests: records.length, passed: count('passed'), failed: count('failed'), pending: count('pending') },
    tests: records,
    report: report.text(),
    ...(errors.length ? { error: errors.join('\n') } : {}),
  };
  writeResultsAtomically(resultsPath, results);

  // Rejecting makes the extension host exit non-zero (what @vscode/test-electron reports).
  if (results.error || results.stats.failed > 0) {
    throw new Error(results.error ?? `${results.stats.failed} test(s) failed`);
  }
  if (results.stats.passed === 0) throw new Error('no test ran');
}

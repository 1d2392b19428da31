// A real VS Code, offline: the VS Code server build inside the npm package
// code-server (installed by scripts/vscode-server/install.sh into .vscode-test/),
// with its web workbench driven by Debian's Chromium through playwright-core.
//
//   const server = await startServer();
//   const browser = await launchChromium();
//   await browser.page.goto(server.workbenchUrl({ folder, extensionDevelopmentPath: REPO_ROOT }));
//   ...
//   await browser.close(); await server.stop();
//
// or, in one go: const vsc = await openWorkbench({ folder }); ... await vsc.close();
//
// Env: FASTSAM_VSCODE_TEST_DIR (cache folder, default <repo>/.vscode-test),
//      CHROMIUM_PATH (default /usr/bin/chromium), HEADED=1 (show the browser),
//      FASTSAM_VSCODE_SERVER_ECHO=1 (copy the server's output to stderr),
//      FASTSAM_KEEP_TEMP=1 (keep the temp user/server/extensions folders).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fastsam-vscode') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no fastsam-vscode package.json above ${__dirname}`);
  }
}

/** The repository root (the extension's folder: its extensionDevelopmentPath). */
export const REPO_ROOT = findRepoRoot();
/** The gitignored cache folder that install.sh fills. */
export const VSCODE_TEST_DIR = process.env.FASTSAM_VSCODE_TEST_DIR || path.join(REPO_ROOT, '.vscode-test');
/** The VS Code build inside code-server. */
export const VSCODE_DIR = path.join(VSCODE_TEST_DIR, 'code-server/node_modules/code-server/lib/vscode');
export const SERVER_MAIN = path.join(VSCODE_DIR, 'out/server-main.js');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Flags for Chromium on a machine without network (see shared notes). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const keepTemp = (): boolean => process.env.FASTSAM_KEEP_TEMP === '1';

/** Whether install.sh has run (the server entry point and Chromium are there). */
export function isInstalled(): boolean {
  return fs.existsSync(SERVER_MAIN) && fs.existsSync(CHROMIUM_PATH);
}

function assertInstalled(): void {
  if (!fs.existsSync(SERVER_MAIN)) {
    throw new Error(`VS Code server not found at ${SERVER_MAIN}: run \`bash scripts/vscode-server/install.sh\` first`);
  }
}

// ---------------------------------------------------------------------------
// Workbench URL

export interface WorkbenchUrlOptions {
  /** Absolute path of the folder to open (on this machine: the server is local). */
  folder?: string;
  /** Absolute path of an extension to load in development mode (usually REPO_ROOT). */
  extensionDevelopmentPath?: string;
  /** Absolute path of a compiled test module whose run() the extension host calls. */
  extensionTestsPath?: string;
  /** More [key, value] payload entries (values passed as they are). */
  payload?: ReadonlyArray<readonly [string, string]>;
}

/**
 * The workbench URL for a server at `origin` (http://127.0.0.1:PORT): `folder`,
 * plus a `payload` of extensionDevelopmentPath / extensionTestsPath as
 * vscode-remote:// URIs whose authority is the server's host:port.
 */
export function workbenchUrl(origin: string, options: WorkbenchUrlOptions = {}): string {
  const base = new URL(origin);
  const remote = (p: string): string => {
    if (!path.isAbsolute(p)) throw new Error(`not an absolute path: ${p}`);
    return `vscode-remote://${base.host}${p.split(path.sep).map(encodeURIComponent).join('/')}`;
  };
  const payload: [string, string][] = [];
  if (options.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(options.extensionDevelopmentPath)]);
  if (options.extensionTestsPath) payload.push(['extensionTestsPath', remote(options.extensionTestsPath)]);
  for (const [k, v] of options.payload ?? []) payload.push([k, v]);
  const url = new URL('/', base);
  if (options.folder) {
    if (!path.isAbsolute(options.folder)) throw new Error(`not an absolute path: ${options.folder}`);
    url.searchParams.set('folder', options.folder);
  }
  if (payload.length) url.searchParams.set('payload', JSON.stringify(payload));
  return url.toString();
}

// ---------------------------------------------------------------------------
// Workspace

/** Workspace settings that keep a test window quiet (no walkthrough, no recommendations). */
export const QUIET_WORKSPACE_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
};

export interface CreateWorkspaceOptions {
  /** Files to write, by path relative to the folder. */
  files?: Record<string, string | Uint8Array>;
  /** .vscode/settings.json, over QUIET_WORKSPACE_SETTINGS. */
  settings?: Record<string, unknown>;
  /** Parent folder (default: the OS temp folder). */
  parent?: string;
}

/** Makes a fresh temp folder to open in VS Code; the caller removes it (fs.rmSync(dir, { recursive: true })). */
export function createWorkspace(options: CreateWorkspaceOptions = {}): string {
  const dir = fs.mkdtempSync(path.join(options.parent ?? os.tmpdir(), 'fastsam-test-workspace-'));
  const files: Record<string, string | Uint8Array> = {
    '.vscode/settings.json': `${JSON.stringify({ ...QUIET_WORKSPACE_SETTINGS, ...options.settings }, null, 2)}\n`,
    ...options.files,
  };
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return dir;
}

// ---------------------------------------------------------------------------
// Server

export interface StartServerOptions {
  /** Extra environment for the server; it reaches the extension host it forks. */
  env?: Record<string, string | undefined>;
  /** Port to listen on; default 0: a free one, picked by the server itself. */
  port?: number;
  /** Where the server's stdout+stderr go (default: <temp>/server.log, removed by stop()). */
  logFile?: string;
  /** Copy the server's output to stderr (default: $FASTSAM_VSCODE_SERVER_ECHO === '1'). */
  echo?: boolean;
  /** How long to wait for "Web UI available" (default 60 s). */
  startTimeoutMs?: number;
  /** More server command-line arguments. */
  args?: string[];
}

export interface ServerDirs {
  /** The temp folder holding the three below (removed by stop()). */
  root: string;
  user: string;
  server: string;
  extensions: string;
}

export interface VSCodeServer {
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly pid: number;
  readonly process: ChildProcess;
  readonly dirs: ServerDirs;
  readonly logFile: string;
  /** Everything the server printed so far (extension host output included, "<pid>"-prefixed). */
  output(): string;
  /** Calls `listener` with each new chunk of output; returns an unsubscribe function. */
  onOutput(listener: (chunk: string) => void): () => void;
  /** Resolves when `re` matches the output printed so far or later (rejects on timeout or exit). */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Settles when the server process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The workbench URL for this server (see workbenchUrl()). */
  workbenchUrl(options?: WorkbenchUrlOptions): string;
  /** Stops the server and every process it started (its process group), removes the temp folders. */
  stop(): Promise<void>;
}

const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function serverEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Don't leak a surrounding VS Code (integrated terminal) or tsx's loader into the server.
  for (const k of Object.keys(env)) {
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE' || k === 'NODE_OPTIONS') delete env[k];
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Starts the VS Code server on 127.0.0.1 with fresh temp user/server/extensions folders. */
export async function startServer(options: StartServerOptions = {}): Promise<VSCodeServer> {
  assertInstalled();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsam-vscode-server-'));
  const dirs: ServerDirs = { root, user: path.join(root, 'user'), server: path.join(root, 'server'), extensions: path.join(root, 'extensions') };
  for (const d of [dirs.user, dirs.server, dirs.extensions]) fs.mkdirSync(d);
  const logFile = options.logFile ?? path.join(root, 'server.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.createWriteStream(logFile);
  const echo = options.echo ?? process.env.FASTSAM_VSCODE_SERVER_ECHO === '1';

  const args = [
    SERVER_MAIN,
    '--host', '127.0.0.1',
    '--port', String(options.port ?? 0),
    '--without-connection-token',
    '--accept-server-license-terms',
    '--disable-workspace-trust',
    '--disable-telemetry',
    // The extension host gets the server's environment as it is (no login-shell
    // environment resolution: faster, and the `env` passed here is what it sees).
    '--force-disable-user-env',
    '--user-data-dir', dirs.user,
    '--server-data-dir', dirs.server,
    '--extensions-dir', dirs.extensions,
    ...(options.args ?? []),
  ];
  // detached: the server leads a process group of its own, which its extension
  // hosts, pty hosts and file watchers join; stop() kills that group.
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: serverEnv(options.env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the VS Code server');
  liveGroups.add(pid);

  let output = '';
  const listeners = new Set<(chunk: string) => void>();
  const onChunk = (buf: Buffer): void => {
    const chunk = buf.toString('utf8');
    output += chunk;
    log.write(chunk);
    if (echo) process.stderr.write(chunk);
    for (const l of listeners) l(chunk);
  };
  child.stdout!.on('data', onChunk);
  child.stderr!.on('data', onChunk);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      liveGroups.delete(pid);
      resolve({ code, signal });
    });
  });

  const onOutput = (listener: (chunk: string) => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };

  let exitInfo: string | undefined;
  void exited.then(({ code, signal }) => (exitInfo = `exited with code ${code}, signal ${signal}`));

  const waitForOutput = (re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const now = output.match(re);
      if (now) return resolve(now);
      let seen = output.length;
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        off();
        fn();
      };
      const off = onOutput(() => {
        // Match over the new text plus a margin, so matches across chunks are found.
        const m = output.slice(Math.max(0, seen - 4096)).match(re);
        seen = output.length;
        if (m) done(() => resolve(m));
      });
      const timer = setTimeout(() => done(() => reject(new Error(`VS Code server: no output matching ${re} within ${timeoutMs} ms\n${tail(output)}`))), timeoutMs);
      void exited.then(() => done(() => reject(new Error(`VS Code server ${exitInfo} before printing ${re}\n${tail(output)}`))));
    });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (liveGroups.has(pid)) {
        killGroup(pid, 'SIGTERM');
        const timedOut = await Promise.race([exited.then(() => false), delay(5000).then(() => true)]);
        if (timedOut) killGroup(pid, 'SIGKILL');
        await exited;
      }
      // Children of the group that outlived the server (extension host, watchers).
      killGroup(pid, 'SIGKILL');
      await new Promise<void>((r) => log.end(r));
      // (The default log file lies in the temp folder: pass logFile to keep one.)
      if (!keepTemp()) fs.rmSync(root, { recursive: true, force: true });
    })());

  try {
    const m = await waitForOutput(/Web UI available at http:\/\/[^:\s]+:(\d+)/, options.startTimeoutMs ?? 60_000);
    const port = Number(m[1]);
    const origin = `http://127.0.0.1:${port}`;
    return {
      port,
      origin,
      pid,
      process: child,
      dirs,
      logFile,
      output: () => output,
      onOutput,
      waitForOutput,
      exited,
      workbenchUrl: (o?: WorkbenchUrlOptions) => workbenchUrl(origin, o),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Browser

export interface LaunchChromiumOptions {
  /** Default true, unless HEADED=1. */
  headless?: boolean;
  /** More Chromium flags, after CHROMIUM_ARGS. */
  args?: string[];
  /** Default 1400x900. */
  viewport?: { width: number; height: number };
  /** Called with each console message of the page (and uncaught page errors). */
  onConsole?: (line: string) => void;
}

export interface LaunchedChromium {
  /** A persistent context over a fresh temp user data dir. */
  context: BrowserContext;
  /** The context's first page. */
  page: Page;
  userDataDir: string;
  /** Closes the browser and removes its user data dir. */
  close(): Promise<void>;
}

/** Starts Debian's Chromium (CHROMIUM_PATH) through playwright-core, with a fresh temp profile. */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<LaunchedChromium> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run \`bash scripts/vscode-server/install.sh\` first`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsam-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: options.headless ?? process.env.HEADED !== '1',
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    viewport: options.viewport ?? { width: 1400, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const onConsole = options.onConsole;
  if (onConsole) {
    page.on('console', (msg) => onConsole(`[${msg.type()}] ${msg.text()}`));
    page.on('pageerror', (err) => onConsole(`[pageerror] ${err.stack ?? err.message}`));
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    page,
    userDataDir,
    close: () =>
      (closing ??= (async () => {
        await context.close().catch(() => undefined);
        if (!keepTemp()) fs.rmSync(userDataDir, { recursive: true, force: true });
      })()),
  };
}

/** Waits until the workbench is on screen in `page`. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
}

// ---------------------------------------------------------------------------
// Both together

export interface OpenWorkbenchOptions extends WorkbenchUrlOptions {
  server?: StartServerOptions;
  browser?: LaunchChromiumOptions;
  /** Wait for the workbench to be visible (default true). */
  waitForWorkbench?: boolean;
}

export interface OpenedWorkbench {
  server: VSCodeServer;
  browser: LaunchedChromium;
  page: Page;
  url: string;
  /** Closes the browser, then stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a server and a browser and opens the workbench. extensionDevelopmentPath
 * defaults to REPO_ROOT (pass '' for none).
 */
export async function openWorkbench(options: OpenWorkbenchOptions = {}): Promise<OpenedWorkbench> {
  const server = await startServer(options.server);
  let browser: LaunchedChromium | undefined;
  try {
    browser = await launchChromium(options.browser);
    const { extensionDevelopmentPath = REPO_ROOT } = options;
    const url = server.workbenchUrl({ ...options, ...(extensionDevelopmentPath ? { extensionDevelopmentPath } : {}) });
    await browser.page.goto(url);
    if (options.waitForWorkbench !== false) await waitForWorkbench(browser.page);
    const b = browser;
    return {
      server,
      browser: b,
      page: b.page,
      url,
      close: async () => {
        await b.close();
        await server.stop();
      },
    };
  } catch (err) {
    await browser?.close();
    await server.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * `npm start`: the extension, live, in a real VS Code you open in your browser.
 *
 * Makes sure what it needs exists (dist/ from `npm run build`, the palette fixture
 * model, the VS Code server from scripts/vscode-server/install.sh), fills a
 * workspace folder with a copy of samples/ (shape images and photos) whose
 * settings point `fastsam.modelPath` at the fixture model, starts the VS Code
 * server on 127.0.0.1 with this repository loaded as a development extension,
 * prints the URL to open, and runs until Ctrl+C, which stops the server.
 *
 *   npm start [-- --port N] [-- --workspace DIR]
 *
 * --port N        port on 127.0.0.1 (default 8470; 0 = any free one). If N is
 *                 taken, a free port is used instead.
 * --workspace DIR the folder to open (default .vscode-test/start-workspace). The
 *                 sample files in it are refreshed on each start; other files
 *                 (exported masks, your own images) are left alone.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { QUIET_WORKSPACE_SETTINGS, REPO_ROOT, SERVER_MAIN, startServer, tail, VSCODE_TEST_DIR } from '../test/vscode/server';

const DEFAULT_PORT = 8470;
const FIXTURE_MODEL = path.join(REPO_ROOT, 'models', 'fixtures', 'palette-fastsam.onnx');
const SAMPLES = path.join(REPO_ROOT, 'samples');
/** What the extension loads at run time: the host, its engine worker, the editor's webview, the engine's WebAssembly kernels. */
const DIST_FILES = ['extension.js', 'engine-worker.js', 'webview.js', 'kernels.wasm'].map((f) => path.join(REPO_ROOT, 'dist', f));

function say(message: string): void {
  process.stderr.write(`[start] ${message}\n`);
}

interface Options {
  port: number;
  workspace: string;
}

function usage(problem?: string): never {
  if (problem) say(problem);
  process.stderr.write('usage: npm start [-- --port N] [-- --workspace DIR]\n');
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const options: Options = { port: DEFAULT_PORT, workspace: path.join(VSCODE_TEST_DIR, 'start-workspace') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => inline ?? argv[++i] ?? usage(`${name} needs a value`);
    switch (name) {
      case '--port': {
        const v = value();
        const port = Number(v);
        if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port: not a port number: ${v}`);
        options.port = port;
        break;
      }
      case '--workspace':
        options.workspace = path.resolve(value());
        break;
      case '-h':
      case '--help':
        usage();
        break;
      default:
        usage(`unknown argument: ${arg}`);
    }
  }
  return options;
}

/** Runs a command with the terminal attached; exits this script when it fails. */
function run(what: string, command: string, args: string[]): void {
  say(`${what}: ${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`${what} failed (${r.error?.message ?? `exit code ${r.status}`})`);
    process.exit(1);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function ensurePrerequisites(): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (DIST_FILES.some((f) => !fs.existsSync(f))) {
    run('dist/ is incomplete, building', npm, ['run', 'build']);
  } else {
    // Only missing output is built; stale output is the developer's call (a watch build may be running), so just say so.
    const built = Math.min(...DIST_FILES.map((f) => fs.statSync(f).mtimeMs));
    if (newestMtime(path.join(REPO_ROOT, 'src')) > built) say('note: src/ has changed since dist/ was built; run `npm run build` to load the changes');
  }
  if (!fs.existsSync(FIXTURE_MODEL)) run('the fixture model is missing, generating it', npm, ['run', 'fixtures']);
  if (!fs.existsSync(SERVER_MAIN)) run('the VS Code server is not installed, installing it', 'bash', [path.join(REPO_ROOT, 'scripts', 'vscode-server', 'install.sh')]);
}

/**
 * A copy of samples/, not a link: the editor writes exports (`<stem>.mask.png`)
 * beside the image, and they belong in the scratch workspace, not in the repository.
 */
function prepareWorkspace(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of fs.readdirSync(SAMPLES, { withFileTypes: true })) {
    // samples/.vscode holds settings for opening samples/ in desktop VS Code; this folder gets its own.
    if (entry.name === '.vscode') continue;
    fs.cpSync(path.join(SAMPLES, entry.name), path.join(dir, entry.name), { recursive: true, force: true });
  }
  const settingsFile = path.join(dir, '.vscode', 'settings.json');
  let settings: Record<string, unknown> = {};
  try {
    settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // No settings yet, or not plain JSON: start over.
  }
  // The model path is set on every start (the repository may have moved); the user's other settings stay.
  settings = { ...QUIET_WORKSPACE_SETTINGS, ...settings, 'fastsam.modelPath': FIXTURE_MODEL };
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
}

/** `port` if it is free on 127.0.0.1, else 0 (the server then picks a free one). */
function usablePort(port: number): Promise<number> {
  if (port === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(0));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(port)));
  });
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  ensurePrerequisites();
  prepareWorkspace(options.workspace);

  const port = await usablePort(options.port);
  if (port !== options.port) say(`port ${options.port} is in use; using a free one`);
  const logFile = path.join(VSCODE_TEST_DIR, 'start-server.log');
  say('starting the VS Code server…');
  const server = await startServer({ port, logFile, startTimeoutMs: 120_000 });

  // Ctrl+C reaches this process (the server runs in a process group of its own); later
  // ones while stopping are ignored, so the cleanup is not cut short.
  let signalled = false;
  const stopRequested = new Promise<string>((resolve) => {
    const on = (why: string) => () => {
      if (signalled) return say('still stopping…');
      signalled = true;
      resolve(why);
    };
    process.on('SIGINT', on('Ctrl+C'));
    process.on('SIGTERM', on('SIGTERM'));
    process.on('SIGHUP', on('SIGHUP'));
  });

  const url = server.workbenchUrl({ folder: options.workspace, extensionDevelopmentPath: REPO_ROOT });
  process.stdout.write(
    [
      '',
      'FastSAM for VS Code is running in VS Code 1.100 (server build). Open this URL in a browser:',
      '',
      `  ${url}`,
      '',
      `Workspace: ${options.workspace}`,
      '  shapes/  images the configured palette fixture model segments (right-click one > Open in Segmentation Editor)',
      '  photos/  real photos: the fixture finds little or nothing in them; set fastsam.modelPath to a FastSAM ONNX export for those',
      `Server log: ${logFile}`,
      `Only this computer can connect (127.0.0.1). From another one: ssh -L ${server.port}:127.0.0.1:${server.port} <this host>, then open the URL there.`,
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );

  const outcome = await Promise.race([stopRequested.then((why) => ({ why })), server.exited.then((exit) => ({ exit }))]);
  if ('why' in outcome) {
    say(`${outcome.why}: stopping the VS Code server…`);
    await server.stop();
    say('stopped');
    return 0;
  }
  say(`the VS Code server exited by itself (code ${outcome.exit.code}, signal ${outcome.exit.signal}); last lines of its log:\n${tail(server.output(), 30)}`);
  await server.stop();
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

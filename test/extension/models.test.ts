/**
 * The model commands in a real VS Code. fastsam.modelDownloadMirror points at
 * a local HTTP server on 127.0.0.1 that serves a checkpoint in the official
 * FastSAM layout (the tiny fixture, padded to FastSAM-s's size class) with
 * Content-Length, an ETag and Range support, as GitHub's release CDN does:
 * "model missing" → Download → converted → segmenting in one flow;
 * cancelling leaves no model and a .part that the next download resumes; a
 * 404 and an unreachable mirror give the core's one-line messages; Manage
 * Models lists, uses and deletes; a .pt model path is converted when it loads.
 * The dialogs are answered through the test API.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ZipArchive } from '../../src/core/models/checkpoint/zip';
import type { ModelManifestEntry } from '../../src/core/models/manifest';
import { fallbackConvertedModelPath } from '../../src/core/models/model-paths';
import type { ManageOutcome, ModelSetupOutcome } from '../../src/extension/model-manager';
import type { ManageChoice, ModelAction, PickItem } from '../../src/extension/model-list';
import type { SegmentOutcome } from '../../src/extension/segmentation-editor';
import type { FastSamTestApi } from '../../src/extension/test-api';
import { paletteModelPath, TWO_SHAPES } from '../helpers/fixture-model';
import { makeReadOnly, undoReadOnly } from '../helpers/read-only-folder';
import { encodeScene } from '../helpers/shapes';
import { writeZip } from '../helpers/zip-writer';
import { activateTestApi, EXTENSION_ID, type Message, nextMessage } from './extension-api';

const VIEW_TYPE = 'fastsam.segmentationEditor';
const CHECKPOINT = path.resolve(__dirname, '../../models/fixtures/checkpoints/tiny-s.pt');
const SERVED = '/mirror/v8.3.0/FastSAM-s.pt';
const ETAG = '"fastsam-s-fixture"';

let api: FastSamTestApi;
let dir: string;
let body: Buffer;
let bodySha256: string;
let server: http.Server;
let base: string;
let requests: { path: string; range?: string; ifRange?: string }[] = [];
/** Set by a test: the download's answer sends this many bytes, calls onSent, and stalls until the client goes away. */
let stall: { bytes: number; onSent: () => void } | undefined;

function config(section = 'fastsam'): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(section);
}

/**
 * The tiny FastSAM-s-layout checkpoint with a 16 MB entry the converter never
 * reads: the manifest says FastSAM-s is about 23.8 MB, and the downloader
 * refuses a file under half of that (a proxy's page served instead).
 */
function fastSamSizedCheckpoint(): Buffer {
  const zip = ZipArchive.open(fs.readFileSync(CHECKPOINT));
  const entries = [...zip.entries.keys()].map((name) => ({ name, data: zip.read(name) }));
  entries.push({ name: 'tiny-s/padding', data: new Uint8Array(16_000_000) });
  return Buffer.from(writeZip(entries));
}

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  requests.push({ path: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers['if-range'] ? { ifRange: String(req.headers['if-range']) } : {}) });
  if (url.pathname !== SERVED) {
    res.writeHead(404).end('not here');
    return;
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range && req.headers['if-range'] === ETAG) {
    const start = Number(range[1]);
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, etag: ETAG });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length, etag: ETAG, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' });
  if (stall) {
    res.write(body.subarray(0, stall.bytes), stall.onSent);
    return;
  }
  res.end(body);
}

/** Every status message sent to the webview of `uri` until `stop()`. */
function recordStatus(uri: vscode.Uri): { statuses: Message<'status'>[]; stop(): void } {
  const statuses: Message<'status'>[] = [];
  const sub = api.onDidPostMessage(({ resource, message }) => {
    if (resource.toString() === uri.toString() && message.type === 'status') statuses.push(message);
  });
  return { statuses, stop: () => sub.dispose() };
}

async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

async function writeImage(name: string): Promise<vscode.Uri> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, await encodeScene(TWO_SHAPES, 'png'));
  return vscode.Uri.file(file);
}

const modelFile = (name = 'FastSAM-s.pt'): string => path.join(api.modelsFolder, name);

function removeDownloads(): void {
  for (const f of fs.existsSync(api.modelsFolder) ? fs.readdirSync(api.modelsFolder) : []) fs.rmSync(path.join(api.modelsFolder, f), { force: true });
}

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('model commands', function () {
  this.timeout(180_000);

  before(async () => {
    api = await activateTestApi();
    body = fastSamSizedCheckpoint();
    bodySha256 = createHash('sha256').update(body).digest('hex');
    server = http.createServer(serve);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.tmpdir();
    dir = fs.mkdtempSync(path.join(root, 'models-test-'));
    removeDownloads();
    await config().update('modelDownloadMirror', `${base}/mirror`, vscode.ConfigurationTarget.Global);
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    api?.setModelPrompts(undefined);
    await closeAll();
    await config().update('modelDownloadMirror', undefined, vscode.ConfigurationTarget.Global);
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    if (api) removeDownloads();
    server?.closeAllConnections();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    requests = [];
    stall = undefined;
  });

  afterEach(() => api.setModelPrompts(undefined));

  it('contributes Download Model…, Manage Models… and fastsam.modelDownloadMirror', async () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      contributes: { commands: { command: string; title: string; category: string }[]; configuration: { properties: Record<string, { type: string; default: unknown }> } };
    };
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const [id, title] of [['fastsam.downloadModel', 'Download Model…'], ['fastsam.manageModels', 'Manage Models…']]) {
      const c = pkg.contributes.commands.find((x) => x.command === id);
      assert.deepEqual(c && [c.title, c.category], [title, 'FastSAM']);
      assert.ok(registered.has(id!), `${id} is not registered`);
    }
    const mirror = pkg.contributes.configuration.properties['fastsam.modelDownloadMirror'];
    assert.deepEqual(mirror && [mirror.type, mirror.default], ['string', '']);
  });

  it('model missing → Download → converted → segmenting, in one flow (with the license confirmed)', async () => {
    await closeAll();
    const uri = await writeImage('first.png');
    const missing = nextMessage(api, uri, 'modelMissing');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    const m = await missing;
    assert.equal(m.canDownload, true);

    const confirmed: { id: string; license: string; size: string }[] = [];
    const failures: string[] = [];
    api.setModelPrompts({
      confirmDownload: async (entry, size) => {
        confirmed.push({ id: entry.id, license: entry.license, size });
        return true;
      },
      downloadFailed: async (message) => {
        failures.push(message);
        return undefined;
      },
    });
    const rec = recordStatus(uri);
    const segmentation = nextMessage(api, uri, 'segmentation');
    await api.receive(uri, { type: 'downloadModel' });
    const seg = await segmentation;
    rec.stop();

    assert.deepEqual(failures, []);
    assert.deepEqual(confirmed, [{ id: 'fastsam-s', license: 'AGPL-3.0', size: 'about 23.8 MB' }]);
    assert.deepEqual([seg.width, seg.height, seg.cached], [320, 240, false]);
    // Downloaded from the mirror in one request, recorded, converted next to it, selected.
    assert.deepEqual(requests, [{ path: SERVED }]);
    const onnx = modelFile('FastSAM-s.pt.onnx');
    assert.equal(config().inspect('modelPath')?.globalValue, onnx);
    assert.equal(createHash('sha256').update(fs.readFileSync(modelFile())).digest('hex'), bodySha256);
    const record = JSON.parse(fs.readFileSync(modelFile('FastSAM-s.pt.download.json'), 'utf8')) as { sha256: string; size: number; url: string; modelId: string };
    assert.deepEqual([record.modelId, record.sha256, record.size, record.url], ['fastsam-s', bodySha256, body.length, `${base}${SERVED}`]);
    assert.ok(fs.statSync(onnx).size > 100_000);
    assert.ok(!fs.existsSync(modelFile('FastSAM-s.pt.part')));

    // The editor showed the download and the conversion, then the model in use.
    const messages = rec.statuses.filter((s) => s.phase === 'loading-model').map((s) => s.message ?? '');
    assert.ok(messages.some((s) => /^Downloading FastSAM-s\.pt: [\d.]+ MB of 17\.\d MB \(\d+%\)$/.test(s)), messages.join(' | '));
    assert.ok(messages.some((s) => s.startsWith('Converting FastSAM-s.pt to ONNX…')), messages.join(' | '));
    const last = rec.statuses.at(-1)!;
    assert.deepEqual([last.phase, last.model, last.executionProvider], ['ready', 'FastSAM-s.pt.onnx', 'cpu']);
  });

  it('cancelling leaves no model and a resumable .part; the next download (from the quick pick) resumes it', async () => {
    removeDownloads();
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    let sent = false;
    stall = { bytes: 6_000_000, onSent: () => (sent = true) };
    api.setModelPrompts({ confirmDownload: async () => true, downloadFailed: async () => undefined });
    const download = vscode.commands.executeCommand<ModelSetupOutcome>('fastsam.downloadModel', 'fastsam-s');
    const part = modelFile('FastSAM-s.pt.part');
    await until('the first 6 MB on disk', () => sent && fs.existsSync(part) && fs.statSync(part).size >= 6_000_000);
    assert.equal(api.cancelModelDownloads(), true);
    assert.deepEqual(await download, { status: 'cancelled' });
    assert.ok(!fs.existsSync(modelFile()), 'no model file');
    assert.ok(!fs.existsSync(modelFile('FastSAM-s.pt.onnx')));
    assert.ok(fs.existsSync(modelFile('FastSAM-s.pt.part.json')), 'resume data kept');
    const kept = fs.statSync(part).size;
    assert.ok(kept >= 6_000_000 && kept < body.length, `${kept} bytes kept`);
    assert.equal(config().inspect('modelPath')?.globalValue, undefined);
    assert.equal(api.cancelModelDownloads(), false, 'nothing runs any more');

    stall = undefined;
    requests = [];
    let offered: PickItem<ModelManifestEntry>[] = [];
    const sizes: string[] = [];
    api.setModelPrompts({
      pickModelToDownload: async (items) => {
        offered = [...items];
        return items.find((i) => i.value.id === 'fastsam-s')!.value;
      },
      confirmDownload: async (_entry, size) => {
        sizes.push(size);
        return true;
      },
      downloadFailed: async () => undefined,
    });
    const outcome = await vscode.commands.executeCommand<ModelSetupOutcome>('fastsam.downloadModel');
    assert.deepEqual(outcome, { status: 'ready', modelPath: modelFile('FastSAM-s.pt.onnx'), downloaded: true, converted: true });
    // The quick pick: name, size and state, the license in the detail.
    assert.deepEqual(offered.map((i) => [i.label, i.description]), [
      ['FastSAM-s', `about 23.8 MB · ${(kept / 1e6).toFixed(1)} MB downloaded, resumes`],
      ['FastSAM-x', 'about 138.0 MB'],
    ]);
    assert.ok(offered.every((i) => /AGPL-3\.0 license/.test(i.detail ?? '')));
    assert.match(sizes[0] ?? '', /already downloaded/);
    // Only the rest was asked for.
    assert.deepEqual(requests, [{ path: SERVED, range: `bytes=${kept}-`, ifRange: ETAG }]);
    assert.equal(createHash('sha256').update(fs.readFileSync(modelFile())).digest('hex'), bodySha256);
    assert.equal(config().inspect('modelPath')?.globalValue, modelFile('FastSAM-s.pt.onnx'));
  });

  it('a 404 from every source gives the core’s one-line message, in a notification and in the editor’s panel', async () => {
    const failures: string[] = [];
    api.setModelPrompts({ confirmDownload: async () => true, downloadFailed: async (m) => (failures.push(m), undefined) });
    const outcome = await vscode.commands.executeCommand<ModelSetupOutcome>('fastsam.downloadModel', 'fastsam-x');
    const expected =
      `Downloading FastSAM-x.pt failed: ${base}/mirror/v8.1.0/FastSAM-x.pt answered HTTP 404 Not Found (none of its 3 sources has it). ` +
      'Download FastSAM-x.pt elsewhere and set fastsam.modelPath to it.';
    assert.deepEqual(outcome, { status: 'failed', message: expected });
    assert.deepEqual(failures, [expected]);
    assert.deepEqual(requests.map((r) => r.path), ['/mirror/v8.3.0/FastSAM-x.pt', '/mirror/v8.2.0/FastSAM-x.pt', '/mirror/v8.1.0/FastSAM-x.pt']);
    assert.ok(!fs.existsSync(modelFile('FastSAM-x.pt')) && !fs.existsSync(modelFile('FastSAM-x.pt.part')));

    // The editor's Download with a mirror that lacks FastSAM-s: the panel comes back with the message.
    const saved = config().inspect<string>('modelPath')?.globalValue;
    try {
      await closeAll();
      removeDownloads();
      await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
      await config().update('modelDownloadMirror', `${base}/empty/`, vscode.ConfigurationTarget.Global);
      const uri = await writeImage('no-mirror.png');
      const missing = nextMessage(api, uri, 'modelMissing');
      await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
      await missing;
      const again = nextMessage(api, uri, 'modelMissing');
      await api.receive(uri, { type: 'downloadModel' });
      const panel = await again;
      assert.equal(panel.canDownload, true);
      assert.match(panel.message, new RegExp(`^Downloading FastSAM-s\\.pt failed: ${base}/empty/v8\\.1\\.0/FastSAM-s\\.pt answered HTTP 404 Not Found`));
      assert.equal(failures.length, 2);
    } finally {
      await config().update('modelDownloadMirror', `${base}/mirror`, vscode.ConfigurationTarget.Global);
      await config().update('modelPath', saved, vscode.ConfigurationTarget.Global);
    }
  });

  it('an unreachable mirror says so (offline), after the retries', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const failures: string[] = [];
    try {
      await config().update('modelDownloadMirror', `http://127.0.0.1:${port}/`, vscode.ConfigurationTarget.Global);
      api.setModelPrompts({ confirmDownload: async () => true, downloadFailed: async (m) => (failures.push(m), undefined) });
      const outcome = await vscode.commands.executeCommand<ModelSetupOutcome>('fastsam.downloadModel', 'fastsam-x');
      const expected = 'Cannot reach 127.0.0.1: you appear to be offline. Download FastSAM-x.pt elsewhere and set fastsam.modelPath to it.';
      assert.deepEqual(outcome, { status: 'failed', message: expected });
      assert.deepEqual(failures, [expected]);
    } finally {
      await config().update('modelDownloadMirror', `${base}/mirror`, vscode.ConfigurationTarget.Global);
    }
  });

  it('Manage Models… lists the downloaded model (size, SHA-256, in use or not) and the others; Use selects it; Delete removes it', async () => {
    removeDownloads();
    api.setModelPrompts({ confirmDownload: async () => true, downloadFailed: async () => undefined });
    assert.equal((await vscode.commands.executeCommand<ModelSetupOutcome>('fastsam.downloadModel', 'fastsam-s')).status, 'ready');
    const palette = await paletteModelPath();
    await config().update('modelPath', palette, vscode.ConfigurationTarget.Global);
    await closeAll();
    const uri = await writeImage('managed.png');
    const first = nextMessage(api, uri, 'segmentation');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await first;

    let listed: PickItem<ManageChoice>[] = [];
    let actions: ModelAction[] = [];
    const manage = async (action: ModelAction): Promise<ManageOutcome> => {
      api.setModelPrompts({
        pickManagedModel: async (items) => {
          listed = [...items];
          return items.find((i) => i.value.kind === 'model')?.value;
        },
        pickModelAction: async (_model, items) => {
          actions = items.map((i) => i.value);
          return action;
        },
        confirmDelete: async () => true,
        downloadFailed: async () => undefined,
      });
      return (await vscode.commands.executeCommand<ManageOutcome>('fastsam.manageModels'))!;
    };

    // Not in use: Use selects it, and the open editor segments with it.
    const withDownloaded = nextMessage(api, uri, 'status', (s) => s.phase === 'ready' && s.model === 'FastSAM-s.pt.onnx');
    assert.deepEqual(await manage('use'), { status: 'ready', modelPath: modelFile('FastSAM-s.pt.onnx'), downloaded: false, converted: false });
    assert.deepEqual(listed.map((i) => [i.group, i.label, i.description, i.detail]), [
      ['Downloaded', 'FastSAM-s', `${(body.length / 1e6).toFixed(1)} MB · not in use`, `SHA-256 ${bodySha256} (recorded at download)`],
      ['Available', 'Download FastSAM-x…', 'about 138.0 MB', listed[1]?.detail],
    ]);
    assert.deepEqual(actions, ['use', 'reveal', 'delete']);
    assert.equal(config().inspect('modelPath')?.globalValue, modelFile('FastSAM-s.pt.onnx'));
    await withDownloaded;

    // In use: no Use; Delete removes its files, clears the setting, and the editor says the model is missing.
    const missing = nextMessage(api, uri, 'modelMissing');
    const deleted = await manage('delete');
    assert.equal(listed[0]?.description, `${(body.length / 1e6).toFixed(1)} MB · in use`);
    assert.deepEqual(actions, ['reveal', 'delete']);
    assert.deepEqual(deleted, { status: 'deleted', files: [modelFile(), modelFile('FastSAM-s.pt.download.json'), modelFile('FastSAM-s.pt.onnx')] });
    assert.deepEqual(fs.readdirSync(api.modelsFolder), []);
    assert.equal(config().inspect('modelPath')?.globalValue, undefined);
    assert.equal((await missing).canDownload, true);
  });

  it('a .pt model path is converted when it loads ("Converting FastSAM-s.pt to ONNX…"), next to it or, read-only, in the extension’s storage', async function () {
    const local = path.join(dir, 'checkpoints');
    fs.mkdirSync(local);
    const checkpoint = path.join(local, 'FastSAM-s.pt');
    fs.copyFileSync(CHECKPOINT, checkpoint);
    await closeAll();
    await config().update('modelPath', checkpoint, vscode.ConfigurationTarget.Global);
    const uri = await writeImage('checkpoint.png');
    const rec = recordStatus(uri);
    const segmentation = nextMessage(api, uri, 'segmentation');
    await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
    await segmentation;
    rec.stop();
    assert.ok(
      rec.statuses.some((s) => s.phase === 'loading-model' && s.message === 'Converting FastSAM-s.pt to ONNX…'),
      rec.statuses.map((s) => `${s.phase}: ${s.message ?? ''}`).join(' | '),
    );
    assert.equal(rec.statuses.at(-1)?.model, 'FastSAM-s.pt');
    assert.ok(fs.existsSync(`${checkpoint}.onnx`));

    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked);
    const readOnly = path.join(locked, 'FastSAM-s.pt');
    fs.copyFileSync(CHECKPOINT, readOnly);
    if (!makeReadOnly(locked)) this.skip();
    try {
      await config().update('modelPath', readOnly, vscode.ConfigurationTarget.Global);
      const outcome = await vscode.commands.executeCommand<SegmentOutcome>('fastsam.segmentEverything', uri);
      assert.equal(outcome?.status, 'segmented');
      assert.deepEqual(fs.readdirSync(locked), ['FastSAM-s.pt']);
      assert.ok(fs.existsSync(fallbackConvertedModelPath(readOnly, path.join(path.dirname(api.modelsFolder), 'conversions'))));
    } finally {
      undoReadOnly(locked);
    }
  });
});

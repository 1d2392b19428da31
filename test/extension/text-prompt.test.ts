/**
 * The editor's text prompt in a real VS Code: `fastsam.clipModel` names the
 * clip-palette fixture (a stand-in CLIP whose embeddings are about palette
 * colors, models/fixtures/README.md), given relative to the workspace folder;
 * the test API speaks for the webview and reads the worker's CLIP counters.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as vscode from 'vscode';
import type { HostToWebview } from '../../src/shared/protocol';
import type { FastSamTestApi } from '../../src/extension/test-api';
import { clipFixturePath } from '../helpers/clip-fixture';
import { paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { encodeScene, type RGB, type Scene } from '../helpers/shapes';
import { activateTestApi, EXTENSION_ID, type Message, nextMessage } from './extension-api';

const VIEW_TYPE = 'fastsam.segmentationEditor';

const [red, , blue] = paletteColors as [RGB, RGB, RGB];

const SHAPES: Scene = {
  width: 480,
  height: 360,
  background: [255, 255, 255],
  shapes: [
    { kind: 'rect', color: red, x: 30, y: 40, w: 160, h: 120 },
    { kind: 'ellipse', color: blue, x: 260, y: 150, w: 170, h: 170 },
  ],
};

let api: FastSamTestApi;
let root: string;
let dir: string;
let image: vscode.Uri;

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('fastsam');
}

/** Every message sent to the webview of `uri` until the `textResult` of `requestId`, which ends the list. */
function untilTextResult(uri: vscode.Uri, requestId: number, timeoutMs = 90_000): Promise<HostToWebview[]> {
  return new Promise((resolve, reject) => {
    const messages: HostToWebview[] = [];
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no textResult ${requestId} within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = api.onDidPostMessage(({ resource, message }) => {
      if (resource.toString() !== uri.toString()) return;
      messages.push(message);
      if (message.type === 'textResult' && message.requestId === requestId) {
        clearTimeout(timer);
        sub.dispose();
        resolve(messages);
      }
    });
  });
}

async function query(text: string, requestId: number): Promise<{ result: Message<'textResult'>; progress: string[] }> {
  const done = untilTextResult(image, requestId);
  await api.receive(image, { type: 'textQuery', text, requestId });
  const messages = await done;
  return {
    result: messages.at(-1) as Message<'textResult'>,
    progress: messages.filter((m): m is Message<'textProgress'> => m.type === 'textProgress' && m.requestId === requestId).map((m) => m.message),
  };
}

/** The id of the mask whose box is the drawn shape's (within 2 pixels). */
function maskFor(segmentation: Message<'segmentation'>, shape: Scene['shapes'][number]): number {
  const drawn = [shape.x, shape.y, shape.x + shape.w, shape.y + shape.h];
  const m = segmentation.masks.find((w) => w.box.every((v, i) => Math.abs(v - drawn[i]!) <= 2));
  assert.ok(m, `no mask for the shape at [${drawn}]: ${segmentation.masks.map((w) => `[${w.box.map((v) => v.toFixed(0))}]`).join(' ')}`);
  return m.id;
}

describe('text prompt', function () {
  this.timeout(180_000);
  let segmentation: Message<'segmentation'>;

  before(async () => {
    api = await activateTestApi();
    root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.tmpdir();
    dir = fs.mkdtempSync(path.join(root, 'text-prompt-test-'));
    // In the workspace, so that the setting can name it relative to the workspace folder.
    fs.cpSync(await clipFixturePath(), path.join(dir, 'clip-palette'), { recursive: true });
    const file = path.join(dir, 'shapes.png');
    fs.writeFileSync(file, await encodeScene(SHAPES, 'png'));
    image = vscode.Uri.file(file);
    await config().update('modelPath', await paletteModelPath(), vscode.ConfigurationTarget.Global);
    await config().update('clipModel', path.relative(root, path.join(dir, 'clip-palette')), vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await config().update('clipModel', undefined, vscode.ConfigurationTarget.Global);
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('contributes fastsam.clipModel with the ViT-B/32 default', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } };
    assert.equal(pkg.contributes.configuration.properties['fastsam.clipModel']?.default, 'Xenova/clip-vit-base-patch32');
  });

  it('answers a query before Everything has run with an error, loading nothing', async () => {
    await config().update('segmentOnOpen', false, vscode.ConfigurationTarget.Global);
    try {
      const init = new Promise<void>((resolve) => {
        const sub = api.onDidPostMessage(({ resource, message }) => {
          if (resource.toString() === image.toString() && message.type === 'init') {
            sub.dispose();
            resolve();
          }
        });
      });
      await vscode.commands.executeCommand('vscode.openWith', image, VIEW_TYPE);
      await init;
      const before = await api.clipCounters();
      const { result } = await query('blue', 100);
      assert.deepEqual(result.ranked, []);
      assert.match(result.error ?? '', /run Everything first/);
      assert.deepEqual(await api.clipCounters(), before);
    } finally {
      await config().update('segmentOnOpen', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  });

  it('"blue" selects the blue shape\'s mask; a second query runs only the text model', async () => {
    const segmented = new Promise<Message<'segmentation'>>((resolve) => {
      const sub = api.onDidPostMessage(({ resource, message }) => {
        if (resource.toString() === image.toString() && message.type === 'segmentation') {
          sub.dispose();
          resolve(message);
        }
      });
    });
    await vscode.commands.executeCommand('vscode.openWith', image, VIEW_TYPE);
    segmentation = await segmented;
    const blueId = maskFor(segmentation, SHAPES.shapes[1]!);
    const redId = maskFor(segmentation, SHAPES.shapes[0]!);

    const start = await api.clipCounters();
    const first = await query('blue', 1);
    assert.equal(first.result.error, undefined, first.result.error);
    assert.equal(first.result.ranked[0]?.id, blueId, `ranked ${JSON.stringify(first.result.ranked)}`);
    assert.ok(first.result.ranked[0]!.score > 0.5);
    const sum = first.result.ranked.reduce((a, r) => a + r.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `scores sum to ${sum}`);
    const afterFirst = await api.clipCounters();
    assert.equal(afterFirst.loads, start.loads + 1, 'CLIP loaded for the first query');
    assert.ok(first.progress.includes('Loading CLIP…'), `progress: ${first.progress.join(' | ')}`);
    assert.ok(first.progress.some((p) => /^Embedding \d+ masks…$/.test(p)), `progress: ${first.progress.join(' | ')}`);
    assert.ok(afterFirst.visionRuns > start.visionRuns, 'the masks were embedded');
    assert.equal(afterFirst.imagesEmbedded - start.imagesEmbedded, segmentation.masks.length);

    const second = await query('the red one', 2);
    assert.equal(second.result.error, undefined, second.result.error);
    assert.equal(second.result.ranked[0]?.id, redId);
    const afterSecond = await api.clipCounters();
    assert.equal(afterSecond.visionRuns, afterFirst.visionRuns, 'no vision model run for the same image');
    assert.equal(afterSecond.textRuns, afterFirst.textRuns + 1, 'one text model run');
    assert.equal(afterSecond.loads, afterFirst.loads, 'CLIP stays loaded');
    assert.ok(!second.progress.includes('Loading CLIP…'));
  });

  it('a query while the file has changed on disk (its reload still settling) is refused, not answered from other pixels', async () => {
    // The same pixels in other bytes: a new content hash, the same masks once it is segmented again.
    const segmentedAgain = nextMessage(api, image, 'segmentation');
    fs.writeFileSync(image.fsPath, await sharp(image.fsPath).png({ compressionLevel: 1 }).toBuffer());
    const answer = await query('blue', 3);
    assert.match(answer.result.error ?? '', /shapes\.png changed on disk since it was segmented: search again once its masks are updated/);
    segmentation = await segmentedAgain;
    const again = await query('blue', 4);
    assert.equal(again.result.error, undefined, again.result.error);
    assert.equal(again.result.ranked[0]?.id, maskFor(segmentation, SHAPES.shapes[1]!));
  });

  it('a missing CLIP folder is a clear one-line error; fixing the setting makes it work again', async () => {
    const missing = path.join(dir, 'no-such-clip');
    await config().update('clipModel', missing, vscode.ConfigurationTarget.Global);
    const { result } = await query('blue', 3);
    assert.deepEqual(result.ranked, []);
    assert.equal(result.error, `CLIP model folder "${missing}" does not exist`);

    await config().update('clipModel', path.join(dir, 'clip-palette'), vscode.ConfigurationTarget.Global);
    const before = await api.clipCounters();
    const again = await query('blue', 4);
    assert.equal(again.result.error, undefined, again.result.error);
    assert.equal(again.result.ranked[0]?.id, maskFor(segmentation, SHAPES.shapes[1]!));
    assert.equal((await api.clipCounters()).loads, before.loads + 1, 'another model path is loaded anew');
  });
});

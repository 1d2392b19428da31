/**
 * Export in a real VS Code: the Explorer's "FastSAM: Export Masks…" on folders
 * and selections of generated shape images (every chosen format, progress,
 * cancel and continue, a failing file, existing files, the settings, no
 * model), and the segmentation editor's Export in several formats. Dialogs are
 * answered through the test API; the notification's Cancel is the test API's
 * cancelExport (the UI test, test/ui/export-masks.ui.ts, clicks the real one).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as vscode from 'vscode';
import { DATASET_FILE_NAME } from '../../src/core/export/batch';
import { EXPORT_FORMAT_IDS, type ExportFormatId, planOutputs } from '../../src/core/export/format-names';
import { fallbackConvertedModelPath } from '../../src/core/models/model-paths';
import type { BatchExportOutcome } from '../../src/extension/batch-export';
import type { FormatPickRequest, Prompts } from '../../src/extension/prompts';
import { revealWay } from '../../src/extension/reveal';
import type { EditorExportOutcome } from '../../src/extension/segmentation-editor';
import type { FastSamTestApi } from '../../src/extension/test-api';
import { paletteColors, paletteModelPath } from '../helpers/fixture-model';
import { makeReadOnly, undoReadOnly } from '../helpers/read-only-folder';
import { encodeScene, randomScene, type RGB, type Scene } from '../helpers/shapes';
import { activateTestApi, EXTENSION_ID, type Message, nextMessage, shownResultId } from './extension-api';

const VIEW_TYPE = 'fastsam.segmentationEditor';
const SEED = 4242;
/** A FastSAM-s shaped checkpoint with random weights (models/fixtures/README.md). */
const CHECKPOINT = path.resolve(__dirname, '../../models/fixtures/checkpoints/tiny-s.pt');

let api: FastSamTestApi;
let root: string;
let workspaceFolder: string;
let modelPath: string;
let folderCount = 0;

const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('fastsam');

/** A new folder of `count` shape images (every third in a subfolder) and a text file that is no image. */
async function imageFolder(count: number): Promise<{ folder: string; images: string[]; scenes: Map<string, Scene> }> {
  const folder = path.join(root, `set-${++folderCount}`);
  const images: string[] = [];
  const scenes = new Map<string, Scene>();
  for (let i = 0; i < count; i++) {
    const file = path.join(folder, ...(i % 3 === 2 ? ['sub', `shape-${i}.png`] : [`shape-${i}.png`]));
    const scene = randomScene(SEED + folderCount * 100 + i, 320, 240, paletteColors);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, await encodeScene(scene, 'png'));
    images.push(file);
    scenes.set(file, scene);
  }
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  // In the batch's order: by path below the folder, code unit by code unit (sub/ after shape-*).
  images.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { folder, images, scenes };
}

/** The files the formats write for these images, beside them. */
const planned = (images: readonly string[], formats: readonly ExportFormatId[]): string[] => images.flatMap((i) => planOutputs(i, formats).map((t) => t.path));

/** Answers to Export Masks…'s questions; asking one that is not scripted fails the test. */
function script(answers: { formats?: ExportFormatId[]; existing?: 'skip' | 'overwrite' | 'dismiss'; asked?: string[]; requests?: FormatPickRequest[] } & Partial<Prompts>): void {
  const { formats, existing, asked = [], requests = [], ...rest } = answers;
  api.setPrompts({
    pickExportFormats: async (r) => {
      requests.push(r);
      asked.push('formats');
      return formats;
    },
    whenOutputsExist: async (withFiles, images) => {
      asked.push(`existing ${withFiles} of ${images}`);
      if (!existing) throw new Error(`unexpected question: ${withFiles} of ${images} images have files`);
      return existing === 'dismiss' ? undefined : existing;
    },
    ...rest,
  });
}

/** Runs Export Masks… as the Explorer does: the item right-clicked and the selection. */
function exportMasks(uri: vscode.Uri, uris: vscode.Uri[] = [uri]): Thenable<BatchExportOutcome> {
  return vscode.commands.executeCommand<BatchExportOutcome>('fastsam.exportMasks', uri, uris);
}

function done(outcome: BatchExportOutcome): Extract<BatchExportOutcome, { status: 'done' }> {
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  return outcome as Extract<BatchExportOutcome, { status: 'done' }>;
}

/** Every progress message of the notification from now until stop(). */
function recordProgress(onMessage?: (m: string) => void): { messages: string[]; stop(): void } {
  const messages: string[] = [];
  const sub = api.onDidReportExportProgress((m) => {
    messages.push(m);
    onMessage?.(m);
  });
  return { messages, stop: () => sub.dispose() };
}

const mtimes = (files: readonly string[]): number[] => files.map((f) => fs.statSync(f).mtimeMs);

describe('export', function () {
  this.timeout(300_000);

  before(async () => {
    api = await activateTestApi();
    modelPath = await paletteModelPath();
    workspaceFolder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.tmpdir();
    root = fs.mkdtempSync(path.join(workspaceFolder, 'export-test-'));
    await config().update('modelPath', modelPath, vscode.ConfigurationTarget.Global);
    // The shapes span a tenth of the image or more: 640 finds them, in less time.
    await config().update('imageSize', 640, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    api?.setPrompts(undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const key of ['modelPath', 'imageSize']) await config().update(key, undefined, vscode.ConfigurationTarget.Global);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  describe('Export Masks… (Explorer)', function () {
    afterEach(async () => {
      api.setPrompts(undefined);
      api.cancelExport();
      for (const key of ['formats', 'outputFolder', 'fileNames', 'polygonTolerance', 'cocoSegmentation']) {
        if (config().inspect(`export.${key}`)?.globalValue !== undefined) await config().update(`export.${key}`, undefined, vscode.ConfigurationTarget.Global);
      }
    });

    it('is a command, registered, in the Explorer’s context menu for folders and images', async () => {
      const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
        contributes: { commands: { command: string; title: string; category: string }[]; menus: Record<string, { command: string; when: string }[]> };
      };
      const command = pkg.contributes.commands.find((c) => c.command === 'fastsam.exportMasks');
      assert.deepEqual(command && [command.title, command.category], ['Export Masks…', 'FastSAM']);
      const menu = pkg.contributes.menus['explorer/context']?.find((m) => m.command === 'fastsam.exportMasks');
      assert.match(menu?.when ?? '', /^explorerResourceIsFolder \|\| resourceExtname =~/);
      assert.ok((await vscode.commands.getCommands(true)).includes('fastsam.exportMasks'));
    });

    it('a folder: every chosen format of every image in it and its subfolders, with progress and a summary', async () => {
      const { folder, images } = await imageFolder(6);
      const requests: FormatPickRequest[] = [];
      const asked: string[] = [];
      script({ formats: [...EXPORT_FORMAT_IDS], requests, asked });
      const progress = recordProgress();
      const outcome = done(await exportMasks(vscode.Uri.file(folder)));
      progress.stop();

      assert.deepEqual(asked, ['formats'], 'no question about existing files when there are none');
      assert.equal(requests[0]!.title, `Export Masks of ${path.basename(folder)}`);
      assert.deepEqual(requests[0]!.files, { mask: '{stem}.mask.png', index: '{stem}.masks.png', coco: '{stem}.coco.json', yolo: '{stem}.txt', labelme: '{stem}.json', cutout: '{stem}.cutout.png', overlay: '{stem}.overlay.png' });
      assert.equal(outcome.message, 'Exported 6 images (0 skipped, 0 failed)');
      assert.deepEqual([outcome.summary.total, outcome.summary.written, outcome.summary.failed.length], [6, 6, 0]);
      assert.equal(outcome.summary.dataset?.status, 'written');
      assert.equal(outcome.output, folder, 'Reveal Output shows the folder');
      for (const file of [...planned(images, EXPORT_FORMAT_IDS), path.join(folder, DATASET_FILE_NAME)]) assert.ok(fs.existsSync(file), `${file} was written`);
      assert.equal(fs.existsSync(path.join(folder, 'notes.mask.png')), false, 'the text file is no image');

      // "n of N — file — about M s left": each image once, in order; an estimate once one image is done.
      const counted = progress.messages.filter((m) => /^\d+ of 6/.test(m));
      assert.deepEqual(counted.map((m) => Number(/^(\d+) of/.exec(m)![1])), [0, 1, 2, 3, 4, 5, 6], progress.messages.join('\n'));
      const relative = (f: string) => vscode.workspace.asRelativePath(f, false);
      assert.equal(counted[0], `0 of 6 — ${relative(images[0]!)}`);
      assert.match(counted[3]!, new RegExp(`^3 of 6 — ${relative(images[3]!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} — about \\d+ (s|min) left$`));
      assert.equal(counted[6], '6 of 6');

      // The last choice is checked the next time.
      script({ formats: ['mask'], requests, existing: 'skip' });
      await exportMasks(vscode.Uri.file(folder));
      assert.deepEqual(requests[1]!.preselected, [...EXPORT_FORMAT_IDS]);
    });

    it('cancelled half-way, run again: completes the set without rewriting what was finished', async () => {
      const { folder, images } = await imageFolder(8);
      const formats: ExportFormatId[] = ['mask', 'coco', 'overlay'];
      script({ formats });
      const progress = recordProgress((m) => {
        if (m.startsWith('3 of 8')) api.cancelExport();
      });
      const first = done(await exportMasks(vscode.Uri.file(folder)));
      progress.stop();
      assert.deepEqual(first.summary.stopped, { reason: 'cancelled' });
      const finished = first.summary.written;
      assert.ok(finished >= 3 && finished < 8, `${finished} images before the cancel took effect`);
      assert.match(first.message, new RegExp(`^Export cancelled: ${finished} images exported \\(0 skipped, 0 failed\\), ${8 - finished} not reached\\.`));
      const written = planned(images.slice(0, finished), formats);
      assert.deepEqual(
        planned(images, formats).filter((f) => fs.existsSync(f)),
        written,
        'the first images have all their files, the others none',
      );
      assert.equal(fs.existsSync(path.join(folder, DATASET_FILE_NAME)), false);
      const before = mtimes(written);

      const asked: string[] = [];
      script({ formats, existing: 'skip', asked });
      const second = done(await exportMasks(vscode.Uri.file(folder)));
      assert.deepEqual(asked, ['formats', `existing ${finished} of 8`]);
      assert.equal(second.message, `Exported ${8 - finished} images (${finished} skipped, 0 failed)`);
      for (const file of planned(images, formats)) assert.ok(fs.existsSync(file), file);
      assert.ok(fs.existsSync(path.join(folder, DATASET_FILE_NAME)));
      assert.deepEqual(mtimes(written), before, 'finished files were not written again');
    });

    it('a file that fails is skipped and reported; the others are exported', async () => {
      const { folder, images } = await imageFolder(3);
      const broken = path.join(folder, 'broken.png');
      fs.writeFileSync(broken, 'this is not a PNG');
      script({ formats: ['mask'] });
      const outcome = done(await exportMasks(vscode.Uri.file(folder)));
      assert.equal(outcome.message, 'Exported 3 images (0 skipped, 1 failed)');
      assert.equal(outcome.summary.failed.length, 1);
      assert.equal(outcome.summary.failed[0]!.image, broken);
      assert.match(outcome.summary.failed[0]!.message, /broken\.png/);
      for (const file of planned(images, ['mask'])) assert.ok(fs.existsSync(file), file);
      assert.equal(fs.existsSync(path.join(folder, 'broken.mask.png')), false);
    });

    it('existing files: kept unless Overwrite is chosen; dismissing the question exports nothing', async () => {
      const { folder, images } = await imageFolder(2);
      const [mine, other] = planned(images, ['mask']);
      fs.writeFileSync(mine!, 'mine');

      script({ formats: ['mask'], existing: 'dismiss' });
      assert.deepEqual(await exportMasks(vscode.Uri.file(folder)), { status: 'dismissed' });
      assert.equal(fs.existsSync(other!), false);

      const asked: string[] = [];
      script({ formats: ['mask'], existing: 'skip', asked });
      const skipped = done(await exportMasks(vscode.Uri.file(folder)));
      assert.deepEqual(asked, ['formats', 'existing 1 of 2']);
      assert.equal(skipped.message, 'Exported 1 image (1 skipped, 0 failed)');
      assert.equal(fs.readFileSync(mine!, 'utf8'), 'mine');
      assert.ok(fs.existsSync(other!));

      script({ formats: ['mask'], existing: 'overwrite' });
      const replaced = done(await exportMasks(vscode.Uri.file(folder)));
      assert.equal(replaced.message, 'Exported 2 images (0 skipped, 0 failed)');
      const meta = await sharp(mine!).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 320, 240, 1]);
    });

    it('a selection of images and folders, as the Explorer passes it (uri, uris): only their images', async () => {
      const a = await imageFolder(2);
      const b = await imageFolder(3);
      const text = vscode.Uri.file(path.join(a.folder, 'notes.txt'));
      const selection = [vscode.Uri.file(a.images[0]!), vscode.Uri.file(b.folder), text];
      script({ formats: ['index'] });
      const outcome = done(await exportMasks(selection[0]!, selection));
      assert.deepEqual([outcome.summary.total, outcome.summary.written], [4, 4]);
      for (const file of planned([a.images[0]!, ...b.images], ['index'])) assert.ok(fs.existsSync(file), file);
      assert.equal(fs.existsSync(planOutputs(a.images[1]!, ['index'])[0]!.path), false, 'an image not selected');
    });

    it('settings: an output folder relative to the workspace folder, file names with a subfolder, COCO polygons', async () => {
      const { folder, images, scenes } = await imageFolder(3);
      const out = path.relative(workspaceFolder, path.join(root, 'exported'));
      await config().update('export.outputFolder', out, vscode.ConfigurationTarget.Global);
      await config().update('export.fileNames', { mask: 'masks/{stem}.png' }, vscode.ConfigurationTarget.Global);
      await config().update('export.cocoSegmentation', 'polygon', vscode.ConfigurationTarget.Global);
      const requests: FormatPickRequest[] = [];
      script({ formats: ['mask', 'coco'], requests });
      const outcome = done(await exportMasks(vscode.Uri.file(folder)));
      assert.equal(requests[0]!.files.mask, 'masks/{stem}.png');
      assert.equal(outcome.summary.written, 3);
      const exported = path.join(workspaceFolder, out);
      assert.equal(outcome.output, exported);
      const files = fs.readdirSync(exported, { recursive: true }).map(String).sort();
      assert.deepEqual(files, [DATASET_FILE_NAME, 'masks', 'masks/shape-0.png', 'masks/shape-1.png', 'shape-0.coco.json', 'shape-1.coco.json', 'sub', 'sub/masks', 'sub/masks/shape-2.png', 'sub/shape-2.coco.json']);
      const coco = JSON.parse(fs.readFileSync(path.join(exported, 'shape-0.coco.json'), 'utf8')) as { annotations: { segmentation: unknown }[] };
      assert.equal(coco.annotations.length, scenes.get(images[0]!)!.shapes.length);
      assert.ok(coco.annotations.every((a) => Array.isArray(a.segmentation)), 'polygons, as set');

      // Run again over the whole folder tree, outputs included: they are no images to segment.
      script({ formats: ['mask', 'coco'], existing: 'skip' });
      const again = done(await exportMasks(vscode.Uri.file(root), [vscode.Uri.file(folder), vscode.Uri.file(exported)]));
      assert.equal(again.summary.total, 3, 'masks/*.png under the output folder are outputs, not images');
    });

    it('a relative output folder that would differ between the selected items is refused before any question, writing nothing', async () => {
      // Outside the workspace a relative folder is taken from each item's own folder: two folders, two outputs.
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsam-outside-'));
      const items = ['a', 'b'].map((name) => path.join(outside, name, 'shape.png'));
      for (const [i, file] of items.entries()) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, await encodeScene(randomScene(SEED + 900 + i, 200, 150, paletteColors), 'png'));
      }
      await config().update('export.outputFolder', 'masks', vscode.ConfigurationTarget.Global);
      const asked: string[] = [];
      script({ formats: ['index'], asked });
      try {
        const outcome = await exportMasks(vscode.Uri.file(items[0]!), items.map((f) => vscode.Uri.file(f)));
        assert.equal(outcome.status, 'failed');
        assert.match((outcome as { message: string }).message, /"masks" \(fastsam\.export\.outputFolder\) is relative.*a[\\/]masks.*b[\\/]masks.*one folder at a time/);
        assert.deepEqual(asked, [], 'no question asked');
        for (const name of ['a', 'b']) assert.deepEqual(fs.readdirSync(path.join(outside, name)), ['shape.png']);
      } finally {
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });

    it('Reveal Output: the Explorer for the workspace, the OS file manager on a local desktop, else the path copied', () => {
      const desktop = { remoteName: undefined, uiKind: vscode.UIKind.Desktop };
      assert.equal(revealWay(true, { remoteName: 'ssh-remote', uiKind: vscode.UIKind.Desktop }), 'explorer');
      assert.equal(revealWay(false, desktop), 'file-manager');
      assert.equal(revealWay(false, { ...desktop, remoteName: 'ssh-remote' }), 'copy-path', 'a remote window has no file manager for remote files');
      assert.equal(revealWay(false, { ...desktop, uiKind: vscode.UIKind.Web }), 'copy-path');
    });

    it('without a model: says so, offering one (as the editor does), and runs nothing', async () => {
      const { folder, images } = await imageFolder(1);
      await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
      try {
        script({ formats: ['mask'] });
        const outcome = await exportMasks(vscode.Uri.file(folder));
        assert.equal(outcome.status, 'model-missing');
        assert.match(outcome.status === 'model-missing' ? outcome.message : '', /^No FastSAM model is configured/);
        assert.equal(fs.existsSync(planned(images, ['mask'])[0]!), false);
      } finally {
        await config().update('modelPath', modelPath, vscode.ConfigurationTarget.Global);
      }
    });

    it('a checkpoint (.pt) model path: converted before the batch (in the extension’s storage when its folder is read-only)', async function () {
      const { folder, images } = await imageFolder(2);
      const locked = path.join(root, 'locked-model');
      fs.mkdirSync(locked);
      const checkpoint = path.join(locked, 'batch-s.pt');
      fs.copyFileSync(CHECKPOINT, checkpoint);
      const readOnly = makeReadOnly(locked);
      try {
        await config().update('modelPath', checkpoint, vscode.ConfigurationTarget.Global);
        script({ formats: ['mask'] });
        const progress = recordProgress();
        const outcome = done(await exportMasks(vscode.Uri.file(folder)));
        progress.stop();
        // The fixture checkpoint has random weights: what it finds does not matter here, only that it ran.
        assert.deepEqual([outcome.summary.written, outcome.summary.failed.length], [2, 0], JSON.stringify(outcome.summary.failed));
        for (const file of planned(images, ['mask'])) assert.ok(fs.existsSync(file), file);
        assert.ok(
          progress.messages.some((m) => /^Converting batch-s\.pt to ONNX… \d+%$/.test(m)),
          progress.messages.join('\n'),
        );
        const conversions = path.join(path.dirname(api.modelsFolder), 'conversions');
        if (readOnly) {
          assert.deepEqual(fs.readdirSync(locked), ['batch-s.pt']);
          assert.ok(fs.existsSync(fallbackConvertedModelPath(checkpoint, conversions)));
        } else {
          assert.ok(fs.existsSync(`${checkpoint}.onnx`));
        }
      } finally {
        undoReadOnly(locked);
        await config().update('modelPath', modelPath, vscode.ConfigurationTarget.Global);
      }
    });

    it('one at a time: a second run while the first asks is refused; Cancel while a question is open runs nothing', async () => {
      const { folder, images } = await imageFolder(1);
      let answer!: (formats: ExportFormatId[]) => void;
      const asked = new Promise<void>((resolveAsked) => {
        api.setPrompts({
          pickExportFormats: () =>
            new Promise<ExportFormatId[]>((resolve) => {
              answer = resolve;
              resolveAsked();
            }),
        });
      });
      const first = exportMasks(vscode.Uri.file(folder));
      await asked;
      const second = await exportMasks(vscode.Uri.file(folder));
      assert.equal(second.status, 'busy');
      assert.equal(api.cancelExport(), true, 'the first run can be cancelled while it asks');
      answer(['mask']);
      assert.deepEqual(await first, { status: 'dismissed' });
      assert.equal(fs.existsSync(planned(images, ['mask'])[0]!), false);
    });

    it('dismissing the formats, or a folder without images, exports nothing', async () => {
      const { folder } = await imageFolder(1);
      script({ formats: undefined });
      assert.deepEqual(await exportMasks(vscode.Uri.file(folder)), { status: 'dismissed' });
      const empty = path.join(root, 'empty');
      fs.mkdirSync(empty);
      fs.writeFileSync(path.join(empty, 'readme.md'), '# no images');
      script({ formats: ['mask'] });
      const outcome = await exportMasks(vscode.Uri.file(empty));
      assert.equal(outcome.status, 'no-images');
      assert.deepEqual(fs.readdirSync(empty), ['readme.md']);
    });
  });

  describe('the segmentation editor’s Export in several formats', function () {
    const [red, blue, green] = paletteColors as [RGB, RGB, RGB];
    const scene: Scene = {
      width: 400,
      height: 300,
      background: [255, 255, 255],
      shapes: [
        { kind: 'rect', color: red, x: 30, y: 40, w: 150, h: 110 },
        { kind: 'ellipse', color: blue, x: 220, y: 120, w: 150, h: 150 },
        { kind: 'rect', color: green, x: 40, y: 190, w: 120, h: 90 },
      ],
    };
    let uri: vscode.Uri;
    let folder: string;
    const formats: ExportFormatId[] = ['mask', 'coco', 'labelme', 'cutout'];
    const files = (suffix = ''): string[] =>
      ['editor.mask.png', 'editor.coco.json', 'editor.json', 'editor.cutout.png'].map((n) => path.join(folder, n.replace(/(\.[a-z]+)$/, `${suffix}$1`)));

    before(async () => {
      folder = path.join(root, 'editor');
      fs.mkdirSync(folder, { recursive: true });
      uri = vscode.Uri.file(path.join(folder, 'editor.png'));
      fs.writeFileSync(uri.fsPath, await encodeScene(scene, 'png'));
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const segmentation = nextMessage(api, uri, 'segmentation');
      await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
      assert.equal((await segmentation).masks.length, 3);
    });

    async function exportSelection(ids: number[]): Promise<{ outcome: EditorExportOutcome; done: Message<'exportDone'> }> {
      await api.receive(uri, { type: 'selectionChanged', maskIds: ids, resultId: shownResultId(uri) });
      const doneMessage = nextMessage(api, uri, 'exportDone');
      const outcome = await vscode.commands.executeCommand<EditorExportOutcome>('fastsam.exportSelection');
      return { outcome, done: await doneMessage };
    }

    it('writes the chosen formats of the selection together, the last choice checked next time', async () => {
      const requests: FormatPickRequest[] = [];
      const asked: string[] = [];
      api.setPrompts({
        pickExportFormats: async (r) => {
          requests.push(r);
          return formats;
        },
        whenExists: async (target) => {
          asked.push(target);
          return 'cancel';
        },
      });
      const { outcome, done: message } = await exportSelection([0, 2]);
      assert.deepEqual(asked, [], 'nothing was in the way');
      assert.deepEqual(outcome, { status: 'written', path: files()[0], paths: files() });
      assert.deepEqual(message, { type: 'exportDone', ok: true, paths: files() });
      assert.equal(requests[0]!.title, 'Export 2 selected masks of editor.png');
      assert.equal(requests[0]!.files.coco, 'editor.coco.json');
      const coco = JSON.parse(fs.readFileSync(files()[1]!, 'utf8')) as { annotations: { bbox: number[] }[]; images: { file_name: string }[] };
      assert.deepEqual(coco.images[0]!.file_name, 'editor.png');
      // The selection's order: the red rectangle, then the green one (within 3 pixels: the model sees the image at 640).
      const drawn = [
        [30, 40, 150, 110],
        [40, 190, 120, 90],
      ];
      assert.equal(coco.annotations.length, 2);
      coco.annotations.forEach((a, i) => assert.ok(a.bbox.every((v, k) => Math.abs(v - drawn[i]![k]!) <= 3), `annotation ${i}: bbox [${a.bbox}] vs drawn [${drawn[i]}]`));
      const cutout = await sharp(files()[3]!).metadata();
      assert.deepEqual([cutout.width, cutout.height, cutout.channels], [400, 300, 4]);

      assert.deepEqual((await exportSelection([1])).outcome, { status: 'cancelled' });
      assert.deepEqual(requests[1]?.preselected, formats);
      assert.deepEqual(asked, [files()[0]]);
    });

    it('existing files: asked once for the set; Keep Both numbers the whole set, Cancel writes nothing, Overwrite replaces', async () => {
      const asked: string[][] = [];
      let answer: 'keep-both' | 'cancel' | 'overwrite' = 'keep-both';
      api.setPrompts({
        pickExportFormats: async () => formats,
        whenExists: async (target, also = []) => {
          asked.push([target, ...also]);
          return answer;
        },
      });
      const kept = await exportSelection([1]);
      assert.deepEqual(asked, [files()]);
      assert.deepEqual(kept.outcome, { status: 'written', path: files('-1')[0], paths: files('-1') });

      answer = 'cancel';
      const listing = fs.readdirSync(folder).sort();
      const cancelled = await exportSelection([1]);
      assert.deepEqual(cancelled.outcome, { status: 'cancelled' });
      assert.equal(cancelled.done.ok, false);
      assert.deepEqual(fs.readdirSync(folder).sort(), listing);

      answer = 'overwrite';
      const before = fs.readFileSync(files()[1]!, 'utf8');
      const replaced = await exportSelection([1]);
      assert.deepEqual(replaced.outcome, { status: 'written', path: files()[0], paths: files() });
      assert.notEqual(fs.readFileSync(files()[1]!, 'utf8'), before, 'the COCO file now holds the blue ellipse');
    });

    it('the webview’s export of everything: every mask, largest first, in the index PNG', async () => {
      api.setPrompts({ pickExportFormats: async () => ['index'], whenExists: async () => 'overwrite' });
      const doneMessage = nextMessage(api, uri, 'exportDone');
      await api.receive(uri, { type: 'export', scope: 'everything', maskIds: [], resultId: shownResultId(uri) });
      const index = path.join(folder, 'editor.masks.png');
      assert.deepEqual(await doneMessage, { type: 'exportDone', ok: true, paths: [index] });
      const { data, info } = await sharp(index).raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number) => data[(y * info.width + x) * info.channels]!;
      // Largest first: the ellipse (≈17,700 px), the red rectangle (16,500), the green one (10,800).
      assert.deepEqual([at(295, 195), at(105, 95), at(100, 235), at(5, 5)], [1, 2, 3, 0]);
    });

    it('dismissing the formats writes nothing', async () => {
      api.setPrompts({ pickExportFormats: async () => undefined });
      const listing = fs.readdirSync(folder).sort();
      const { outcome, done: message } = await exportSelection([0]);
      assert.deepEqual(outcome, { status: 'cancelled' });
      assert.deepEqual(message, { type: 'exportDone', ok: false, cancelled: true, message: 'Export cancelled.' });
      assert.deepEqual(fs.readdirSync(folder).sort(), listing);
    });
  });
});

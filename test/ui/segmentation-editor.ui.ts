/**
 * The segmentation editor as a user meets it, in a real VS Code in Chromium,
 * with the palette fixture model and the shape images of samples/shapes (whose
 * scenes are the ground truth):
 *
 *  - `npm start` itself: the URL it prints, the workspace it makes, the Explorer's
 *    "Open in Segmentation Editor", segment on open, hover, click, Shift-click,
 *    the Point tool with a background point, the Box tool, undo/redo (buttons
 *    and keys), Export Selection compared with the drawn shape, and Ctrl+C;
 *  - no model configured: the command palette's "Open in Segmentation Editor" on
 *    the active image (an EXIF-rotated JPEG), Everything, the model-missing panel,
 *    "Choose model file…" through VS Code's file dialog, then hover, click and the
 *    palette's "Export Selection" in the displayed orientation;
 *  - the text prompt: T, a typed query and Enter select the matching shape, the
 *    ranking shows as alternatives with the text score, and Undo walks back.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import sharp from 'sharp';
import { sampleShape } from '../../scripts/sample-shapes';
import { formatZoom } from '../../src/webview/format';
import { fitView, type Point } from '../../src/webview/viewport';
import { maskIoU, type Scene, shapeMask } from '../helpers/shapes';
import { createWorkspace, launchChromium, REPO_ROOT, startServer, waitForWorkbench, type LaunchedChromium } from '../vscode/server';
import { FIXTURE_MODEL, type Scenario, type ScenarioContext } from './harness';
import {
  acceptQuickPick,
  activeTabTitle,
  announcement,
  checkedItems,
  chooseInFileDialog,
  contextMenu,
  delay,
  editorFrame,
  expandFolder,
  explorerRow,
  fixtureMaskId,
  hoveredMask,
  notification,
  pagePosition,
  runCommand,
  SEGMENT_TIMEOUT,
  selectedIds,
  shapeCentre,
  stage,
  stagePosition,
  UI_TIMEOUT,
  waitForHovered,
  waitForOverlay,
  waitForRendered,
  waitForQuickPick,
  waitForSelection,
  waitForText,
} from './workbench';

/** The IoU an exported mask must reach with the drawn shape (the fixture's bound for shapes this size). */
const EXPORT_IOU = 0.95;

// ---- shared steps ------------------------------------------------------------------------

interface Browser extends LaunchedChromium {
  /** Console lines of the page and its frames (the webview's included), as written to browser-console.log. */
  readonly console: string[];
}

async function openBrowser(t: ScenarioContext): Promise<Browser> {
  const consoleLog = fs.createWriteStream(path.join(t.dir, 'browser-console.log'));
  const lines: string[] = [];
  const browser = await launchChromium({
    onConsole: (line) => {
      lines.push(line);
      consoleLog.write(`${new Date().toISOString()} ${line}\n`);
    },
  });
  t.cleanup(async () => {
    await browser.close();
    consoleLog.end();
  });
  return { ...browser, console: lines };
}

/**
 * The webview's scripts ran without an uncaught error and nothing was blocked by
 * its Content Security Policy. (The workbench's own offline noise, such as failed
 * marketplace queries, is not about the extension and is not checked.)
 */
function assertNoWebviewErrors(browser: Browser): void {
  const bad = browser.console.filter((l) => /Content Security Policy|^\[pageerror\]/.test(l));
  assert.deepEqual(bad, [], 'CSP violations or uncaught errors in the browser console');
}

async function waitForMaskCount(f: FrameLocator, n: number): Promise<void> {
  const count = f.locator('.status-item.mask-count:not([hidden])');
  await count.waitFor({ timeout: SEGMENT_TIMEOUT });
  assert.equal((await count.innerText()).trim(), `${n} masks`);
  await waitForRendered(f);
}

/**
 * The editor is fitted (how it opens): its zoom label is the fitted zoom that
 * stagePosition() assumes, so pointer positions computed from image points are right.
 */
async function assertFitted(f: FrameLocator, scene: Scene): Promise<void> {
  const size = await stage(f).evaluate((el) => ({ width: el.clientWidth, height: el.clientHeight }));
  await waitForText(f.locator('.zoom-level'), formatZoom(fitView(scene, size).zoom), 'the editor shows the image fitted (zoom label)');
}

/**
 * Hovers image point `p` and checks that the status line's cursor read-out is
 * there, give or take a pixel: mouse events carry whole CSS pixels, so the
 * pointer lands up to one CSS pixel from the computed position.
 */
async function hoverImagePoint(f: FrameLocator, scene: Scene, p: Point): Promise<void> {
  await stage(f).hover({ position: await stagePosition(f, scene, p) });
  const cursor = f.locator('.status-item.cursor-info');
  const near = (text: string): boolean => {
    const m = /^(\d+), (\d+)$/.exec(text.trim());
    return !!m && Math.abs(Number(m[1]) - p.x) <= 1.5 && Math.abs(Number(m[2]) - p.y) <= 1.5;
  };
  const deadline = Date.now() + UI_TIMEOUT;
  while (!near(await cursor.innerText())) {
    if (Date.now() > deadline) throw new Error(`pointer at image ${p.x}, ${p.y}: the status line says "${await cursor.innerText()}"`);
    await delay(100);
  }
}

async function clickImagePoint(f: FrameLocator, scene: Scene, p: Point, options: { button?: 'left' | 'right'; modifiers?: ('Shift' | 'Alt')[] } = {}): Promise<void> {
  await stage(f).click({ position: await stagePosition(f, scene, p), ...options });
}

async function toolButton(f: FrameLocator, name: 'Everything' | 'Point' | 'Box'): Promise<void> {
  const button = f.getByRole('button', { name, exact: true });
  await button.click();
  await f.locator(`.toolbar button[aria-label="${name}"][aria-pressed="true"]`).waitFor({ timeout: UI_TIMEOUT });
}

async function toolbarButton(f: FrameLocator, label: 'Undo' | 'Redo' | 'Clear selection and prompts'): Promise<void> {
  await f.locator(`.toolbar button[aria-label="${label}"]`).click();
}

async function waitForFile(file: string, timeout = UI_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} was not written within ${timeout} ms`);
    await delay(200);
  }
}

/** An exported mask PNG as 0/1 per pixel, with its size. */
async function readMask(file: string): Promise<{ mask: Uint8Array; width: number; height: number; values: Set<number> }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const mask = new Uint8Array(info.width * info.height);
  const values = new Set<number>();
  for (let i = 0; i < mask.length; i++) {
    const v = data[i * info.channels]!;
    values.add(v);
    mask[i] = v > 127 ? 1 : 0;
  }
  return { mask, width: info.width, height: info.height, values };
}

async function assertExportMatches(file: string, scene: Scene, shapeIndex: number): Promise<string> {
  const got = await readMask(file);
  assert.deepEqual([got.width, got.height], [scene.width, scene.height], 'the mask has the image size as displayed');
  assert.ok([...got.values].every((v) => v === 0 || v === 255), `a binary mask (values ${[...got.values].join(', ')})`);
  const iou = maskIoU(got.mask, shapeMask(scene, shapeIndex));
  assert.ok(iou >= EXPORT_IOU, `IoU with the drawn shape ${iou.toFixed(4)} < ${EXPORT_IOU}`);
  // Every other shape is outside the export.
  scene.shapes.forEach((_, i) => {
    if (i !== shapeIndex) assert.ok(maskIoU(got.mask, shapeMask(scene, i)) < 0.05, `shape ${i} is not in the export`);
  });
  return `IoU ${iou.toFixed(4)}`;
}

// ---- npm start ---------------------------------------------------------------------------

interface StartProcess {
  child: ChildProcess;
  url: Promise<string>;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start`'s script, as npm runs it, on a scratch workspace and any free port. */
function spawnStart(workspace: string, logFile: string): StartProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'start.ts'), '--port', '0', '--workspace', workspace], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(logFile);
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => log.end());
  const url = new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer): void => {
      output += b.toString();
      log.write(b);
      const m = /^\s*(http:\/\/\S+)\s*$/m.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`npm start exited (code ${code}, signal ${signal}) before printing a URL:\n${output}`)));
  });
  url.catch(() => undefined);
  return { child, url, output: () => output, exited };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, delay(ms).then(() => Promise.reject(new Error(`${what}: no answer within ${ms} ms`)))]);
}

/** Whether something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(3000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** This machine's non-loopback IPv4 addresses. */
function externalAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

const npmStart: Scenario = {
  id: 'npm-start',
  title: 'npm start: the demo workspace in VS Code; hover, click, point, box, undo/redo, export on shapes.png',
  async run(t) {
    const sample = sampleShape('shapes.png');
    const scene = sample.scene;
    const [RED, BLUE, GREEN, ORANGE] = [0, 1, 2, 3];
    assert.deepEqual(
      scene.shapes.map((s) => s.kind),
      ['rect', 'ellipse', 'ellipse', 'rect', 'ellipse'],
      'the steps below name the shapes of samples/shapes/shapes.png by index',
    );
    const id = (i: number): number => fixtureMaskId(scene, i);
    const centre = (i: number): Point => shapeCentre(scene, i);

    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsam-ui-start-'));
    t.cleanup(async () => fs.rmSync(workspace, { recursive: true, force: true }));
    const start = spawnStart(workspace, path.join(t.dir, 'npm-start.log'));
    t.cleanup(async () => {
      if (start.child.exitCode !== null || start.child.signalCode !== null) return;
      // SIGINT, as Ctrl+C: start.ts stops its server; killing it outright would leave the server running.
      start.child.kill('SIGINT');
      await withTimeout(start.exited, 30_000, 'npm start after SIGINT').catch(() => start.child.kill('SIGKILL'));
    });

    let url = '';
    let page!: Page;
    let browser: Browser | undefined;
    let f!: FrameLocator;

    await t.step('prints a workbench URL on 127.0.0.1 with this extension and the workspace', async () => {
      url = await withTimeout(start.url, 240_000, 'npm start');
      const u = new URL(url);
      assert.equal(u.hostname, '127.0.0.1');
      assert.equal(u.searchParams.get('folder'), workspace);
      const payload = JSON.parse(u.searchParams.get('payload') ?? '[]') as [string, string][];
      assert.deepEqual(payload, [['extensionDevelopmentPath', `vscode-remote://${u.host}${REPO_ROOT}`]]);
      const res = await fetch(u.origin);
      assert.equal(res.status, 200);
      const port = Number(u.port);
      for (const address of externalAddresses()) assert.equal(await accepts(address, port), false, `the server must not listen on ${address}`);
      const settings = JSON.parse(fs.readFileSync(path.join(workspace, '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(settings['fastsam.modelPath'], FIXTURE_MODEL);
      for (const f of ['shapes/shapes.png', 'shapes/shapes-exif-rotated.jpg', 'photos/chelsea.png']) assert.ok(fs.existsSync(path.join(workspace, f)), `${f} in the workspace`);
    });

    await t.step('the URL opens VS Code with the samples in the Explorer', async () => {
      browser = await openBrowser(t);
      page = browser.page;
      t.usePage(page);
      await page.goto(url);
      await waitForWorkbench(page, 120_000);
      await explorerRow(page, 'shapes').waitFor({ timeout: UI_TIMEOUT });
      await explorerRow(page, 'photos').waitFor({ timeout: UI_TIMEOUT });
      await t.shot(page, 'workbench');
    });

    await t.step('Explorer > Open in Segmentation Editor opens shapes.png in the editor', async () => {
      await expandFolder(page, 'shapes');
      await contextMenu(page, explorerRow(page, 'shapes.png'), 'Open in Segmentation Editor');
      f = editorFrame(page);
      await stage(f).waitFor({ timeout: 60_000 });
      assert.equal(await activeTabTitle(page), 'shapes.png');
      await waitForText(f.locator('.status-item.image-info'), '640 × 480', 'image size in the status line');
    });

    await t.step('segments on open: one mask per shape, with the model and timings in the status line', async () => {
      await waitForMaskCount(f, scene.shapes.length);
      await waitForText(f.locator('.status-item.engine'), /palette-fastsam\.onnx/, 'the model in the status line');
      await waitForText(f.locator('.status-item.timings'), /inference .* total/, 'the timings in the status line');
      assert.deepEqual(await selectedIds(f), [], 'nothing is selected yet');
      await assertFitted(f, scene);
      await t.shot(page, 'segmented');
    });

    await t.step('hovering a shape highlights its mask, and only it', async () => {
      await hoverImagePoint(f, scene, centre(BLUE));
      await waitForHovered(f, id(BLUE), 'pointer on the blue ellipse');
      await waitForText(f.locator('.status-item.hover-info'), new RegExp(`^Mask ${id(BLUE)} · `), 'the hovered mask in the status line');
      await waitForOverlay(f, scene, [centre(BLUE), centre(RED)], ([blue, red]) => blue![3]! > 0 && red![3] === 0, 'the hovered blue mask, and not the red one, is drawn on the overlay');
      await t.shot(page, 'hover-blue');

      await hoverImagePoint(f, scene, centre(GREEN));
      await waitForHovered(f, id(GREEN), 'pointer on the green ellipse');
      await waitForOverlay(f, scene, [centre(GREEN), centre(BLUE)], ([green, blue]) => green![3]! > 0 && blue![3] === 0, 'the highlight follows the pointer to green');

      // Between the shapes: no mask.
      await hoverImagePoint(f, scene, { x: 265, y: 240 });
      await waitForHovered(f, -1, 'pointer on the background');
      await waitForOverlay(f, scene, [centre(GREEN), centre(BLUE)], (px) => px.every((p) => p[3] === 0), 'no highlight over the background');
      assert.equal(await f.locator('.status-item.hover-info').isHidden(), true);
    });

    await t.step('clicks select masks, Shift-click toggles, Clear empties the selection', async () => {
      await clickImagePoint(f, scene, centre(RED));
      await waitForSelection(f, [id(RED)], 'click on red');
      await clickImagePoint(f, scene, centre(BLUE));
      await waitForSelection(f, [id(RED), id(BLUE)], 'click on blue adds it');
      await t.shot(page, 'clicked-red-blue');
      await clickImagePoint(f, scene, centre(RED), { modifiers: ['Shift'] });
      await waitForSelection(f, [id(BLUE)], 'Shift-click on red removes it');
      await toolbarButton(f, 'Clear selection and prompts');
      await waitForSelection(f, [], 'Clear');
    });

    await t.step('Point tool: an object point selects its shape, a background point on it deselects it', async () => {
      await toolButton(f, 'Point');
      const onGreen = centre(GREEN);
      await clickImagePoint(f, scene, onGreen);
      await waitForSelection(f, [id(GREEN)], 'object point on green');
      await waitForText(f.locator(`.mask-row[data-mask-id="${id(GREEN)}"] .mask-source`), 'points', 'the selection list names the source');
      await t.shot(page, 'point-object');

      // A right-click is a background point: the green mask now holds a background point, so nothing fits.
      const background = { x: onGreen.x + 12, y: onGreen.y + 12 };
      await clickImagePoint(f, scene, background, { button: 'right' });
      await waitForSelection(f, [], 'background point on green');
      // Each point is a dot filled with the theme's green (object) or red (background),
      // painted over the highlight; 3 CSS pixels above its centre is inside the fill
      // and off the white minus sign that background dots carry.
      await waitForOverlay(
        f,
        scene,
        [onGreen, background],
        ([fg, bg]) => fg![3] === 255 && fg![1]! > fg![0]! + 60 && bg![3] === 255 && bg![0]! > bg![1]! + 60,
        'a green object dot and a red background dot',
        { x: 0, y: -3 },
      );
      // A VS Code context menu must not open over the stage on right-click.
      assert.equal(await page.locator('.context-view .monaco-menu').count(), 0, 'no context menu after a right-click on the stage');
      await t.shot(page, 'point-background');
    });

    await t.step('undo and redo step through the prompt, by toolbar and by Ctrl+Z / Ctrl+Shift+Z, one step each', async () => {
      await toolbarButton(f, 'Undo');
      await waitForSelection(f, [id(GREEN)], 'Undo removes the background point');
      await toolbarButton(f, 'Redo');
      await waitForSelection(f, [], 'Redo puts it back');

      // Keys go to the focused stage; VS Code must not also run its own undo (two steps would leave nothing selected).
      await stage(f).focus();
      await page.keyboard.press('Control+z');
      await waitForSelection(f, [id(GREEN)], 'Ctrl+Z');
      await delay(500);
      assert.deepEqual(await selectedIds(f), [id(GREEN)], 'Ctrl+Z undid exactly one step');
      assert.match(await announcement(f), /^Undo\b/, 'the undo is announced to screen readers');
      await page.keyboard.press('Control+Shift+z');
      await waitForSelection(f, [], 'Ctrl+Shift+Z');
      await t.shot(page, 'undo-redo');
    });

    await t.step('Box tool: dragging a box around a shape selects it; undo and redo the box', async () => {
      await toolbarButton(f, 'Clear selection and prompts');
      await waitForSelection(f, [], 'Clear');
      await toolButton(f, 'Box');
      const s = scene.shapes[ORANGE]!;
      const from = await pagePosition(f, scene, { x: s.x - 8, y: s.y - 8 });
      const to = await pagePosition(f, scene, { x: s.x + s.w + 8, y: s.y + s.h + 8 });
      await page.mouse.move(from.x, from.y);
      await page.mouse.down();
      await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
      await page.mouse.move(to.x, to.y, { steps: 5 });
      await page.mouse.up();
      await waitForSelection(f, [id(ORANGE)], 'box around orange');
      await waitForText(f.locator(`.mask-row[data-mask-id="${id(ORANGE)}"] .mask-source`), 'box', 'the selection list names the source');
      await t.shot(page, 'box');
      await toolbarButton(f, 'Undo');
      await waitForSelection(f, [], 'Undo the box');
      await toolbarButton(f, 'Redo');
      await waitForSelection(f, [id(ORANGE)], 'Redo the box');
    });

    await t.step('Export selection writes shapes.mask.png beside the image, matching the drawn shape', async () => {
      const file = path.join(workspace, 'shapes', 'shapes.mask.png');
      assert.equal(fs.existsSync(file), false);
      await f.locator('.export-button').click();
      // Export asks for the formats; the binary mask is checked (the fastsam.export.formats default).
      await waitForQuickPick(page, 'Export 1 selected mask of shapes.png');
      assert.deepEqual(await checkedItems(page), ['Binary mask PNG']);
      await acceptQuickPick(page);
      await waitForFile(file);
      await f.locator('.notice', { hasText: 'Exported to shapes.mask.png' }).waitFor({ timeout: UI_TIMEOUT });
      await notification(page, 'Saved the mask to').waitFor({ timeout: UI_TIMEOUT });
      t.log(await assertExportMatches(file, scene, ORANGE));
      // The notification offers "Reveal in Explorer": the file is listed there.
      await explorerRow(page, 'shapes.mask.png').waitFor({ timeout: UI_TIMEOUT });
      await t.shot(page, 'exported');
    });

    await t.step('no CSP violation or uncaught error in the browser console', async () => {
      assertNoWebviewErrors(browser!);
    });

    await t.step('Ctrl+C stops npm start and its VS Code server', async () => {
      const port = Number(new URL(url).port);
      await browser?.close();
      start.child.kill('SIGINT');
      const { code, signal } = await withTimeout(start.exited, 60_000, 'npm start after Ctrl+C');
      assert.equal(code, 0, `exit code (signal ${signal}); output:\n${start.output()}`);
      assert.match(start.output(), /stopped/);
      assert.equal(await accepts('127.0.0.1', port), false, 'nothing listens on the port any more');
    });
  },
};

// ---- no model ----------------------------------------------------------------------------

const noModel: Scenario = {
  id: 'no-model',
  title: 'no model configured: palette command on an EXIF-rotated JPEG, Everything, Choose model file…, export from the palette',
  async run(t) {
    assert.ok(fs.existsSync(FIXTURE_MODEL), `${FIXTURE_MODEL} is missing: run npm run fixtures`);
    const sample = sampleShape('shapes-exif-rotated.jpg');
    const scene = sample.scene;
    const [YELLOW, , MAGENTA] = [0, 1, 2];
    const id = (i: number): number => fixtureMaskId(scene, i);

    // No fastsam.modelPath (the default, empty), and no segmentation until asked.
    const workspace = createWorkspace({
      files: { [sample.file]: fs.readFileSync(path.join(REPO_ROOT, 'samples', 'shapes', sample.file)) },
      settings: { 'fastsam.segmentOnOpen': false },
    });
    t.cleanup(async () => fs.rmSync(workspace, { recursive: true, force: true }));
    const server = await startServer({ logFile: path.join(t.dir, 'server.log'), startTimeoutMs: 120_000 });
    t.cleanup(() => server.stop());
    const browser = await openBrowser(t);
    const page = browser.page;
    t.usePage(page);
    let f!: FrameLocator;

    await t.step('the workbench opens with the extension loaded', async () => {
      await page.goto(server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: REPO_ROOT }));
      await waitForWorkbench(page, 120_000);
      await explorerRow(page, sample.file).waitFor({ timeout: UI_TIMEOUT });
    });

    await t.step('FastSAM: Open in Segmentation Editor (command palette) opens the image shown in the active tab', async () => {
      await explorerRow(page, sample.file).click();
      // VS Code's own image preview first: the command acts on the active image.
      await page.locator('.tabs-container .tab.active', { hasText: sample.file }).waitFor({ timeout: UI_TIMEOUT });
      await runCommand(page, 'FastSAM: Open in Segmentation Editor');
      f = editorFrame(page);
      await stage(f).waitFor({ timeout: 60_000 });
      await waitForText(f.locator('.status-item.image-info'), '480 × 640', 'the size as displayed (EXIF orientation 6 applied)');
      await waitForText(f.locator('.stage-hint'), /Press E or choose Everything/, 'the hint before segmenting');
      assert.equal(await f.locator('.status-item.mask-count').isHidden(), true, 'no segmentation before Everything');
      await t.shot(page, 'opened');
    });

    await t.step('Everything with no model shows the model-missing panel', async () => {
      await f.getByRole('button', { name: 'Everything', exact: true }).click();
      const panel = f.locator('.model-missing');
      await panel.waitFor({ state: 'visible', timeout: SEGMENT_TIMEOUT });
      await waitForText(panel.locator('h2'), 'No segmentation model', 'the panel title');
      await waitForText(panel.locator('.panel-message'), /No FastSAM model is configured/, 'the panel message');
      await waitForText(f.locator('.status-item.engine'), 'No model', 'the status line');
      // Focus goes to the way forward.
      await waitForText(f.locator(':focus'), 'Choose model file…', 'the focused element');
      await t.shot(page, 'model-missing');
    });

    await t.step('Choose model file… opens VS Code’s file dialog; the chosen model segments the image', async () => {
      await f.getByRole('button', { name: 'Choose model file…' }).click();
      await chooseInFileDialog(page, 'Choose a FastSAM Model', FIXTURE_MODEL, () => t.shot(page, 'file-dialog'));
      await f.locator('.model-missing').waitFor({ state: 'hidden', timeout: SEGMENT_TIMEOUT });
      await waitForMaskCount(f, scene.shapes.length);
      await waitForText(f.locator('.status-item.engine'), /palette-fastsam\.onnx/, 'the model in the status line');
      await assertFitted(f, scene);
      await t.shot(page, 'segmented');
    });

    await t.step('hover and click find the shapes where they are displayed (rotated)', async () => {
      await hoverImagePoint(f, scene, shapeCentre(scene, MAGENTA));
      await waitForHovered(f, id(MAGENTA), 'pointer on the magenta ellipse');
      await hoverImagePoint(f, scene, shapeCentre(scene, YELLOW));
      await waitForHovered(f, id(YELLOW), 'pointer on the yellow rectangle');
      await clickImagePoint(f, scene, shapeCentre(scene, MAGENTA));
      await waitForSelection(f, [id(MAGENTA)], 'click on magenta');
      assert.equal(await hoveredMask(f), id(MAGENTA));
      await t.shot(page, 'selected');
    });

    await t.step('FastSAM: Export Selection (command palette) writes the mask in the displayed orientation', async () => {
      const file = path.join(workspace, 'shapes-exif-rotated.mask.png');
      await runCommand(page, 'FastSAM: Export Selection');
      await waitForQuickPick(page, /^Export 1 selected mask of /);
      await acceptQuickPick(page);
      await waitForFile(file);
      await notification(page, 'Saved the mask to').waitFor({ timeout: UI_TIMEOUT });
      t.log(await assertExportMatches(file, scene, MAGENTA));
      await t.shot(page, 'exported');
    });

    await t.step('no CSP violation or uncaught error in the browser console', async () => {
      assertNoWebviewErrors(browser);
    });
  },
};

// ---- text prompt -------------------------------------------------------------------------

/** The clip-palette stand-in for CLIP (models/fixtures/README.md): its embeddings are about the palette's colors. */
const FIXTURE_CLIP = path.join(REPO_ROOT, 'models', 'fixtures', 'clip-palette');

const textPrompt: Scenario = {
  id: 'text-prompt',
  title: 'text prompt: typing a query in the toolbar and pressing Enter selects the mask; the ranking is offered as alternatives',
  async run(t) {
    assert.ok(fs.existsSync(FIXTURE_MODEL), `${FIXTURE_MODEL} is missing: run npm run fixtures`);
    assert.ok(fs.existsSync(path.join(FIXTURE_CLIP, 'onnx', 'text_model.onnx')), `${FIXTURE_CLIP} is missing: run npm run fixtures`);
    const sample = sampleShape('shapes.png');
    const scene = sample.scene;
    const [, BLUE, , ORANGE] = [0, 1, 2, 3];
    const id = (i: number): number => fixtureMaskId(scene, i);

    const workspace = createWorkspace({
      files: { [sample.file]: fs.readFileSync(path.join(REPO_ROOT, 'samples', 'shapes', sample.file)) },
      settings: { 'fastsam.modelPath': FIXTURE_MODEL, 'fastsam.clipModel': FIXTURE_CLIP },
    });
    t.cleanup(async () => fs.rmSync(workspace, { recursive: true, force: true }));
    const server = await startServer({ logFile: path.join(t.dir, 'server.log'), startTimeoutMs: 120_000 });
    t.cleanup(() => server.stop());
    const browser = await openBrowser(t);
    const page = browser.page;
    t.usePage(page);
    let f!: FrameLocator;

    await t.step('the image opens in the segmentation editor and is segmented', async () => {
      await page.goto(server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: REPO_ROOT }));
      await waitForWorkbench(page, 120_000);
      await explorerRow(page, sample.file).click();
      await page.locator('.tabs-container .tab.active', { hasText: sample.file }).waitFor({ timeout: UI_TIMEOUT });
      await runCommand(page, 'FastSAM: Open in Segmentation Editor');
      f = editorFrame(page);
      await stage(f).waitFor({ timeout: 60_000 });
      await waitForMaskCount(f, scene.shapes.length);
      assert.equal(await f.locator('#text-query').inputValue(), '', 'the empty text field');
      assert.equal(await f.locator('#text-query').getAttribute('placeholder'), 'Describe an object…');
    });

    await t.step('T focuses the text field; typing "blue" and Enter selects the blue ellipse', async () => {
      await stage(f).focus();
      await page.keyboard.press('t');
      await f.locator('#text-query:focus').waitFor({ timeout: UI_TIMEOUT });
      await page.keyboard.type('blue');
      await page.keyboard.press('Enter');
      // The first query loads CLIP and embeds the masks; the field shows it meanwhile.
      await waitForSelection(f, [id(BLUE)], 'the text query "blue"', SEGMENT_TIMEOUT);
      await f.locator('.text-query-progress').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
      await waitForText(f.locator('.alt-label'), `1 of ${scene.shapes.length}`, 'the ranking as alternatives');
      await waitForText(f.locator('.alt-area'), /^text score \d\.\d\d · /, 'the text score');
      await waitForText(f.locator('.mask-row .mask-source'), 'text', 'the side list says where the selection came from');
      await waitForRendered(f);
      await t.shot(page, 'text-blue-selected');
    });

    await t.step('a second query replaces the text pick; Esc returns to the canvas and Undo brings back the first', async () => {
      // fill() waits until the field is editable again (it is read-only while a query
      // runs) and replaces its text; typing keys right after the first answer could
      // lose the first ones to the webview's focus hand-over in code-server.
      const field = f.locator('#text-query');
      await field.fill('the orange one', { timeout: UI_TIMEOUT });
      await field.press('Enter');
      await waitForSelection(f, [id(ORANGE)], 'the text query "the orange one"');
      await page.keyboard.press('Escape');
      await f.locator('.stage:focus').waitFor({ timeout: UI_TIMEOUT });
      await page.keyboard.press('Control+z');
      await waitForSelection(f, [id(BLUE)], 'undo');
      await waitForRendered(f);
      await t.shot(page, 'text-undo');
    });

    await t.step('no CSP violation or uncaught error in the browser console', async () => {
      assertNoWebviewErrors(browser);
    });
  },
};

export const scenarios: Scenario[] = [npmStart, noModel, textPrompt];

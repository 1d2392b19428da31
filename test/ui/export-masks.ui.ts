/**
 * "FastSAM: Export Masks…" as a user meets it, in a real VS Code in Chromium,
 * with the palette fixture model, on a folder of generated shape images (and a
 * subfolder, and a text file that is no image):
 *
 *  - right-click the folder in the Explorer, Export Masks…, check formats in the
 *    quick pick; the progress notification counts the images, names the current
 *    one and the time left; its Cancel stops the export, leaving whole images;
 *  - run it again: the last formats are checked, the question about existing
 *    files defaults to skipping them, and the export completes without writing
 *    the finished images again; Reveal Output shows the folder.
 *
 * Screenshots of every step in test-results/ui/export-masks/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { DATASET_FILE_NAME } from '../../src/core/export/batch';
import { type ExportFormatId, planOutputs } from '../../src/core/export/format-names';
import { paletteColors } from '../helpers/fixture-model';
import { encodeScene, randomScene } from '../helpers/shapes';
import { createWorkspace, launchChromium, REPO_ROOT, startServer, waitForWorkbench } from '../vscode/server';
import { FIXTURE_MODEL, type Scenario, type ScenarioContext } from './harness';
import {
  acceptQuickPick,
  checkedItems,
  contextMenu,
  expandFolder,
  explorerRow,
  notification,
  pickItem,
  SEGMENT_TIMEOUT,
  setChecked,
  UI_TIMEOUT,
  waitForQuickPick,
  waitForText,
} from './workbench';

/** Images of 1600×1200 at the default image size take about a second each here: 24 leave time to watch the progress and cancel. */
const COUNT = 24;
const FORMATS: { id: ExportFormatId; label: string }[] = [
  { id: 'mask', label: 'Binary mask PNG' },
  { id: 'coco', label: 'COCO JSON' },
  { id: 'yolo', label: 'YOLO segmentation labels' },
  { id: 'overlay', label: 'Overlay preview PNG' },
];
/** The image on whose progress line the export is cancelled. */
const CANCEL_AT = 4;

async function openBrowser(t: ScenarioContext) {
  const consoleLog = fs.createWriteStream(path.join(t.dir, 'browser-console.log'));
  const browser = await launchChromium({ onConsole: (line) => consoleLog.write(`${new Date().toISOString()} ${line}\n`) });
  t.cleanup(async () => {
    await browser.close();
    consoleLog.end();
  });
  return browser;
}

/** The progress notification's text, once it shows image `n` or a later one ("FastSAM: Exporting masks: 4 of 16 — … — about 9 s left"). */
async function waitForProgress(page: Page, atLeast: number): Promise<string> {
  const toast = notification(page, 'FastSAM: Exporting masks');
  const deadline = Date.now() + SEGMENT_TIMEOUT;
  for (;;) {
    const text = ((await toast.locator('.notification-list-item-message').first().textContent().catch(() => null)) ?? '').trim();
    const m = /(\d+) of (\d+)/.exec(text);
    if (m && Number(m[1]) >= atLeast) return text;
    if (Date.now() > deadline) throw new Error(`the progress notification did not reach ${atLeast} of ${COUNT}: it says "${text}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Right-click on the folder › Export Masks…, until its format quick pick shows:
 * a menu click while the Explorer re-renders (files just written appearing) can
 * be lost, leaving the menu open.
 */
async function exportMasksOf(page: Page, folder: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await contextMenu(page, explorerRow(page, folder), 'Export Masks…');
    const shown = await waitForQuickPick(page, `Export Masks of ${folder}`).then(
      () => true,
      () => false,
    );
    if (shown) return;
    if (attempt === 3) throw new Error(`Export Masks… on ${folder}: no format quick pick after ${attempt} tries`);
    await page.keyboard.press('Escape');
  }
}

async function clickNotificationButton(page: Page, text: string | RegExp, button: string): Promise<void> {
  await notification(page, text).locator('.notification-list-item-buttons-container .monaco-button', { hasText: button }).click();
}

const exportMasks: Scenario = {
  id: 'export-masks',
  title: 'Explorer › Export Masks… on a folder: formats in a quick pick, progress, Cancel, run again to complete; Reveal Output',
  async run(t) {
    assert.ok(fs.existsSync(FIXTURE_MODEL), `${FIXTURE_MODEL} is missing: run npm run fixtures`);
    const files: Record<string, Uint8Array> = { 'photos/notes.txt': new TextEncoder().encode('not an image') };
    const relative: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const rel = i >= COUNT - 3 ? `photos/more/shot-${String(i).padStart(2, '0')}.png` : `photos/shot-${String(i).padStart(2, '0')}.png`;
      files[rel] = await encodeScene(randomScene(900 + i, 1600, 1200, paletteColors), 'png');
      relative.push(rel);
    }
    const workspace = createWorkspace({ files, settings: { 'fastsam.modelPath': FIXTURE_MODEL } });
    t.cleanup(async () => fs.rmSync(workspace, { recursive: true, force: true }));
    // In the batch's order: by path below the folder, code unit by code unit (more/ before shot-*).
    const images = relative.map((r) => path.join(workspace, r)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const outputsOf = (image: string): string[] =>
      planOutputs(
        image,
        FORMATS.map((f) => f.id),
      ).map((o) => o.path);

    const server = await startServer({ logFile: path.join(t.dir, 'server.log'), startTimeoutMs: 120_000 });
    t.cleanup(() => server.stop());
    const browser = await openBrowser(t);
    const page = browser.page;
    t.usePage(page);
    let finished = 0;
    let firstRun = new Map<string, number>();

    await t.step('the workbench opens with the folder of images', async () => {
      await page.goto(server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: REPO_ROOT }));
      await waitForWorkbench(page, 120_000);
      await expandFolder(page, 'photos');
      await explorerRow(page, 'shot-00.png').waitFor({ timeout: UI_TIMEOUT });
      await t.shot(page, 'workbench');
    });

    await t.step('right-click on the folder › Export Masks… asks the formats, the binary mask checked', async () => {
      await exportMasksOf(page, 'photos');
      assert.deepEqual(await checkedItems(page), ['Binary mask PNG'], 'fastsam.export.formats’ default');
      await t.shot(page, 'formats-asked');
      for (const f of FORMATS) await setChecked(page, f.label, true);
      assert.deepEqual(
        await checkedItems(page),
        FORMATS.map((f) => f.label),
      );
      await t.shot(page, 'formats-chosen');
      await acceptQuickPick(page);
    });

    await t.step(`the progress notification counts the images, names the current one and the time left; Cancel at ${CANCEL_AT} of ${COUNT} stops it`, async () => {
      const text = await waitForProgress(page, CANCEL_AT);
      assert.match(text, new RegExp(`^FastSAM: Exporting masks: \\d+ of ${COUNT} — photos/(more/)?shot-\\d\\d\\.png — about \\d+ (s|min) left$`));
      await t.shot(page, 'progress');
      await clickNotificationButton(page, 'FastSAM: Exporting masks', 'Cancel');
      const summary = notification(page, /Export cancelled:/);
      await summary.waitFor({ timeout: SEGMENT_TIMEOUT });
      const message = ((await summary.locator('.notification-list-item-message').textContent()) ?? '').trim();
      const m = new RegExp(`^Export cancelled: (\\d+) images? exported \\(0 skipped, 0 failed\\), (\\d+) not reached\\.`).exec(message);
      assert.ok(m, message);
      finished = Number(m[1]);
      assert.ok(finished >= CANCEL_AT && finished < COUNT, `${finished} images exported before the cancel`);
      assert.equal(finished + Number(m[2]), COUNT);
      await notification(page, 'FastSAM: Exporting masks').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
      await t.shot(page, 'cancelled');
      t.log(`cancelled on "${text}": ${finished} of ${COUNT} images exported`);

      // Whole images only: the first ones have every file, the others none.
      images.forEach((image, i) => {
        for (const file of outputsOf(image)) assert.equal(fs.existsSync(file), i < finished, `${path.relative(workspace, file)} after the cancel`);
      });
      assert.equal(fs.existsSync(path.join(workspace, 'photos', DATASET_FILE_NAME)), false, 'no dataset for an unfinished export');
      firstRun = new Map(images.slice(0, finished).flatMap((image) => outputsOf(image).map((f) => [f, fs.statSync(f).mtimeMs] as const)));
    });

    await t.step('run again: the last formats are checked; existing files are skipped (the default answer)', async () => {
      // The Explorer lists what the first run wrote before the folder is right-clicked again.
      await explorerRow(page, 'shot-00.mask.png').waitFor({ timeout: UI_TIMEOUT });
      await exportMasksOf(page, 'photos');
      assert.deepEqual(
        await checkedItems(page),
        FORMATS.map((f) => f.label),
        'the last choice',
      );
      await acceptQuickPick(page);
      await waitForQuickPick(page, `${finished} of ${COUNT} images have exported files already`);
      await waitForText(page.locator('.quick-input-list .monaco-list-row.focused .label-name'), 'Skip existing files', 'the focused (default) answer');
      await t.shot(page, 'existing-files-question');
      await pickItem(page, 'Skip existing files');
    });

    await t.step('the export completes the set without writing the finished images again', async () => {
      const summary = notification(page, `Exported ${COUNT - finished} images (${finished} skipped, 0 failed)`);
      await summary.waitFor({ timeout: SEGMENT_TIMEOUT });
      await t.shot(page, 'completed');
      for (const image of images) for (const file of outputsOf(image)) assert.ok(fs.existsSync(file), path.relative(workspace, file));
      for (const [file, mtime] of firstRun) assert.equal(fs.statSync(file).mtimeMs, mtime, `${path.relative(workspace, file)} was not written again`);
      assert.ok(fs.existsSync(path.join(workspace, 'photos', DATASET_FILE_NAME)), 'the COCO dataset of the folder');
      assert.deepEqual(
        fs.readdirSync(path.join(workspace, 'photos')).filter((f) => f.startsWith('notes')),
        ['notes.txt'],
        'the text file is no image',
      );
    });

    await t.step('Reveal Output shows the folder and its new files in the Explorer', async () => {
      await clickNotificationButton(page, /Exported \d+ images/, 'Reveal Output');
      await explorerRow(page, DATASET_FILE_NAME).waitFor({ timeout: UI_TIMEOUT });
      await explorerRow(page, 'shot-00.overlay.png').waitFor({ timeout: UI_TIMEOUT });
      await t.shot(page, 'revealed');
    });
  },
};

export const scenarios: Scenario[] = [exportMasks];

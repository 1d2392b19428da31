/**
 * Playwright helpers for VS Code's web workbench (1.100) and the segmentation
 * editor's webview inside it. Selectors are VS Code's own DOM (explorer rows
 * carry their file name as aria-label, the command palette is a quick input, …)
 * and the webview's roles, labels and data attributes.
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { readPalette } from '../../scripts/fixtures/palette-fastsam';
import { fitView, imageToScreen, type Point } from '../../src/webview/viewport';
import type { Scene } from '../helpers/shapes';

/** Generous: the test machines are shared and slow; a healthy step takes a fraction of these. */
export const UI_TIMEOUT = 30_000;
export const SEGMENT_TIMEOUT = 180_000;

// ---- workbench ------------------------------------------------------------------------

export function explorerRow(page: Page, name: string): Locator {
  return page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
}

/** Expands a folder of the Explorer (a no-op when it is open). */
export async function expandFolder(page: Page, name: string): Promise<void> {
  const row = explorerRow(page, name);
  await row.waitFor({ timeout: UI_TIMEOUT });
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
  await page.waitForFunction((n) => document.querySelector(`.explorer-folders-view .monaco-list-row[aria-label="${n}"]`)?.getAttribute('aria-expanded') === 'true', name, {
    timeout: UI_TIMEOUT,
  });
}

/**
 * Calls `attempt` until it returns true, up to UI_TIMEOUT. For menus and the
 * palette: an extension's menu items and commands appear only once the extension
 * host has registered it, a few seconds after the workbench shows.
 */
async function retry(what: string, attempt: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT;
  while (!(await attempt())) {
    if (Date.now() > deadline) throw new Error(`${what}: not found within ${UI_TIMEOUT} ms`);
    await delay(500);
  }
}

/** Right-clicks `row` and clicks the context-menu item labelled `item`. */
export async function contextMenu(page: Page, row: Locator, item: string): Promise<void> {
  const entry = page.locator('.monaco-menu .action-label', { hasText: item }).first();
  await retry(`context menu item "${item}"`, async () => {
    await row.click({ button: 'right' });
    await page.locator('.monaco-menu .action-label').first().waitFor({ timeout: UI_TIMEOUT });
    if (await entry.isVisible()) return true;
    await page.keyboard.press('Escape');
    return false;
  });
  await entry.click();
  // The menu can drop a click that comes right after it opened, and stays open. The
  // pointer over the item focuses it, and Enter runs the focused item.
  const menu = page.locator('.monaco-menu').first();
  await page.waitForTimeout(300);
  if (await menu.isVisible().catch(() => false)) {
    await entry.hover();
    await page.keyboard.press('Enter');
  }
}

/** Runs a command from the command palette by its full title ("FastSAM: Export Selection"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  // The row of exactly this command (its aria-label is the title, plus ", similar commands" and the like).
  const row = page.locator(`.quick-input-list .monaco-list-row[aria-label="${title}"], .quick-input-list .monaco-list-row[aria-label^="${title},"]`).first();
  await retry(`command "${title}" in the palette`, async () => {
    await page.keyboard.press('F1');
    await input.waitFor({ timeout: UI_TIMEOUT });
    await input.fill(`>${title}`);
    if (await row.waitFor({ timeout: 3000 }).then(() => true, () => false)) return true;
    await page.keyboard.press('Escape');
    return false;
  });
  await row.click();
}

/**
 * Answers VS Code's own file dialog (the "simple" one of the web workbench, a
 * quick input) titled `title` with the absolute path `file`. The dialog fills in
 * its starting folder and lists it once it has read it; text typed before that
 * is overwritten, so this waits for the listing and checks the input held.
 */
export async function chooseInFileDialog(page: Page, title: string, file: string, beforeAccept?: () => Promise<void>): Promise<void> {
  const dialog = page.locator('.quick-input-widget');
  await dialog.locator('.quick-input-title', { hasText: title }).waitFor({ timeout: UI_TIMEOUT });
  const input = dialog.locator('.quick-input-box input');
  await dialog.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: UI_TIMEOUT });
  await retry(`typing ${file} into "${title}"`, async () => {
    await input.fill(file);
    await delay(300);
    return (await input.inputValue()) === file;
  });
  await beforeAccept?.();
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
}

/** A notification toast whose text matches `text`. */
export function notification(page: Page, text: string | RegExp): Locator {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text });
}

// ---- quick picks -----------------------------------------------------------------------

/** The quick pick on screen (commands' questions: Export's formats, …). */
export function quickPick(page: Page): Locator {
  return page.locator('.quick-input-widget');
}

/** Waits until a quick pick titled `title` is on screen. */
export async function waitForQuickPick(page: Page, title: string | RegExp): Promise<Locator> {
  const widget = quickPick(page);
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ timeout: UI_TIMEOUT });
  return widget;
}

/** The items of a multi-select quick pick that are checked, by label, in its order. */
export async function checkedItems(page: Page): Promise<string[]> {
  return quickPick(page)
    .locator('.quick-input-list .monaco-checkbox[aria-checked="true"]')
    .evaluateAll((boxes) => boxes.map((b) => b.getAttribute('aria-label') ?? ''));
}

/** Checks (or unchecks) the item labelled `label` of a multi-select quick pick. */
export async function setChecked(page: Page, label: string, checked: boolean): Promise<void> {
  const box = quickPick(page).locator(`.quick-input-list .monaco-checkbox[aria-label="${label}"]`);
  if ((await box.getAttribute('aria-checked')) !== String(checked)) await box.click();
  await quickPick(page).locator(`.quick-input-list .monaco-checkbox[aria-label="${label}"][aria-checked="${checked}"]`).waitFor({ timeout: UI_TIMEOUT });
}

/** Accepts a multi-select quick pick with its OK button; it closes. */
export async function acceptQuickPick(page: Page): Promise<void> {
  await quickPick(page).locator('.quick-input-action .monaco-button', { hasText: 'OK' }).click();
  await quickPick(page).waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
}

/** Picks the item labelled `label` of a single-select quick pick; it closes. */
export async function pickItem(page: Page, label: string): Promise<void> {
  await quickPick(page).locator('.quick-input-list .monaco-list-row', { hasText: label }).first().click();
  await quickPick(page).waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
}

/** The title of the active editor tab. */
export async function activeTabTitle(page: Page): Promise<string> {
  return (await page.locator('.tabs-container .tab.active .label-name').first().innerText()).trim();
}

// ---- the segmentation editor's webview ------------------------------------------------

/**
 * The segmentation editor's document. Webviews sit in two iframes (VS Code's
 * host frame, then the content's `active-frame`); only the shown webview's outer
 * iframe is visible, so hidden editors (a replaced image preview) are skipped.
 */
export function editorFrame(page: Page): FrameLocator {
  return page.locator('iframe.webview').filter({ visible: true }).contentFrame().locator('iframe#active-frame').contentFrame();
}

export const stage = (f: FrameLocator): Locator => f.locator('.stage');

/** Ids in the Selection list, in its order: the masks the editor would export. */
export async function selectedIds(f: FrameLocator): Promise<number[]> {
  return (await f.locator('.mask-list .mask-row').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.maskId)))).filter((n) => Number.isInteger(n));
}

export async function waitForSelection(f: FrameLocator, expected: number[], what: string, timeout = UI_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeout;
  let last: number[] = [];
  for (;;) {
    last = await selectedIds(f);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    if (Date.now() > deadline) throw new Error(`${what}: selection is [${last.join(', ')}], expected [${expected.join(', ')}]`);
    await delay(100);
  }
}

/** The mask the editor shows as hovered (its stage's data-hovered-mask; -1: none). */
export async function hoveredMask(f: FrameLocator): Promise<number> {
  return Number(await stage(f).getAttribute('data-hovered-mask'));
}

export async function waitForHovered(f: FrameLocator, expected: number, what: string): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT;
  for (;;) {
    const now = await hoveredMask(f);
    if (now === expected) return;
    if (Date.now() > deadline) throw new Error(`${what}: hovered mask is ${now}, expected ${expected}`);
    await delay(100);
  }
}

/** Waits until every mask bitmap of the stage has been drawn (the base layer renders over several frames). */
export async function waitForRendered(f: FrameLocator): Promise<void> {
  await f.locator('.stage[data-render-pending="0"]').waitFor({ timeout: UI_TIMEOUT });
}

/** Waits until `locator`'s text (trimmed) is `expected`, or matches it; the error says what it was. */
export async function waitForText(locator: Locator, expected: string | RegExp, what: string, timeout = UI_TIMEOUT): Promise<void> {
  const ok = (text: string): boolean => (typeof expected === 'string' ? text === expected : expected.test(text));
  const deadline = Date.now() + timeout;
  let text = '';
  for (;;) {
    text = ((await locator.first().textContent({ timeout }).catch(() => null)) ?? '').trim();
    if (ok(text)) return;
    if (Date.now() > deadline) throw new Error(`${what}: the text is "${text}", expected ${typeof expected === 'string' ? `"${expected}"` : expected}`);
    await delay(100);
  }
}

/** The live region's text: what a screen reader was last told. */
export async function announcement(f: FrameLocator): Promise<string> {
  return ((await f.locator('[role="status"][aria-live="polite"]').first().textContent()) ?? '').trim();
}

/**
 * Where image point `p` is on the stage (CSS pixels from its top-left corner),
 * for an editor showing `image` fitted (how an editor opens): the webview's own
 * fit rule from src/webview/viewport.ts.
 */
export async function stagePosition(f: FrameLocator, image: { width: number; height: number }, p: Point): Promise<Point> {
  const size = await stage(f).evaluate((el) => ({ width: el.clientWidth, height: el.clientHeight }));
  return imageToScreen(fitView(image, size), p.x, p.y);
}

/** Page coordinates of image point `p` (for page.mouse, which works across the webview's iframes). */
export async function pagePosition(f: FrameLocator, image: { width: number; height: number }, p: Point): Promise<Point> {
  const box = await stage(f).boundingBox();
  if (!box) throw new Error('the stage is not on screen');
  const s = await stagePosition(f, image, p);
  return { x: box.x + s.x, y: box.y + s.y };
}

/**
 * The overlay canvas's RGBA (0–255) at image points, optionally shifted by
 * `offset` CSS pixels: the hover highlight and the prompt's points and box are
 * drawn there.
 */
export async function overlayPixels(f: FrameLocator, image: { width: number; height: number }, points: Point[], offset: Point = { x: 0, y: 0 }): Promise<number[][]> {
  const css = (await Promise.all(points.map((p) => stagePosition(f, image, p)))).map((p) => ({ x: p.x + offset.x, y: p.y + offset.y }));
  return f.locator('canvas.stage-overlay').evaluate((canvas: HTMLCanvasElement, at: Point[]) => {
    const ctx = canvas.getContext('2d')!;
    const scale = canvas.width / canvas.clientWidth;
    return at.map((p) => [...ctx.getImageData(Math.floor(p.x * scale), Math.floor(p.y * scale), 1, 1).data]);
  }, css);
}

/**
 * Waits until the overlay's pixels at `points` satisfy `ok` (the overlay is
 * redrawn on an animation frame, which a busy machine delays); the error lists
 * the last values.
 */
export async function waitForOverlay(
  f: FrameLocator,
  image: { width: number; height: number },
  points: Point[],
  ok: (rgba: number[][]) => boolean,
  what: string,
  offset?: Point,
): Promise<void> {
  const deadline = Date.now() + UI_TIMEOUT;
  for (;;) {
    const px = await overlayPixels(f, image, points, offset);
    if (ok(px)) return;
    if (Date.now() > deadline) throw new Error(`${what}: overlay RGBA at the probed points is ${JSON.stringify(px)}`);
    await delay(100);
  }
}

// ---- the fixture model's answers -------------------------------------------------------

const palette = readPalette();

/**
 * The mask id the palette fixture gives a shape of `scene`: detection k belongs
 * to palette color k with score 0.95 − 0.02·k, and ids follow descending score,
 * so ids rank the scene's colors by palette index (models/fixtures/README.md).
 */
export function fixtureMaskId(scene: Scene, shapeIndex: number): number {
  const index = (i: number): number => {
    const c = scene.shapes[i]!.color;
    const k = palette.colors.findIndex((p) => p[0] === c[0] && p[1] === c[1] && p[2] === c[2]);
    if (k < 0) throw new Error(`shape ${i} is not in a palette color`);
    return k;
  };
  const mine = index(shapeIndex);
  return scene.shapes.filter((_, i) => index(i) < mine).length;
}

/** The centre of shape i's box: inside it for rectangles and ellipses, unless a later shape covers it (as in shapes-nested.webp). */
export function shapeCentre(scene: Scene, i: number): Point {
  const s = scene.shapes[i]!;
  return { x: s.x + s.w / 2, y: s.y + s.h / 2 };
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The `fastsam.export.*` settings (read and checked like the others), their
 * declarations in package.json, the format names the extension host uses
 * without the image libraries, the remembered choice of formats, and the
 * words of Export Masks…'s progress and summary.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import { EXPORT_FORMAT_INFO, fileNamePatterns, isOutputImageName } from '../../src/core/export/format-names';
import { DEFAULT_FILE_NAMES, EXPORT_FORMAT_IDS, EXPORT_FORMATS } from '../../src/core/export/formats';
import { formatRemaining, progressMessage, summaryMessage } from '../../src/extension/batch-report';
import { chooseFormats, type FormatMemento, LAST_FORMATS_KEY, preselectedFormats } from '../../src/extension/format-choice';
import type { FormatPickRequest } from '../../src/extension/prompts';
import { COCO_SEGMENTATION_CHOICES, DEFAULT_EXPORT_SETTINGS, MAX_POLYGON_TOLERANCE, readExportSettings, resolveOutputFolder } from '../../src/extension/settings';
import type { BatchSummaryReport } from '../../src/extension/worker/messages';

const source = (values: Record<string, unknown>) => ({ get: (key: string) => values[key] });

function read(values: Record<string, unknown>, context = {}) {
  const warnings: string[] = [];
  const settings = readExportSettings(source(values), (m) => warnings.push(m), context);
  return { settings, warnings };
}

describe('readExportSettings', () => {
  test('unset values are the defaults, without warnings', () => {
    assert.deepEqual(read({}), { settings: DEFAULT_EXPORT_SETTINGS, warnings: [] });
    assert.deepEqual(DEFAULT_EXPORT_SETTINGS, { formats: ['mask'], outputFolder: undefined, fileNames: {}, polygonTolerance: 1, cocoSegmentation: 'rle' });
  });

  test('valid values are taken; formats in registry order, each once', () => {
    const { settings, warnings } = read({
      'export.formats': ['overlay', 'coco', 'mask', 'coco'],
      'export.outputFolder': ' exports/masks ',
      'export.fileNames': { mask: 'masks/{stem}.png', labelme: '{stem}.labelme.json' },
      'export.polygonTolerance': 0,
      'export.cocoSegmentation': 'polygon',
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(settings, {
      formats: ['mask', 'coco', 'overlay'],
      outputFolder: 'exports/masks',
      fileNames: { mask: 'masks/{stem}.png', labelme: '{stem}.labelme.json' },
      polygonTolerance: 0,
      cocoSegmentation: 'polygon',
    });
  });

  test('each invalid value falls back to its default with one warning naming the setting', () => {
    const invalid: Record<string, unknown> = {
      'export.formats': 'mask',
      'export.outputFolder': 42,
      'export.fileNames': ['{stem}.png'],
      'export.polygonTolerance': MAX_POLYGON_TOLERANCE + 1,
      'export.cocoSegmentation': 'polygons',
    };
    const { settings, warnings } = read(invalid);
    assert.deepEqual(settings, DEFAULT_EXPORT_SETTINGS);
    assert.equal(warnings.length, Object.keys(invalid).length, warnings.join('\n'));
    for (const key of Object.keys(invalid)) assert.ok(warnings.some((w) => w.startsWith(`Setting fastsam.${key} is `)), `no warning for ${key}: ${warnings.join('\n')}`);
    assert.ok(warnings.includes('Setting fastsam.export.cocoSegmentation is "polygons", which is not "rle" or "polygon"; using "rle".'), warnings.join('\n'));
    assert.equal(read({ 'export.polygonTolerance': -1 }).warnings.length, 1);
    assert.equal(read({ 'export.polygonTolerance': '2' }).warnings.length, 1);
  });

  test('unknown formats are dropped with a warning; none known is the default', () => {
    const some = read({ 'export.formats': ['coco', 'png', 3] });
    assert.deepEqual(some.settings.formats, ['coco']);
    assert.equal(some.warnings.length, 1);
    assert.match(some.warnings[0]!, /lists "png", 3, not a format/);
    const none = read({ 'export.formats': ['png'] });
    assert.deepEqual(none.settings.formats, ['mask']);
    assert.equal(none.warnings.length, 1);
    assert.deepEqual(read({ 'export.formats': [] }).settings.formats, ['mask']);
  });

  test('file names without {stem}, absolute, of unknown formats or clashing are dropped one by one', () => {
    const { settings, warnings } = read({
      'export.fileNames': {
        mask: 'mask.png',
        index: '/tmp/{stem}.png',
        coco: '{stem}.json', // the labelme default
        yolo: 7,
        cutout: 'cut/{stem}.png',
        polygons: '{stem}.poly.json',
      },
    });
    assert.deepEqual(settings.fileNames, { cutout: 'cut/{stem}.png' });
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.ok(warnings.some((w) => w.includes('The mask file name "mask.png" must contain {stem}') && w.endsWith('using {stem}.mask.png.')));
    assert.ok(warnings.some((w) => w.includes('must be relative to the output folder')));
    assert.ok(warnings.some((w) => w.includes('the coco file name "{stem}.json" is also the labelme file\'s; using {stem}.coco.json.')));
    assert.ok(warnings.some((w) => w.includes('the yolo file name 7 is not text')));
    assert.ok(warnings.some((w) => w.includes('"polygons", which is not a format')));
    // What is left is always usable by the exporter.
    assert.doesNotThrow(() => fileNamePatterns(EXPORT_FORMAT_IDS, settings.fileNames));
  });

  test('~ in the output folder is the home folder; empty means beside the image', () => {
    assert.equal(read({ 'export.outputFolder': '~/exports' }, { homeDir: '/home/me' }).settings.outputFolder, '/home/me/exports');
    assert.equal(read({ 'export.outputFolder': '  ' }).settings.outputFolder, undefined);
  });
});

describe('resolveOutputFolder', () => {
  test('absolute as is; relative from the workspace folder, else from the images’ folder; none: beside the image', () => {
    assert.equal(resolveOutputFolder('/data/out', { workspaceFolder: '/ws', imageFolder: '/ws/img' }), '/data/out');
    assert.equal(resolveOutputFolder('exports/../masks', { workspaceFolder: '/ws', imageFolder: '/ws/img' }), '/ws/masks');
    assert.equal(resolveOutputFolder('masks', { imageFolder: '/photos' }), '/photos/masks');
    assert.equal(resolveOutputFolder(undefined, { workspaceFolder: '/ws', imageFolder: '/ws/img' }), undefined);
  });
});

describe('export settings agree with their declarations', () => {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
    contributes: {
      configuration: { properties: Record<string, { default?: unknown; enum?: unknown[]; minimum?: number; maximum?: number; items?: { enum?: unknown[] }; properties?: Record<string, unknown> }> };
      commands: { command: string; title: string }[];
      menus: Record<string, { command: string; when?: string }[]>;
    };
  };
  const props = pkg.contributes.configuration.properties;

  test('defaults and choices', () => {
    assert.deepEqual(props['fastsam.export.formats']?.default, DEFAULT_EXPORT_SETTINGS.formats);
    assert.deepEqual(props['fastsam.export.formats']?.items?.enum, [...EXPORT_FORMAT_IDS]);
    assert.equal(props['fastsam.export.outputFolder']?.default, '');
    assert.deepEqual(props['fastsam.export.fileNames']?.default, {});
    assert.deepEqual(Object.keys(props['fastsam.export.fileNames']?.properties ?? {}), [...EXPORT_FORMAT_IDS]);
    assert.equal(props['fastsam.export.polygonTolerance']?.default, DEFAULT_EXPORT_SETTINGS.polygonTolerance);
    assert.deepEqual([props['fastsam.export.polygonTolerance']?.minimum, props['fastsam.export.polygonTolerance']?.maximum], [0, MAX_POLYGON_TOLERANCE]);
    assert.equal(props['fastsam.export.cocoSegmentation']?.default, DEFAULT_EXPORT_SETTINGS.cocoSegmentation);
    assert.deepEqual(props['fastsam.export.cocoSegmentation']?.enum, [...COCO_SEGMENTATION_CHOICES]);
  });

  test('Export Masks… is a command, in the Explorer’s menu for folders and image files', () => {
    assert.ok(pkg.contributes.commands.some((c) => c.command === 'fastsam.exportMasks' && c.title === 'Export Masks…'));
    const item = pkg.contributes.menus['explorer/context']?.find((m) => m.command === 'fastsam.exportMasks');
    const when = item?.when ?? '';
    assert.ok(when.includes('explorerResourceIsFolder'), when);
    const extensions = /resourceExtname =~ \/(.*)\/i/.exec(when)?.[1];
    assert.ok(extensions);
    const re = new RegExp(extensions.replaceAll('\\\\', '\\'), 'i');
    for (const ext of ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']) assert.ok(re.test(ext), ext);
    assert.equal(re.test('.txt'), false);
  });
});

describe('format names without the image libraries', () => {
  test('are the registry’s, in its order', () => {
    assert.deepEqual(
      EXPORT_FORMAT_INFO,
      EXPORT_FORMATS.map(({ id, label, description, defaultName }) => ({ id, label, description, defaultName })),
    );
    assert.deepEqual(Object.keys(DEFAULT_FILE_NAMES), [...EXPORT_FORMAT_IDS]);
  });

  test('a file name with a subfolder marks as outputs only the images in such a folder', () => {
    const names = { mask: 'masks/{stem}.png', overlay: './preview/{stem}-overlay.jpg' };
    for (const file of ['masks/a.png', 'sub/masks/a.png', 'preview/a-overlay.jpg', 'x/a.cutout.png']) assert.ok(isOutputImageName(file, names), file);
    for (const file of ['a.png', 'sub/a.png', 'masks/sub/a.png', 'a-overlay.jpg', 'masks/a.jpg']) assert.ok(!isOutputImageName(file, names), file);
  });
});

/** vscode.Memento's get/update over a Map. */
function memento(initial: Record<string, unknown> = {}): FormatMemento & { values: Map<string, unknown> } {
  const values = new Map(Object.entries(initial));
  return { values, get: (key) => values.get(key), update: async (key, value) => void values.set(key, value) };
}

describe('the remembered choice of formats', () => {
  test('nothing chosen yet: the setting', () => {
    assert.deepEqual(preselectedFormats(memento(), ['coco', 'mask']), ['mask', 'coco']);
  });

  test('the last choice, while the setting stays what it was; a changed setting wins', async () => {
    const m = memento();
    const requests: FormatPickRequest[] = [];
    const pick = (answer: string[] | undefined) => async (r: FormatPickRequest) => {
      requests.push(r);
      return answer as never;
    };
    const files = DEFAULT_FILE_NAMES;
    assert.deepEqual(await chooseFormats(pick(['yolo', 'coco']), m, ['mask'], { title: 't', files }), ['coco', 'yolo']);
    assert.deepEqual(requests.at(-1)?.preselected, ['mask']);
    assert.deepEqual(m.values.get(LAST_FORMATS_KEY), { formats: ['coco', 'yolo'], setting: ['mask'] });
    assert.deepEqual(preselectedFormats(m, ['mask']), ['coco', 'yolo']);
    // Dismissed, or nothing checked: no formats, and the memory stays.
    assert.equal(await chooseFormats(pick(undefined), m, ['mask'], { title: 't', files }), undefined);
    assert.equal(await chooseFormats(pick([]), m, ['mask'], { title: 't', files }), undefined);
    assert.deepEqual(requests.at(-1)?.preselected, ['coco', 'yolo']);
    assert.deepEqual(preselectedFormats(m, ['overlay']), ['overlay']);
  });

  test('a damaged entry is ignored', () => {
    assert.deepEqual(preselectedFormats(memento({ [LAST_FORMATS_KEY]: { formats: ['png'], setting: ['mask'] } }), ['mask']), ['mask']);
    assert.deepEqual(preselectedFormats(memento({ [LAST_FORMATS_KEY]: 'coco' }), ['index']), ['index']);
  });
});

describe('Export Masks… words', () => {
  const summary = (s: Partial<BatchSummaryReport>): BatchSummaryReport => ({ total: 51, written: 48, skipped: 2, failed: [{ image: 'x.png', message: 'bad' }], remaining: 0, ...s });

  test('progress: n of N — file — about M s left (once known)', () => {
    const name = (p: string) => path.basename(p);
    assert.equal(progressMessage({ done: 3, total: 8, image: '/a/b/c.png', elapsedMs: 10, remainingMs: 4200 }, name), '3 of 8 — c.png — about 4 s left');
    assert.equal(progressMessage({ done: 0, total: 8, image: '/a/b/c.png', elapsedMs: 10 }, name), '0 of 8 — c.png');
    assert.equal(progressMessage({ done: 8, total: 8, elapsedMs: 10, remainingMs: 0 }, name), '8 of 8');
    assert.equal(formatRemaining(150_000), 'about 3 min left');
    assert.equal(formatRemaining(200), 'about 1 s left');
  });

  test('summary: done, cancelled, stopped, dataset not written', () => {
    assert.equal(summaryMessage(summary({})), 'Exported 48 images (2 skipped, 1 failed)');
    assert.equal(summaryMessage(summary({ written: 1, skipped: 0, failed: [] })), 'Exported 1 image (0 skipped, 0 failed)');
    assert.equal(
      summaryMessage(summary({ written: 10, skipped: 0, failed: [], remaining: 41, stopped: { reason: 'cancelled' } })),
      'Export cancelled: 10 images exported (0 skipped, 0 failed), 41 not reached. Run it again to continue where it stopped.',
    );
    assert.equal(summaryMessage(summary({ written: 3, stopped: { reason: 'fatal', message: 'the disk is full' } })), 'Export stopped after 3 images (2 skipped, 1 failed): the disk is full');
    assert.match(
      summaryMessage(summary({ dataset: { path: '/d/_annotations.coco.json', status: 'not-written', message: '1 of 51 images failed', images: 0, annotations: 0 } })),
      /^Exported 48 images \(2 skipped, 1 failed\)\. The COCO dataset file was not written: 1 of 51 images failed$/,
    );
  });
});

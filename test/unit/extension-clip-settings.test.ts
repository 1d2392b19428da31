import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_CLIP_MODEL } from '../../src/core/clip/clip-model';
import { clipDownloadsAllowed, DEFAULT_CLIP_MODEL_SETTING, readClipModel, resolveClipModel } from '../../src/extension/clip-settings';

describe('fastsam.clipModel', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-settings-'));
  fs.mkdirSync(path.join(ws, 'models', 'clip'), { recursive: true });
  after(() => fs.rmSync(ws, { recursive: true, force: true }));

  it('defaults to the core default, and warns about a value that is not a non-empty string', () => {
    assert.equal(DEFAULT_CLIP_MODEL_SETTING, DEFAULT_CLIP_MODEL);
    const warnings: string[] = [];
    const read = (value: unknown) => readClipModel({ get: () => value }, (m) => warnings.push(m));
    assert.equal(read(undefined), DEFAULT_CLIP_MODEL);
    assert.equal(warnings.length, 0);
    assert.equal(read(' Xenova/clip-vit-large-patch14 '), 'Xenova/clip-vit-large-patch14');
    assert.equal(read(''), DEFAULT_CLIP_MODEL);
    assert.equal(read(42), DEFAULT_CLIP_MODEL);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1]!, /fastsam\.clipModel must be a Hugging Face model id or a folder, got 42/);
  });

  it('resolves a workspace folder, ./ and ~ paths; a Hub id the workspace does not hold stays an id', async () => {
    const home = path.join(ws, 'home');
    assert.equal(await resolveClipModel('models/clip', { workspaceFolder: ws }), path.join(ws, 'models', 'clip'));
    assert.equal(await resolveClipModel('Xenova/clip-vit-base-patch32', { workspaceFolder: ws }), 'Xenova/clip-vit-base-patch32');
    assert.equal(await resolveClipModel('./missing', { workspaceFolder: ws }), path.join(ws, 'missing'), 'an explicit path stays a path, so its error names it');
    assert.equal(await resolveClipModel('~/clip', { homeDir: home }), path.join(home, 'clip'));
    assert.equal(await resolveClipModel('/opt/clip/../clip', { workspaceFolder: ws }), path.normalize('/opt/clip'));
    assert.equal(await resolveClipModel('models/clip'), 'models/clip', 'without a workspace it is passed on as written');
  });

  it('downloads unless HF_HUB_OFFLINE says not to', () => {
    assert.equal(clipDownloadsAllowed({}), true);
    assert.equal(clipDownloadsAllowed({ HF_HUB_OFFLINE: '1' }), false);
    assert.equal(clipDownloadsAllowed({ HF_HUB_OFFLINE: 'TRUE' }), false);
    assert.equal(clipDownloadsAllowed({ HF_HUB_OFFLINE: '0' }), true);
  });
});

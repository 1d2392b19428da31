/**
 * The clip-palette fixture CLIP model for tests, generated into a temporary
 * folder once per test process (so no test depends on `npm run fixtures`).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeClipPaletteFixture } from '../../scripts/fixtures/clip-fixture';

let folder: Promise<string> | undefined;

export function clipFixturePath(): Promise<string> {
  folder ??= (async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'fastsam-clip-')), 'clip-palette');
    await writeClipPaletteFixture(dir);
    return dir;
  })();
  return folder;
}

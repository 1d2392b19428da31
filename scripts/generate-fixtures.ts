/**
 * Writes the generated test fixtures under models/fixtures. Output is
 * byte-for-byte deterministic, so regenerating never changes a fixture
 * unless its builder or palette changed.
 */
import * as path from 'node:path';

import { writeClipPaletteFixture } from './fixtures/clip-fixture';
import { writePaletteFastSamModel } from './fixtures/palette-fastsam';

const FIXTURES_DIR = path.resolve(__dirname, '../models/fixtures');

async function main(): Promise<void> {
  const file = path.join(FIXTURES_DIR, 'palette-fastsam.onnx');
  await writePaletteFastSamModel(file);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  const clip = path.join(FIXTURES_DIR, 'clip-palette');
  await writeClipPaletteFixture(clip);
  console.log(`wrote ${path.relative(process.cwd(), clip)}/`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

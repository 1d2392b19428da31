/**
 * Writes the shape images of samples/shapes (scenes in scripts/sample-shapes.ts).
 *
 *   npx tsx scripts/make-sample-shapes.ts           write them
 *   npx tsx scripts/make-sample-shapes.ts --check   exit 1 if a committed file differs
 *
 * The README there is written by hand; this script never touches it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSample, SAMPLE_SHAPES, SAMPLE_SHAPES_DIR } from './sample-shapes';

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const unknown = process.argv.slice(2).filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`usage: tsx scripts/make-sample-shapes.ts [--check] (unknown: ${unknown.join(' ')})`);
    return 2;
  }
  fs.mkdirSync(SAMPLE_SHAPES_DIR, { recursive: true });
  let stale = 0;
  for (const sample of SAMPLE_SHAPES) {
    const file = path.join(SAMPLE_SHAPES_DIR, sample.file);
    const bytes = await encodeSample(sample);
    const rel = path.relative(process.cwd(), file);
    if (check) {
      const same = fs.existsSync(file) && fs.readFileSync(file).equals(bytes);
      if (!same) stale++;
      console.log(`${same ? 'up to date' : 'DIFFERS   '} ${rel}`);
    } else {
      fs.writeFileSync(file, bytes);
      console.log(`wrote ${rel} (${bytes.length} bytes)`);
    }
  }
  if (stale > 0) console.error(`${stale} file(s) differ from what scripts/sample-shapes.ts describes: run npx tsx scripts/make-sample-shapes.ts`);
  return stale > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);

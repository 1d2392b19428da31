/**
 * Benchmark photos of about 0.3, 3 and 12 megapixels, made once from the sample
 * photos (samples/photos, CC0 / public domain) and kept in bench/tmp. JPEG, as
 * photos usually are, so decode cost is realistic.
 */
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

export interface BenchPhoto {
  id: string;
  file: string;
  width: number;
  height: number;
  megapixels: number;
}

const SOURCE = path.resolve(__dirname, '../samples/photos/coffee.png');
const SIZES: [string, number, number][] = [
  ['0.3MP', 640, 480],
  ['3MP', 2048, 1536],
  ['12MP', 4000, 3000],
];

export async function benchPhotos(dir: string): Promise<BenchPhoto[]> {
  mkdirSync(dir, { recursive: true });
  const photos: BenchPhoto[] = [];
  for (const [id, width, height] of SIZES) {
    const file = path.join(dir, `coffee-${id}.jpg`);
    if (!existsSync(file)) {
      await sharp(SOURCE).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(file);
    }
    photos.push({ id, file, width, height, megapixels: Math.round((width * height) / 1e5) / 10 });
  }
  return photos;
}

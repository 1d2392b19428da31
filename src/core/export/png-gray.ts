/**
 * A grayscale PNG encoder for masks and index maps, 8 or 16 bits per pixel.
 * sharp encodes 8-bit images well but mangles raw 16-bit grayscale input, and an
 * index map beyond 255 masks needs 16 bits; one small encoder serves both.
 */
import * as zlib from 'node:zlib';

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** `pixels` row-major; Uint8Array for 8-bit, Uint16Array for 16-bit. */
export function encodeGrayPng(pixels: Uint8Array | Uint16Array, width: number, height: number): Buffer {
  const bytesPerPixel = pixels instanceof Uint16Array ? 2 : 1;
  if (pixels.length !== width * height) throw new RangeError(`Expected ${width * height} pixels, got ${pixels.length}`);
  const stride = width * bytesPerPixel + 1;
  const raw = Buffer.alloc(stride * height); // filter byte 0 (None) before each row
  for (let y = 0; y < height; y++) {
    const row = y * stride + 1;
    if (bytesPerPixel === 1) {
      raw.set((pixels as Uint8Array).subarray(y * width, (y + 1) * width), row);
    } else {
      for (let x = 0; x < width; x++) raw.writeUInt16BE(pixels[y * width + x]!, row + 2 * x);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bytesPerPixel * 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

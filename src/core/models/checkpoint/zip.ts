/**
 * A read-only zip reader for PyTorch checkpoints held in memory. PyTorch writes
 * its entries uncompressed (and 64-byte aligned), so stored entries are returned
 * as views of the file's bytes, without a copy; deflated entries (a checkpoint
 * re-zipped by another tool) are inflated with node:zlib. Zip64 records are
 * followed wherever a 32-bit field is saturated. Every entry read is checked
 * against its CRC-32, so a damaged download is reported as such instead of
 * surfacing later as nonsense weights.
 */
import { crc32, inflateRawSync } from 'node:zlib';

export class ZipFormatError extends Error {
  override name = 'ZipFormatError';
}

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const FLAG_ENCRYPTED = 0x1;

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class ZipArchive {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static open(file: Uint8Array): ZipArchive {
    // Plain Uint8Array views, whether the caller has a Buffer or not, so entries are one type.
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const eocd = findEndOfCentralDirectory(bytes, view);
    let count = view.getUint16(eocd + 10, true);
    let cdSize = view.getUint32(eocd + 12, true);
    let cdOffset = view.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      ({ count, cdSize, cdOffset } = readZip64End(view, eocd));
    }
    if (cdOffset + cdSize > bytes.length) throw new ZipFormatError('the central directory lies beyond the end of the file (truncated download?)');

    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || view.getUint32(p, true) !== CENTRAL_SIGNATURE) {
        throw new ZipFormatError(`central directory entry ${i} is damaged`);
      }
      const flags = view.getUint16(p + 8, true);
      const method = view.getUint16(p + 10, true);
      const crc = view.getUint32(p + 16, true);
      let compressedSize = view.getUint32(p + 20, true);
      let size = view.getUint32(p + 24, true);
      const nameLength = view.getUint16(p + 28, true);
      const extraLength = view.getUint16(p + 30, true);
      const commentLength = view.getUint16(p + 32, true);
      let localHeaderOffset = view.getUint32(p + 42, true);
      const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLength));
      if (flags & FLAG_ENCRYPTED) throw new ZipFormatError(`${name} is encrypted`);

      // The zip64 extra field holds, in this order, only the fields saturated above.
      const extraStart = p + 46 + nameLength;
      const zip64 = findExtraField(view, extraStart, extraStart + extraLength, ZIP64_EXTRA_ID);
      if (zip64 !== null) {
        let q = zip64.start;
        const next = (): number => {
          if (q + 8 > zip64.end) throw new ZipFormatError(`${name}: zip64 extra field too short`);
          const v = Number(view.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
      p = extraStart + extraLength + commentLength;
    }
    return new ZipArchive(bytes, view, entries);
  }

  /** The entry's bytes: a view into the archive when stored, a new buffer when deflated. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new ZipFormatError(`missing entry ${name}`);
    const h = entry.localHeaderOffset;
    if (h + 30 > this.bytes.length || this.view.getUint32(h, true) !== LOCAL_SIGNATURE) {
      throw new ZipFormatError(`${name}: local header is damaged`);
    }
    // The local extra field can differ from the central one (PyTorch pads it for alignment).
    const start = h + 30 + this.view.getUint16(h + 26, true) + this.view.getUint16(h + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) throw new ZipFormatError(`${name} extends beyond the end of the file (truncated download?)`);
    const raw = this.bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === METHOD_STORED) {
      data = raw;
    } else if (entry.method === METHOD_DEFLATE) {
      try {
        const inflated = inflateRawSync(raw);
        data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
      } catch (e) {
        throw new ZipFormatError(`${name}: cannot inflate (${(e as Error).message})`);
      }
    } else {
      throw new ZipFormatError(`${name} uses compression method ${entry.method}; only stored and deflate are supported`);
    }
    if (data.length !== entry.size) throw new ZipFormatError(`${name} has ${data.length} bytes, its directory says ${entry.size}`);
    if (crc32(data) !== entry.crc32) throw new ZipFormatError(`${name} fails its CRC check: the file is damaged`);
    return data;
  }
}

function findEndOfCentralDirectory(bytes: Uint8Array, view: DataView): number {
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let p = bytes.length - EOCD_SIZE; p >= lowest; p--) {
    if (view.getUint32(p, true) === EOCD_SIGNATURE && p + EOCD_SIZE + view.getUint16(p + 20, true) <= bytes.length) return p;
  }
  throw new ZipFormatError('not a zip archive (no end of central directory)');
}

function readZip64End(view: DataView, eocd: number): { count: number; cdSize: number; cdOffset: number } {
  const locator = eocd - 20;
  if (locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE) {
    throw new ZipFormatError('zip64 archive without its end-of-directory locator');
  }
  const record = Number(view.getBigUint64(locator + 8, true));
  if (record + 56 > view.byteLength || view.getUint32(record, true) !== ZIP64_EOCD_SIGNATURE) {
    throw new ZipFormatError('zip64 end-of-directory record is damaged');
  }
  return {
    count: Number(view.getBigUint64(record + 32, true)),
    cdSize: Number(view.getBigUint64(record + 40, true)),
    cdOffset: Number(view.getBigUint64(record + 48, true)),
  };
}

function findExtraField(view: DataView, start: number, end: number, id: number): { start: number; end: number } | null {
  for (let p = start; p + 4 <= end; ) {
    const fieldId = view.getUint16(p, true);
    const length = view.getUint16(p + 2, true);
    if (fieldId === id) return { start: p + 4, end: Math.min(end, p + 4 + length) };
    p += 4 + length;
  }
  return null;
}

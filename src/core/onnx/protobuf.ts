/**
 * A protobuf wire-format encoder covering what ONNX serialization needs: varints
 * (including negative int64), fixed32 floats, length-delimited bytes, strings and
 * nested messages, and packed repeated varints and floats.
 *
 * Models carry tens of megabytes of weights, so large byte payloads are kept by
 * reference and copied exactly once, into the final buffer; only small pieces are
 * gathered into a scratch buffer.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

// Below this size a copy is cheaper than tracking one more part.
const INLINE_LIMIT = 512;
const SCRATCH_BYTES = 256;

// Protobuf lengths are signed 32-bit; bigger messages need ONNX external data instead.
const MAX_MESSAGE_BYTES = 0x7fffffff;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

const utf8 = new TextEncoder();

export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private partsLength = 0;
  private scratch = new Uint8Array(SCRATCH_BYTES);
  private view = new DataView(this.scratch.buffer);
  private used = 0;

  get length(): number {
    return this.partsLength + this.used;
  }

  /** Writes a varint-typed field (int32, int64, uint64, enum, bool). */
  varintField(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** Writes a `float` field, which protobuf stores as little-endian fixed32. */
  floatField(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.float32(value);
    return this;
  }

  bytesField(field: number, bytes: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(bytes.length);
    this.raw(bytes);
    return this;
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, utf8.encode(value));
  }

  /** Writes a nested message whose content `build` writes into a fresh writer. */
  messageField(field: number, build: (writer: ProtoWriter) => void): this {
    const child = new ProtoWriter();
    build(child);
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(child.length);
    this.append(child);
    return this;
  }

  /** Writes a packed repeated varint field; an empty list writes nothing, as protobuf encoders do. */
  packedVarintField(field: number, values: ArrayLike<number | bigint>): this {
    if (values.length === 0) return this;
    return this.messageField(field, (w) => {
      for (let i = 0; i < values.length; i++) w.varint(values[i]);
    });
  }

  /** Writes a packed repeated `float` field; an empty list writes nothing. */
  packedFloatField(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(values.length * 4);
    for (let i = 0; i < values.length; i++) this.float32(values[i]);
    return this;
  }

  /** Returns the encoded message as one contiguous buffer. */
  finish(): Uint8Array {
    const total = this.length;
    if (total > MAX_MESSAGE_BYTES) {
      throw new RangeError(`protobuf message of ${total} bytes exceeds the 2 GiB protobuf limit`);
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    out.set(this.scratch.subarray(0, this.used), offset);
    return out;
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) {
      throw new RangeError(`invalid protobuf field number ${field}`);
    }
    this.varint(field * 8 + wireType);
  }

  private varint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new RangeError(`varint value ${value} is not a safe integer`);
      if (value >= 0) {
        this.reserve(10);
        const s = this.scratch;
        // Division instead of bit shifts: JS shifts truncate to 32 bits.
        while (value > 0x7f) {
          s[this.used++] = (value % 128) | 0x80;
          value = Math.floor(value / 128);
        }
        s[this.used++] = value;
        return;
      }
      value = BigInt(value);
    }
    if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`varint value ${value} does not fit in 64 bits`);
    // Negative int64 values are encoded as their 64-bit two's complement (ten bytes).
    let v = BigInt.asUintN(64, value);
    this.reserve(10);
    const s = this.scratch;
    while (v > 0x7fn) {
      s[this.used++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    s[this.used++] = Number(v);
  }

  private float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.used, value, true);
    this.used += 4;
  }

  private raw(bytes: Uint8Array): void {
    if (bytes.length < INLINE_LIMIT) {
      this.reserve(bytes.length);
      this.scratch.set(bytes, this.used);
      this.used += bytes.length;
      return;
    }
    this.flushScratch();
    this.parts.push(bytes);
    this.partsLength += bytes.length;
  }

  private append(child: ProtoWriter): void {
    if (child.length < INLINE_LIMIT) {
      this.raw(child.finish());
      return;
    }
    this.flushScratch();
    child.flushScratch();
    for (const part of child.parts) this.parts.push(part);
    this.partsLength += child.partsLength;
  }

  private flushScratch(): void {
    if (this.used === 0) return;
    this.parts.push(this.scratch.subarray(0, this.used));
    this.partsLength += this.used;
    this.scratch = new Uint8Array(SCRATCH_BYTES);
    this.view = new DataView(this.scratch.buffer);
    this.used = 0;
  }

  private reserve(extra: number): void {
    const needed = this.used + extra;
    if (needed <= this.scratch.length) return;
    const grown = new Uint8Array(Math.max(needed, this.scratch.length * 2));
    grown.set(this.scratch.subarray(0, this.used));
    this.scratch = grown;
    this.view = new DataView(grown.buffer);
  }
}

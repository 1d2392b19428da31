/**
 * A restricted unpickler: it reads the pickle opcodes that `torch.save` and
 * CPython's pickler emit for checkpoints (protocols 2 to 5) and builds plain
 * JavaScript values. It never runs anything: a global (GLOBAL / STACK_GLOBAL)
 * is looked up through the caller's resolver, which either returns one of a few
 * known, side-effect-free constructors or refuses the global, and the refusal
 * stops unpickling. Text-protocol opcodes (INST, OBJ, …), out-of-band buffers
 * and unknown opcodes are refused too.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint
 * beyond 2^53), float → number, str → string, bytes → Uint8Array, list →
 * array, tuple → frozen array, dict → Map, set → Set, and instances of allowed
 * classes → whatever the resolver builds (usually an inert {@link PyObject}).
 */

/** The file tried to reach a global outside the allowlist; it may be malicious. */
export class UnsafePickleError extends Error {
  override name = 'UnsafePickleError';
}

export class PickleFormatError extends Error {
  override name = 'PickleFormatError';
}

/** A global the resolver allows: calling it builds a value, with no other effect. */
export interface PickleCallable {
  /** "module.name", for messages. */
  readonly qualifiedName: string;
  call(args: readonly unknown[]): unknown;
}

export interface UnpickleOptions {
  /** Returns the allowed global, or throws UnsafePickleError. */
  resolveGlobal(module: string, name: string): PickleCallable;
  /** Resolves BINPERSID references (torch storages); without it they are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/**
 * An instance of an allowed class, kept as data: its class name, constructor
 * arguments and the state BUILD gave it (for torch modules, their `__dict__`).
 */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly className: string,
    readonly args: readonly unknown[],
  ) {}

  /** An entry of a dict state (`__dict__`), or undefined. */
  get(name: string): unknown {
    const s = this.state;
    if (s instanceof Map) return s.get(name);
    // (dict state, slot state) pairs, as protocol 2 writes for classes with __slots__.
    if (Array.isArray(s) && s.length === 2) {
      for (const part of s) if (part instanceof Map && part.has(name)) return part.get(name);
    }
    return undefined;
  }
}

const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32,
  BINFLOAT: 0x47, BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, NONE: 0x4e,
  BINPERSID: 0x51, REDUCE: 0x52, BINUNICODE: 0x58, EMPTY_LIST: 0x5d, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, APPENDS: 0x65, BINGET: 0x68, LONG_BINGET: 0x6a,
  BINPUT: 0x71, LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, SETITEMS: 0x75,
  EMPTY_DICT: 0x7d, EMPTY_TUPLE: 0x29, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  PROTO: 0x80, NEWOBJ: 0x81, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90, FROZENSET: 0x91,
  NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Module and class names are short; a longer "line" is a damaged or hostile file. */
const MAX_GLOBAL_NAME = 1024;

export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(data, options).load();
}

class Unpickler {
  private pos = 0;
  private stack: unknown[] = [];
  private readonly marks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  load(): unknown {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case OP.PROTO: {
          const version = this.u8();
          if (version > 5) throw new PickleFormatError(`pickle protocol ${version} is newer than 5`);
          break;
        }
        case OP.FRAME:
          this.take(8); // frames only group opcodes for buffered reading
          break;
        case OP.STOP:
          if (this.stack.length !== 1 || this.marks.length !== 0) throw new PickleFormatError('unbalanced stack at STOP');
          return this.stack[0];
        case OP.MARK:
          this.marks.push(this.stack);
          this.stack = [];
          break;
        case OP.POP:
          this.pop();
          break;
        case OP.POP_MARK:
          this.popMark();
          break;
        case OP.DUP:
          this.stack.push(this.top());
          break;
        case OP.NONE:
          this.stack.push(null);
          break;
        case OP.NEWTRUE:
          this.stack.push(true);
          break;
        case OP.NEWFALSE:
          this.stack.push(false);
          break;
        case OP.BININT:
          this.stack.push(this.view.getInt32(this.skip(4), true));
          break;
        case OP.BININT1:
          this.stack.push(this.u8());
          break;
        case OP.BININT2:
          this.stack.push(this.view.getUint16(this.skip(2), true));
          break;
        case OP.LONG1:
          this.stack.push(decodeLong(this.take(this.u8())));
          break;
        case OP.LONG4:
          this.stack.push(decodeLong(this.take(this.length(4))));
          break;
        case OP.BINFLOAT:
          this.stack.push(this.view.getFloat64(this.skip(8), false));
          break;
        case OP.SHORT_BINUNICODE:
          this.stack.push(this.text(this.u8()));
          break;
        case OP.BINUNICODE:
          this.stack.push(this.text(this.length(4)));
          break;
        case OP.BINUNICODE8:
          this.stack.push(this.text(this.length(8)));
          break;
        case OP.SHORT_BINBYTES:
          this.stack.push(Uint8Array.from(this.take(this.u8())));
          break;
        case OP.BINBYTES:
          this.stack.push(Uint8Array.from(this.take(this.length(4))));
          break;
        case OP.BINBYTES8:
          this.stack.push(Uint8Array.from(this.take(this.length(8))));
          break;
        case OP.EMPTY_LIST:
          this.stack.push([]);
          break;
        case OP.EMPTY_DICT:
          this.stack.push(new Map());
          break;
        case OP.EMPTY_SET:
          this.stack.push(new Set());
          break;
        case OP.EMPTY_TUPLE:
          this.stack.push(Object.freeze([]));
          break;
        case OP.TUPLE: {
          // popMark() replaces this.stack: take the items before pushing.
          const items = this.popMark();
          this.stack.push(Object.freeze(items));
          break;
        }
        case OP.TUPLE1:
        case OP.TUPLE2:
        case OP.TUPLE3: {
          const n = op - OP.TUPLE1 + 1;
          if (this.stack.length < n) throw this.underflow(at);
          this.stack.push(Object.freeze(this.stack.splice(this.stack.length - n, n)));
          break;
        }
        case OP.FROZENSET: {
          const items = this.popMark();
          this.stack.push(new Set(items));
          break;
        }
        case OP.APPEND: {
          const value = this.pop();
          this.list(this.top(), at).push(value);
          break;
        }
        case OP.APPENDS: {
          const items = this.popMark();
          this.list(this.top(), at).push(...items);
          break;
        }
        case OP.SETITEM: {
          const value = this.pop();
          const key = this.pop();
          this.dict(this.top(), at).set(key, value);
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark();
          if (items.length % 2 !== 0) throw new PickleFormatError(`SETITEMS with an odd item count at byte ${at}`);
          const dict = this.dict(this.top(), at);
          for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
          break;
        }
        case OP.ADDITEMS: {
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) throw new PickleFormatError(`ADDITEMS on a non-set at byte ${at}`);
          for (const item of items) set.add(item);
          break;
        }
        case OP.BINPUT:
          this.memo.set(this.u8(), this.top());
          break;
        case OP.LONG_BINPUT:
          this.memo.set(this.view.getUint32(this.skip(4), true), this.top());
          break;
        case OP.MEMOIZE:
          this.memo.set(this.memo.size, this.top());
          break;
        case OP.BINGET:
          this.stack.push(this.recall(this.u8(), at));
          break;
        case OP.LONG_BINGET:
          this.stack.push(this.recall(this.view.getUint32(this.skip(4), true), at));
          break;
        case OP.GLOBAL: {
          const module = this.line();
          const name = this.line();
          this.stack.push(this.options.resolveGlobal(module, name));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw new PickleFormatError(`STACK_GLOBAL without names at byte ${at}`);
          this.stack.push(this.options.resolveGlobal(module, name));
          break;
        }
        case OP.REDUCE: {
          const args = this.pop();
          const callable = this.pop();
          this.stack.push(this.call(callable, args, at));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.call(cls, args, at));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size > 0) throw new PickleFormatError(`NEWOBJ_EX with keyword arguments at byte ${at}`);
          this.stack.push(this.call(cls, args, at));
          break;
        }
        case OP.BUILD: {
          const state = this.pop();
          const target = this.top();
          if (!(target instanceof PyObject)) throw new PickleFormatError(`BUILD on ${describe(target)} at byte ${at}`);
          target.state = state;
          break;
        }
        case OP.BINPERSID: {
          const pid = this.pop();
          if (!this.options.persistentLoad) throw new UnsafePickleError('the pickle references external data (BINPERSID)');
          this.stack.push(this.options.persistentLoad(pid));
          break;
        }
        default:
          throw new PickleFormatError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
      }
    }
  }

  private call(callable: unknown, args: unknown, at: number): unknown {
    if (!isCallable(callable)) throw new PickleFormatError(`call of ${describe(callable)} at byte ${at}`);
    if (!Array.isArray(args)) throw new PickleFormatError(`${callable.qualifiedName} called without an argument tuple at byte ${at}`);
    return callable.call(args);
  }

  private u8(): number {
    if (this.pos >= this.data.length) throw new PickleFormatError('unexpected end of pickle data');
    return this.data[this.pos++]!;
  }

  /** Advances over n bytes and returns where they start. */
  private skip(n: number): number {
    if (this.pos + n > this.data.length) throw new PickleFormatError('unexpected end of pickle data');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private take(n: number): Uint8Array {
    const at = this.skip(n);
    return this.data.subarray(at, at + n);
  }

  private length(bytes: 4 | 8): number {
    const n = bytes === 4 ? this.view.getUint32(this.skip(4), true) : Number(this.view.getBigUint64(this.skip(8), true));
    if (n > this.data.length - this.pos) throw new PickleFormatError(`a ${n}-byte value runs past the end of the pickle`);
    return n;
  }

  private text(n: number): string {
    try {
      return utf8.decode(this.take(n));
    } catch {
      throw new PickleFormatError(`invalid UTF-8 string at byte ${this.pos - n}`);
    }
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > MAX_GLOBAL_NAME) throw new PickleFormatError(`unterminated GLOBAL name at byte ${this.pos}`);
    const s = String.fromCharCode(...this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private top(): unknown {
    if (this.stack.length === 0) throw this.underflow(this.pos - 1);
    return this.stack[this.stack.length - 1];
  }

  private pop(): unknown {
    if (this.stack.length === 0) throw this.underflow(this.pos - 1);
    return this.stack.pop();
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const previous = this.marks.pop();
    if (!previous) throw new PickleFormatError(`no MARK before byte ${this.pos - 1}`);
    this.stack = previous;
    return items;
  }

  private recall(index: number, at: number): unknown {
    if (!this.memo.has(index)) throw new PickleFormatError(`memo entry ${index} read before it was written, at byte ${at}`);
    return this.memo.get(index);
  }

  private list(value: unknown, at: number): unknown[] {
    if (!Array.isArray(value) || Object.isFrozen(value)) throw new PickleFormatError(`APPEND on ${describe(value)} at byte ${at}`);
    return value;
  }

  private dict(value: unknown, at: number): Map<unknown, unknown> {
    if (!(value instanceof Map)) throw new PickleFormatError(`SETITEM on ${describe(value)} at byte ${at}`);
    return value;
  }

  private underflow(at: number): PickleFormatError {
    return new PickleFormatError(`stack underflow at byte ${at}`);
  }
}

function isCallable(value: unknown): value is PickleCallable {
  return typeof value === 'object' && value !== null && typeof (value as PickleCallable).call === 'function' && typeof (value as PickleCallable).qualifiedName === 'string';
}

/** Little-endian two's complement, as LONG1 / LONG4 store Python ints. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

export function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof PyObject) return value.className;
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'a tuple' : 'a list';
  if (isCallable(value)) return value.qualifiedName;
  return typeof value;
}

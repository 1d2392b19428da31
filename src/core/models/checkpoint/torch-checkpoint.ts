/**
 * Reads a PyTorch checkpoint (`torch.save`'s zip format) without Python:
 * `<archive>/data.pkl` is unpickled with a fixed allowlist of globals, and each
 * tensor's `storage` persistent id is mapped to the raw little-endian bytes in
 * `<archive>/data/<key>`. The allowlist holds only constructors whose effect we
 * implement here (tensors, storages, OrderedDict, set, torch.Size, bytes), and
 * classes that become inert {@link PyObject} records: model modules
 * (`ultralytics.*`, `torch.nn.modules.*`) and the plain data types training
 * metadata is made of (namespaces, paths, numpy scalars). Everything else —
 * `os.system`, `builtins.eval`, `subprocess.Popen`, … — is refused, so reading a
 * checkpoint can never do more than allocate memory.
 */
import { type PickleCallable, PickleFormatError, PyObject, describe, unpickle, UnsafePickleError } from './pickle';
import { ZipArchive, ZipFormatError } from './zip';

export type TorchDtype = 'float16' | 'bfloat16' | 'float32' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const ELEMENT_BYTES: Readonly<Record<TorchDtype, number>> = {
  float16: 2, bfloat16: 2, float32: 4, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** torch dtypes a checkpoint may name (`GLOBAL torch float16`), kept as records. */
const TORCH_DTYPE_NAMES = new Set([
  'float16', 'half', 'bfloat16', 'float32', 'float', 'float64', 'double', 'int64', 'long', 'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool',
]);

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** A storage's raw bytes, read from the archive on first use. */
export class TorchStorage {
  private cached: Uint8Array | undefined;
  constructor(
    readonly dtype: TorchDtype,
    readonly key: string,
    readonly numel: number,
    private readonly load: () => Uint8Array,
  ) {}

  get bytes(): Uint8Array {
    if (!this.cached) {
      const bytes = this.load();
      if (bytes.length < this.numel * ELEMENT_BYTES[this.dtype]) {
        throw new CheckpointError(`storage ${this.key} has ${bytes.length} bytes; ${this.numel} ${this.dtype} values need ${this.numel * ELEMENT_BYTES[this.dtype]}`);
      }
      this.cached = bytes;
    }
    return this.cached;
  }
}

export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {
    if (shape.length !== stride.length) throw new CheckpointError(`tensor of shape [${shape}] has strides [${stride}]`);
    let last = offset;
    for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
    if (this.numel > 0 && (offset < 0 || last >= storage.numel)) {
      throw new CheckpointError(`tensor of shape [${shape}] at offset ${offset} lies outside its storage of ${storage.numel} values`);
    }
  }

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The values as float32, in row-major order (whatever the strides). */
  toFloat32(): Float32Array {
    const read = floatReader(this.storage);
    const n = this.numel;
    const out = new Float32Array(n);
    if (this.isContiguous()) {
      for (let i = 0; i < n; i++) out[i] = read(this.offset + i);
      return out;
    }
    const rank = this.shape.length;
    const index = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let at = this.offset;
      for (let d = 0; d < rank; d++) at += index[d]! * this.stride[d]!;
      out[i] = read(at);
      for (let d = rank - 1; d >= 0; d--) {
        if (++index[d]! < this.shape[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  }

  private isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expected) return false;
      expected *= this.shape[d]!;
    }
    return true;
  }
}

let halfTable: Float32Array | undefined;

/** float16 bit patterns → float32 values, built once (256 KB). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    let v: number;
    if (exponent === 0) v = fraction * 2 ** -24;
    else if (exponent === 31) v = fraction === 0 ? Infinity : NaN;
    else v = (1 + fraction / 1024) * 2 ** (exponent - 15);
    halfTable[h] = sign * v;
  }
  return halfTable;
}

function floatReader(storage: TorchStorage): (index: number) => number {
  const bytes = storage.bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (storage.dtype) {
    case 'float16': {
      const table = halfToFloatTable();
      return (i) => table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
    }
    case 'bfloat16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      return (i) => {
        u[0] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16;
        return f[0]!;
      };
    }
    case 'float32':
      return (i) => view.getFloat32(4 * i, true);
    case 'float64':
      return (i) => view.getFloat64(8 * i, true);
    default:
      throw new CheckpointError(`storage ${storage.key} holds ${storage.dtype} values, not floating point`);
  }
}

/** Inert record classes: modules and the plain data of training metadata. */
const INERT_MODULE_PREFIXES = ['ultralytics.', 'torch.nn.modules.'];
const INERT_GLOBALS = new Set([
  'torch.device',
  'torch.nn.parameter.Parameter',
  'types.SimpleNamespace',
  'argparse.Namespace',
  'pathlib.Path',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
  'numpy.dtype',
  'numpy.ndarray',
  'numpy.core.multiarray.scalar',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy._core.multiarray._reconstruct',
  'dill._dill._load_type',
]);

function callable(qualifiedName: string, call: (args: readonly unknown[]) => unknown): PickleCallable {
  return { qualifiedName, call };
}

function inertClass(qualifiedName: string): PickleCallable {
  return callable(qualifiedName, (args) => new PyObject(qualifiedName, args));
}

/** A storage type: only ever named inside a `storage` persistent id, never called. */
interface StorageType extends PickleCallable {
  readonly storageDtype: TorchDtype;
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new CheckpointError(`${what} is ${describe(value)}, not an integer`);
  return value;
}

function intTuple(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new CheckpointError(`${what} is ${describe(value)}, not a tuple`);
  return value.map((v, i) => int(v, `${what}[${i}]`));
}

function rebuildTensor(args: readonly unknown[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new CheckpointError(`_rebuild_tensor_v2 got ${describe(storage)} instead of a storage`);
  return new TorchTensor(storage, int(offset, 'tensor offset'), intTuple(size, 'tensor size'), intTuple(stride, 'tensor stride'));
}

function tensorArgument(value: unknown, what: string): TorchTensor {
  if (!(value instanceof TorchTensor)) throw new CheckpointError(`${what} got ${describe(value)} instead of a tensor`);
  return value;
}

function resolveCheckpointGlobal(module: string, name: string): PickleCallable {
  const qualified = `${module}.${name}`;
  if (module === 'torch._utils') {
    if (name === '_rebuild_tensor_v2') return callable(qualified, rebuildTensor);
    // Parameters are tensors here: requires_grad and hooks mean nothing for inference.
    if (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state') {
      return callable(qualified, (args) => tensorArgument(args[0], qualified));
    }
  }
  if (qualified === 'torch._tensor._rebuild_from_type_v2') {
    // (func, type, args, state): a tensor subclass or a tensor with Python attributes.
    return callable(qualified, (args) => {
      const [func, , funcArgs] = args;
      if (typeof func !== 'object' || func === null || !('call' in func) || !Array.isArray(funcArgs)) {
        throw new CheckpointError(`${qualified} got ${describe(func)}`);
      }
      return tensorArgument((func as PickleCallable).call(funcArgs), qualified);
    });
  }
  if (module === 'torch') {
    const dtype = STORAGE_TYPES[name];
    if (dtype) {
      const type: StorageType = {
        qualifiedName: qualified,
        storageDtype: dtype,
        call: () => {
          throw new CheckpointError(`${qualified} called directly; storages must come from the archive`);
        },
      };
      return type;
    }
    if (name === 'Size') return callable(qualified, (args) => Object.freeze(intTuple(args[0] ?? [], 'torch.Size')));
    if (name === 'device' || TORCH_DTYPE_NAMES.has(name)) return inertClass(qualified);
  }
  if (qualified === 'collections.OrderedDict') {
    return callable(qualified, (args) => new Map(args.length > 0 ? pairs(args[0], qualified) : []));
  }
  if ((module === 'builtins' || module === '__builtin__') && (name === 'set' || name === 'frozenset')) {
    return callable(qualified, (args) => new Set(args.length > 0 ? iterable(args[0], qualified) : []));
  }
  // A bound method (`m.forward = m.forward_fuse`) pickles as getattr(obj, name): keep the reference, never resolve it.
  if ((module === 'builtins' || module === '__builtin__') && name === 'getattr') return inertClass(qualified);
  // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
  if (qualified === '_codecs.encode') {
    return callable(qualified, (args) => {
      const [text, encoding] = args;
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw new CheckpointError(`${qualified} with ${describe(encoding)}`);
      return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    });
  }
  if (INERT_GLOBALS.has(qualified) || (module.startsWith('numpy.dtypes') && name.endsWith('DType'))) return inertClass(qualified);
  if (INERT_MODULE_PREFIXES.some((p) => module.startsWith(p))) return inertClass(qualified);
  throw new UnsafePickleError(`refused global ${qualified}: a checkpoint may only reference tensors and model classes, so this file may be malicious`);
}

function pairs(value: unknown, what: string): [unknown, unknown][] {
  return iterable(value, what).map((p) => {
    if (!Array.isArray(p) || p.length !== 2) throw new CheckpointError(`${what} item is ${describe(p)}, not a pair`);
    return [p[0], p[1]];
  });
}

function iterable(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  throw new CheckpointError(`${what} got ${describe(value)}`);
}

function isStorageType(value: unknown): value is StorageType {
  return typeof value === 'object' && value !== null && 'storageDtype' in value;
}

export interface TorchCheckpoint {
  /** The unpickled object (for Ultralytics: a dict with 'model', 'train_args', …). */
  readonly root: unknown;
  /** The archive folder inside the zip ("FastSAM-s", "archive", …). */
  readonly archiveName: string;
}

/**
 * Reads a checkpoint held in memory. Stored storages stay views into `bytes`,
 * so the caller keeps `bytes` alive as long as tensors are read.
 */
export function readTorchCheckpoint(bytes: Uint8Array): TorchCheckpoint {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) {
    throw new CheckpointError('the file uses PyTorch’s legacy (pre-1.6) format; re-save it with a current torch.save');
  }
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(bytes);
  } catch (e) {
    if (e instanceof ZipFormatError) throw new CheckpointError(`not a PyTorch checkpoint: ${e.message}`);
    throw e;
  }
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) throw new CheckpointError(`not a PyTorch checkpoint: expected one <archive>/data.pkl, found ${pickles.length}`);
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);

  const byteorder = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (byteorder !== 'little') throw new CheckpointError(`the checkpoint was saved on a ${byteorder}-endian machine; only little-endian checkpoints are supported`);

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new CheckpointError(`unknown persistent id ${describe(pid)}`);
    const [, type, key, , numel] = pid;
    if (!isStorageType(type)) throw new CheckpointError(`storage of type ${describe(type)}`);
    if (typeof key !== 'string' || !/^\w+$/.test(key)) throw new CheckpointError(`storage key ${describe(key)}`);
    let storage = storages.get(key);
    if (!storage) {
      storage = new TorchStorage(type.storageDtype, key, int(numel, 'storage size'), () => zip.read(`${prefix}data/${key}`));
      storages.set(key, storage);
    } else if (storage.dtype !== type.storageDtype) {
      throw new CheckpointError(`storage ${key} is read as both ${storage.dtype} and ${type.storageDtype}`);
    }
    return storage;
  };

  try {
    const root = unpickle(zip.read(pickles[0]!), { resolveGlobal: resolveCheckpointGlobal, persistentLoad });
    return { root, archiveName: prefix.slice(0, -1) };
  } catch (e) {
    if (e instanceof ZipFormatError || e instanceof PickleFormatError) throw new CheckpointError(`damaged checkpoint: ${e.message}`);
    throw e;
  }
}

export interface ModuleTree {
  /** Parameters and buffers by state-dict name, e.g. "model.0.conv.weight". */
  readonly tensors: ReadonlyMap<string, TorchTensor>;
  /** Modules by path: "" is the root, e.g. "model.0.conv". */
  readonly modules: ReadonlyMap<string, PyObject>;
}

/** Walks a pickled nn.Module's `_modules`, `_parameters` and `_buffers`, as `state_dict()` names them. */
export function flattenModule(root: PyObject): ModuleTree {
  const tensors = new Map<string, TorchTensor>();
  const modules = new Map<string, PyObject>();
  const pending: [string, PyObject][] = [['', root]];
  while (pending.length > 0) {
    const [path, module] = pending.pop()!;
    modules.set(path, module);
    const prefix = path === '' ? '' : `${path}.`;
    for (const field of ['_parameters', '_buffers']) {
      const entries = module.get(field);
      if (entries === undefined || entries === null) continue;
      if (!(entries instanceof Map)) throw new CheckpointError(`${path || 'model'}.${field} is ${describe(entries)}`);
      for (const [name, value] of entries) {
        if (value === null) continue;
        if (!(value instanceof TorchTensor)) throw new CheckpointError(`${prefix}${String(name)} is ${describe(value)}, not a tensor`);
        tensors.set(`${prefix}${String(name)}`, value);
      }
    }
    const children = module.get('_modules');
    if (children instanceof Map) {
      for (const [name, child] of children) {
        if (child === null) continue;
        if (!(child instanceof PyObject)) throw new CheckpointError(`${prefix}${String(name)} is ${describe(child)}, not a module`);
        pending.push([`${prefix}${String(name)}`, child]);
      }
    }
  }
  return { tensors, modules };
}

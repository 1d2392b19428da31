/**
 * CLIP (image and text encoders with projection) through @huggingface/transformers,
 * which runs the ONNX exports on onnxruntime-node, the runtime the engine uses.
 *
 * A model is a Hugging Face Hub id (downloaded once into a cache folder) or a
 * local folder in the layout transformers.js loads: config.json, tokenizer.json,
 * tokenizer_config.json, preprocessor_config.json, onnx/text_model.onnx and
 * onnx/vision_model.onnx. Inputs and outputs are plain data (RGB pixels,
 * strings, Float32Arrays), so a worker thread can host it.
 */
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
// The package is ESM (its types too); it is loaded with import() at run time, hence the resolution mode.
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };

import { UserFacingError } from '../errors';
import type { RgbImage } from '../image/decode';
import { type Logger, silentLogger } from '../logger';

/** The CLIP that FastSAM's reference uses (ViT-B/32), as a transformers.js ONNX export. */
export const DEFAULT_CLIP_MODEL = 'Xenova/clip-vit-base-patch32';

/** Files a local CLIP folder must hold, relative to it. */
export const CLIP_MODEL_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'preprocessor_config.json',
  'onnx/text_model.onnx',
  'onnx/vision_model.onnx',
] as const;

/** Encoded queries kept per model: typing variations of a few prompts, without unbounded growth. */
export const TEXT_CACHE_SIZE = 64;

export type ClipModelErrorCode = 'offline' | 'not-found' | 'download' | 'broken';

/** The CLIP model cannot be used; the message says which model and what to do. */
export class ClipModelError extends UserFacingError {
  override name = 'ClipModelError';
  constructor(
    readonly code: ClipModelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A step of loading, from transformers' progress events; `loaded`/`total` in bytes when known. */
export interface ClipLoadProgress {
  status: 'initiate' | 'download' | 'progress' | 'done' | 'progress_total';
  /** The file within the model, absent for the total over all files. */
  file?: string;
  /** 0–100 when known. */
  progress?: number;
  loaded?: number;
  total?: number;
}

export interface ClipModelOptions {
  /** Hub id ("owner/name") or local folder; default DEFAULT_CLIP_MODEL. */
  model?: string;
  /** Where Hub downloads are cached; default `defaultClipCacheDir()`. */
  cacheDir?: string;
  /** False: never download, use only the cache or a local folder. Default true. */
  allowRemote?: boolean;
  /**
   * How error messages tell the user to choose a local folder instead, e.g.
   * 'set fastsam.clipModel to a local folder' or 'pass a local folder with --clip-model'.
   */
  localFolderHint?: string;
  /** Threads per model run; 0 or absent lets onnxruntime decide. */
  intraOpThreads?: number;
  onProgress?: (progress: ClipLoadProgress) => void;
  logger?: Logger;
}

/** Model runs so far: tests and benchmarks use them to prove what a call cost. */
export interface ClipCounters {
  /** Vision model runs (one per batch of images). */
  visionRuns: number;
  imagesEmbedded: number;
  /** Text model runs. */
  textRuns: number;
  /** Queries answered from the text cache, with no model run. */
  textCacheHits: number;
}

/** The per-user cache folder for downloaded CLIP models (XDG on Linux, Library/Caches on macOS, LOCALAPPDATA on Windows). */
export function defaultClipCacheDir(): string {
  const base =
    process.platform === 'win32'
      ? (process.env.LOCALAPPDATA ?? path.join(homedir(), 'AppData', 'Local'))
      : process.platform === 'darwin'
        ? path.join(homedir(), 'Library', 'Caches')
        : (process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'));
  return path.join(base, 'fastsam-vscode', 'clip');
}

type Library = typeof Transformers;

interface Parts {
  tokenizer: Transformers.PreTrainedTokenizer;
  processor: Transformers.Processor;
  text: Transformers.PreTrainedModel;
  vision: Transformers.PreTrainedModel;
}

/** transformers' Hub id pattern (utils/hub/constants.js): what it would try to download. */
const HUB_ID = /^(\b[\w\-.]+\b\/)?\b[\w\-.]{1,96}\b$/;

/** Where a model comes from: a local folder (absolute path) or a Hub id. */
async function resolveSource(model: string): Promise<{ kind: 'folder' | 'hub'; location: string }> {
  const expanded = model === '~' || model.startsWith('~/') || model.startsWith('~\\') ? path.join(homedir(), model.slice(1)) : model;
  const absolute = path.resolve(expanded);
  const stat = await fs.stat(absolute).catch(() => null);
  if (stat?.isDirectory()) return { kind: 'folder', location: absolute };
  const looksLikePath = path.isAbsolute(expanded) || expanded !== model || /^\.\.?([/\\]|$)/.test(model) || model.includes('\\');
  if (!looksLikePath && HUB_ID.test(model) && !model.includes('..') && !model.includes('--')) return { kind: 'hub', location: model };
  throw new ClipModelError(
    'not-found',
    stat ? `CLIP model "${model}" is a file; it must be a folder (${CLIP_MODEL_FILES.join(', ')}) or a Hugging Face model id`
      : `CLIP model folder "${model}" does not exist`,
  );
}

async function checkFolder(model: string, folder: string): Promise<void> {
  const missing: string[] = [];
  for (const file of CLIP_MODEL_FILES) {
    const stat = await fs.stat(path.join(folder, file)).catch(() => null);
    if (!stat?.isFile()) missing.push(file);
  }
  if (missing.length > 0) {
    throw new ClipModelError('not-found', `CLIP model folder "${model}" is incomplete: ${missing.join(', ')} missing`);
  }
}

/** First line of an error's message, for one-line reports. */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.replace(/^An error occurred during model execution: /, '').trim();
}

function checkNames(role: string, model: string, session: unknown, inputs: readonly string[], output: string): void {
  const s = session as { inputNames?: readonly string[]; outputNames?: readonly string[] } | undefined;
  const missing = [...inputs.filter((n) => !s?.inputNames?.includes(n)), ...(s?.outputNames?.includes(output) ? [] : [output])];
  if (missing.length > 0) {
    throw new ClipModelError(
      'broken',
      `CLIP model "${model}" cannot be used: its ${role} model lacks ${missing.join(', ')} (expected ${inputs.join(', ')} → ${output})`,
    );
  }
}

/** The square side the processor resizes to: crops made at this size pass its resize and crop unchanged. */
function processorInputSide(processor: Transformers.Processor, model: string): number {
  const ip = processor.image_processor as unknown as { size?: unknown; crop_size?: unknown; do_center_crop?: boolean } | undefined;
  const side = (v: unknown): number | undefined => {
    if (typeof v === 'number') return v;
    if (v && typeof v === 'object') {
      const o = v as { shortest_edge?: unknown; height?: unknown; width?: unknown };
      if (typeof o.shortest_edge === 'number') return o.shortest_edge;
      if (typeof o.height === 'number' && typeof o.width === 'number') return Math.min(o.height, o.width);
    }
    return undefined;
  };
  const s = side(ip?.size) ?? (ip?.do_center_crop ? side(ip.crop_size) : undefined);
  if (s === undefined || !Number.isInteger(s) || s < 1) {
    throw new ClipModelError('broken', `CLIP model "${model}" cannot be used: preprocessor_config.json has no image size`);
  }
  return s;
}

export class ClipModel {
  private readonly textCache = new Map<string, Float32Array>();
  private readonly count: ClipCounters = { visionRuns: 0, imagesEmbedded: 0, textRuns: 0, textCacheHits: 0 };

  private constructor(
    /** The model as the user named it; embeddings remember it so that they are never mixed across models. */
    readonly id: string,
    /** Side of the square images the vision model takes. */
    readonly inputSide: number,
    private readonly lib: Library,
    private readonly parts: Parts,
  ) {}

  /** Loads tokenizer, image processor and both encoders; rejects with ClipModelError. */
  static async load(options: ClipModelOptions = {}): Promise<ClipModel> {
    const model = options.model?.trim() || DEFAULT_CLIP_MODEL;
    const logger = options.logger ?? silentLogger;
    const hint = options.localFolderHint ?? 'use a local folder holding the model';
    const cacheDir = options.cacheDir ?? defaultClipCacheDir();
    const source = await resolveSource(model);
    if (source.kind === 'folder') await checkFolder(model, source.location);
    const allowRemote = source.kind === 'hub' && options.allowRemote !== false;

    // Loaded on first use: the library is large, and only text prompts need it.
    const lib: Library = await import('@huggingface/transformers');
    // Keep transformers.js's own warnings (such as unused model inputs) out of the user's terminal.
    lib.env.logLevel = lib.LogLevel.ERROR;
    // transformers.js 4.3.1 lists a tokenizer's files with the global settings, not the options
    // passed below: unless they agree it looks in the wrong cache and goes online even offline.
    lib.env.cacheDir = cacheDir;
    lib.env.allowRemoteModels = allowRemote;

    const progress = options.onProgress;
    const common = {
      cache_dir: cacheDir,
      local_files_only: !allowRemote,
      progress_callback: progress
        ? (p: Transformers.ProgressInfo) => {
            if (p.status === 'ready') return;
            const { status } = p;
            const file = 'file' in p ? p.file : undefined;
            const bytes = 'loaded' in p ? { progress: p.progress, loaded: p.loaded, total: p.total } : {};
            progress({ status, ...(file === undefined ? {} : { file }), ...bytes });
          }
        : undefined,
    };
    const modelOptions = {
      ...common,
      // 'cpu' is onnxruntime-node's CPU provider in Node; without it transformers.js may pick another backend.
      device: 'cpu' as const,
      dtype: 'fp32' as const,
      session_options: options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {},
    };
    logger.info(`Loading CLIP model ${model} (${source.kind === 'folder' ? source.location : `cache ${cacheDir}`})`);
    const [tokenizer, processor, text, vision] = await Promise.allSettled([
      lib.AutoTokenizer.from_pretrained(source.location, common),
      lib.AutoProcessor.from_pretrained(source.location, common),
      lib.CLIPTextModelWithProjection.from_pretrained(source.location, modelOptions),
      lib.CLIPVisionModelWithProjection.from_pretrained(source.location, modelOptions),
    ]);
    if (tokenizer.status === 'rejected' || processor.status === 'rejected' || text.status === 'rejected' || vision.status === 'rejected') {
      // The sessions that did load hold native memory until disposed.
      await Promise.all([text, vision].map((m) => (m.status === 'fulfilled' ? m.value.dispose() : undefined)));
      // A missing file says more than what it caused (the tokenizer fails on an empty file list).
      const reasons = [text, vision, processor, tokenizer].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      const failure = reasons.find((e) => (e as Error | undefined)?.name === 'ModelFileNotFoundError') ?? reasons[0];
      throw describeLoadError(failure, model, source.kind, allowRemote, cacheDir, hint);
    }
    const parts: Parts = { tokenizer: tokenizer.value, processor: processor.value, text: text.value, vision: vision.value };
    try {
      checkNames('text', model, Object.values(parts.text.sessions)[0], ['input_ids'], 'text_embeds');
      checkNames('vision', model, Object.values(parts.vision.sessions)[0], ['pixel_values'], 'image_embeds');
      const side = processorInputSide(parts.processor, model);
      logger.info(`CLIP model ${model} loaded`);
      return new ClipModel(model, side, lib, parts);
    } catch (err) {
      await Promise.all([parts.text.dispose(), parts.vision.dispose()]);
      throw err;
    }
  }

  get counters(): Readonly<ClipCounters> {
    return { ...this.count };
  }

  /**
   * Image embeddings, one vision model run for all the images (the caller sizes
   * the batch): `images.length` rows of unit-length vectors, row-major.
   */
  async embedImages(images: readonly RgbImage[]): Promise<{ vectors: Float32Array; dim: number }> {
    if (images.length === 0) throw new RangeError('embedImages needs at least one image');
    const raw = images.map((im) => new this.lib.RawImage(new Uint8ClampedArray(im.data.buffer, im.data.byteOffset, im.data.byteLength), im.width, im.height, 3));
    let output: { image_embeds?: Transformers.Tensor };
    try {
      const inputs = (await this.parts.processor(raw)) as { pixel_values: Transformers.Tensor };
      this.count.visionRuns++;
      output = (await this.parts.vision(inputs)) as typeof output;
    } catch (err) {
      throw new ClipModelError('broken', `CLIP model "${this.id}" failed on images: ${firstLine(err)}`, { cause: err });
    }
    this.count.imagesEmbedded += images.length;
    return unitRows(output.image_embeds, images.length, this.id, 'image_embeds');
  }

  /** The unit-length embedding of a text; recent texts come from a cache without a model run. */
  async encodeText(text: string): Promise<Float32Array> {
    const cached = this.textCache.get(text);
    if (cached) {
      // Re-inserting makes it the most recently used.
      this.textCache.delete(text);
      this.textCache.set(text, cached);
      this.count.textCacheHits++;
      return cached;
    }
    let output: { text_embeds?: Transformers.Tensor };
    try {
      const inputs = this.parts.tokenizer([text], { padding: true, truncation: true });
      this.count.textRuns++;
      output = (await this.parts.text(inputs)) as typeof output;
    } catch (err) {
      throw new ClipModelError('broken', `CLIP model "${this.id}" failed on the text: ${firstLine(err)}`, { cause: err });
    }
    const vector = unitRows(output.text_embeds, 1, this.id, 'text_embeds').vectors;
    this.textCache.set(text, vector);
    if (this.textCache.size > TEXT_CACHE_SIZE) this.textCache.delete(this.textCache.keys().next().value!);
    return vector;
  }

  async dispose(): Promise<void> {
    this.textCache.clear();
    await Promise.all([this.parts.text.dispose(), this.parts.vision.dispose()]);
  }
}

/** Rows of a [n, dim] float tensor scaled to unit length (zero rows stay zero). */
function unitRows(t: Transformers.Tensor | undefined, n: number, model: string, name: string): { vectors: Float32Array; dim: number } {
  if (!t || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== n || !(t.dims[1]! > 0)) {
    throw new ClipModelError('broken', `CLIP model "${model}" returned no usable ${name} (expected float32 [${n}, dim], got ${t ? `${t.type} [${t.dims.join(', ')}]` : 'nothing'})`);
  }
  const dim = t.dims[1]!;
  const vectors = Float32Array.from(t.data as Float32Array);
  for (let r = 0; r < n; r++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += vectors[r * dim + j]! ** 2;
    norm = Math.sqrt(norm);
    if (!Number.isFinite(norm)) throw new ClipModelError('broken', `CLIP model "${model}" returned non-finite ${name}`);
    if (norm > 0) for (let j = 0; j < dim; j++) vectors[r * dim + j]! /= norm;
  }
  return { vectors, dim };
}

function describeLoadError(
  err: unknown,
  model: string,
  kind: 'folder' | 'hub',
  allowRemote: boolean,
  cacheDir: string,
  hint: string,
): ClipModelError {
  if (err instanceof ClipModelError) return err;
  const name = (err as Error | undefined)?.name;
  const status = (err as { status?: number | null } | undefined)?.status;
  if (kind === 'hub' && name === 'ModelFileNotFoundError') {
    if (!allowRemote) {
      return new ClipModelError(
        'offline',
        `CLIP model "${model}" is not available offline: download it (use it once with network access; it is cached in ${cacheDir}) or ${hint}`,
        { cause: err },
      );
    }
    return new ClipModelError(
      'not-found',
      `CLIP model "${model}" was not found on the Hugging Face Hub${status ? ` (HTTP ${status})` : ''}: check the id, or ${hint}`,
      { cause: err },
    );
  }
  if (kind === 'hub' && allowRemote && /fetch failed|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(`${firstLine(err)} ${String((err as { cause?: unknown })?.cause ?? '')}`)) {
    return new ClipModelError(
      'download',
      `CLIP model "${model}" could not be downloaded (${firstLine(err)}): check the network connection, or ${hint}`,
      { cause: err },
    );
  }
  return new ClipModelError('broken', `CLIP model "${model}" cannot be loaded: ${firstLine(err)}`, { cause: err });
}

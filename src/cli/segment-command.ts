/**
 * `fastsam segment`: one engine, loaded once, for every image on the command line.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FastSamEngine } from '../core/engine';
import { PromptError, UserFacingError } from '../core/errors';
import { collectImages, outputConflicts } from '../core/export/batch';
import type { ExportFormatId, ImageInput } from '../core/export/formats';
import { indexMapPng, selectionMaskPng } from '../core/export/mask-images';
import { resultToJson } from '../core/export/result-json';
import { ensureFolder, writeFilesAtomic } from '../core/io/atomic-write';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from '../core/model/segmentation-model';
import { resolveModelFile } from '../core/models/convert';
import { type BoxPrompt, isEmptyPrompt, type PointPrompt, type Prompt, selectMasks } from '../core/prompts/select';
import { INPUT_SIZE_RULE, isInputSize } from '../core/image/letterbox';
import { parseNumberList, parseNumberOption, UsageError } from './args';
import { conversionProgress } from './convert-command';
import { type CommandIo, commandLogger } from './io';
import { loadTextPrompter, parseTextArgs, selectByText, TEXT_OPTIONS_USAGE, type TextPromptArgs, withTextScores } from './text-prompt';
import type { TextPrompter } from '../core/clip/text-prompt';
import { plural } from '../shared/counts';
import { noImagesFound, parseFormats, runSegmentExport } from './segment-export';

export interface SegmentCommandOptions {
  images: string[];
  model: string;
  imageSize?: number;
  confidence?: number;
  iou?: number;
  points: PointPrompt[];
  boxes: BoxPrompt[];
  outDir?: string;
  json: boolean;
  overwrite: boolean;
  executionProvider: ExecutionProviderChoice;
  /** --text: choose masks by CLIP similarity to a text instead of points and boxes. */
  text?: TextPromptArgs;
  /** --format: export these formats through the batch exporter (skip and resume rules) instead of the default files. */
  formats?: ExportFormatId[];
  cocoPolygons?: boolean;
  polygonTolerance?: number;
  cocoDataset?: string;
}

export const SEGMENT_USAGE = `Usage:
  fastsam segment <image...> --model <model.onnx|model.pt> [options]

Segments every object in each image with a FastSAM (YOLOv8-seg) ONNX model, or
selects objects with point and box prompts. No prompt means everything.
A folder stands for the images in it and its subfolders.

Options:
  --model <path>          FastSAM model (required): ONNX, or a PyTorch checkpoint (.pt) that is
                          converted to <path>.onnx on first use
  --imgsz <N>             model input side, a multiple of 32 up to 4096 (default 1024; 640 is faster)
  --conf <F>              confidence threshold (default 0.4)
  --iou <F>               NMS IoU threshold (default 0.9)
  --point <X,Y[,LABEL]>   a point prompt in image pixels; LABEL 1 = object (default), 0 = background. Repeatable
  --box <X1,Y1,X2,Y2>     a box prompt in image pixels. Repeatable
${TEXT_OPTIONS_USAGE}
  --out <DIR>             write <stem>.mask.png (prompts) or <stem>.masks.png + <stem>.masks.json (everything)
  --overwrite             replace existing output files (otherwise an existing file is an error)
  --format <LIST>         export these formats instead, comma-separated: mask, index, coco, yolo,
                          labelme, cutout, overlay; next to each image, or in --out DIR (keeping
                          subfolders). Images whose files all exist are skipped, so running the
                          same command again continues an interrupted export
  --coco-polygons         COCO segmentation as polygons instead of compressed RLE
  --tolerance <PX>        polygon simplification tolerance in pixels (default 1; 0 = exact outline)
  --coco-dataset <FILE>   the COCO file of all images (default for a folder or several images:
                          _annotations.coco.json in --out DIR, else in the inputs' folder)
  --json                  print one JSON object per image on stdout: its result, or {"image", "error"}
                          if it failed; with --format, {"status", "image", ...} and a final summary
  --provider <name>       execution provider: ${EXECUTION_PROVIDER_CHOICES.join(', ')} (default auto)
  --verbose               log model loading and provider choices on stderr
  -h, --help              show this help

A value starting with "-" is attached with "=": --box=-10,-10,200,150
`;

export function parsePoint(value: string): PointPrompt {
  const [x, y, label = 1] = parseNumberList('point', value, [2, 3], 'X,Y or X,Y,LABEL');
  if (label !== 0 && label !== 1) throw new UsageError(`--point label must be 1 (object) or 0 (background), got ${label}`);
  return { x: x!, y: y!, label };
}

export function parseBox(value: string): BoxPrompt {
  return parseNumberList('box', value, [4], 'X1,Y1,X2,Y2') as BoxPrompt;
}

export function parseSegmentArgs(argv: string[]): SegmentCommandOptions & { verbose: boolean } {
  const { values, positionals: images } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      imgsz: { type: 'string' },
      conf: { type: 'string' },
      iou: { type: 'string' },
      point: { type: 'string', multiple: true },
      box: { type: 'string', multiple: true },
      text: { type: 'string' },
      'clip-model': { type: 'string' },
      'all-above': { type: 'string' },
      out: { type: 'string' },
      overwrite: { type: 'boolean' },
      json: { type: 'boolean' },
      provider: { type: 'string' },
      verbose: { type: 'boolean' },
      format: { type: 'string', multiple: true },
      'coco-polygons': { type: 'boolean' },
      tolerance: { type: 'string' },
      'coco-dataset': { type: 'string' },
    },
  });
  if (images.length === 0) throw new UsageError('No image given');
  if (!values.model) throw new UsageError('--model is required');
  const provider = values.provider ?? 'auto';
  if (!EXECUTION_PROVIDER_CHOICES.includes(provider as ExecutionProviderChoice)) {
    throw new UsageError(`--provider must be one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}, got "${provider}"`);
  }
  const formats = values.format ? parseFormats(values.format) : undefined;
  // Polygons are written for YOLO and LabelMe, and for COCO with --coco-polygons.
  const polygons = formats?.some((f) => f === 'yolo' || f === 'labelme' || (f === 'coco' && values['coco-polygons']));
  for (const [flag, given, needs, what] of [
    ['--tolerance', values.tolerance !== undefined, polygons, 'a polygon format (yolo, labelme, or coco with --coco-polygons)'],
    ['--coco-polygons', values['coco-polygons'] !== undefined, formats?.includes('coco'), 'coco'],
    ['--coco-dataset', values['coco-dataset'] !== undefined, formats?.includes('coco'), 'coco'],
  ] as const) {
    if (given && !needs) throw new UsageError(`${flag} needs --format with ${what}`);
  }
  return {
    images,
    model: values.model,
    imageSize: parseNumberOption('imgsz', values.imgsz, isInputSize, INPUT_SIZE_RULE),
    confidence: parseNumberOption('conf', values.conf, (n) => n >= 0 && n <= 1, 'between 0 and 1'),
    iou: parseNumberOption('iou', values.iou, (n) => n >= 0 && n <= 1, 'between 0 and 1'),
    points: (values.point ?? []).map(parsePoint),
    boxes: (values.box ?? []).map(parseBox),
    outDir: values.out,
    json: values.json ?? false,
    overwrite: values.overwrite ?? false,
    executionProvider: provider as ExecutionProviderChoice,
    verbose: values.verbose ?? false,
    text: parseTextArgs(values),
    formats,
    cocoPolygons: values['coco-polygons'] ?? false,
    polygonTolerance: parseNumberOption('tolerance', values.tolerance, (n) => n >= 0, 'a number of pixels >= 0'),
    cocoDataset: values['coco-dataset'],
  };
}

export async function runSegmentCommand(argv: string[], io: CommandIo): Promise<number> {
  const options = parseSegmentArgs(argv);
  return runSegment(options, { ...io, logger: commandLogger(io, options.verbose) });
}

interface OutputFiles {
  mask: string;
  index: string;
  json: string;
}

/** The output files for one image, or null when nothing is to be written. Images found in a folder keep their subfolder under --out. */
function outputFiles(options: SegmentCommandOptions, image: ImageInput): OutputFiles | null {
  if (!options.outDir) return null;
  const stem = path.join(options.outDir, image.relativeDir, path.basename(image.path, path.extname(image.path)));
  return { mask: `${stem}.mask.png`, index: `${stem}.masks.png`, json: `${stem}.masks.json` };
}

/** The files an image writes: its selection mask with prompts, else its index map and JSON. */
function filesWritten(files: OutputFiles, everything: boolean): { format: string; path: string }[] {
  return everything ? [{ format: 'index map', path: files.index }, { format: 'JSON', path: files.json }] : [{ format: 'mask', path: files.mask }];
}

/** Returns the process exit code: 0 when every image succeeded, 1 otherwise. */
export async function runSegment(options: SegmentCommandOptions, io: CommandIo): Promise<number> {
  const prompt: Prompt = { points: options.points, boxes: options.boxes };
  // A checkpoint (.pt) is converted to ONNX next to it on first use, then reused.
  const modelPath = await resolveModelFile(options.model, { logger: io.logger, onProgress: conversionProgress(io, options.model) });
  const engine = await FastSamEngine.create({ modelPath, executionProvider: options.executionProvider, logger: io.logger });
  if (options.formats) {
    try {
      return await runSegmentExport(engine, { ...options, formats: options.formats, cocoPolygons: options.cocoPolygons ?? false }, prompt, io);
    } finally {
      await engine.dispose();
    }
  }
  let failures = 0;
  // A failed image is reported on stderr, and with --json also on stdout, so that a script
  // reading one object per image sees every image.
  const fail = (image: string, message: string) => {
    failures++;
    io.stderr(`fastsam: ${message}`);
    if (options.json) io.stdout(JSON.stringify({ image, error: message }));
  };
  let texts: TextPrompter | undefined;
  try {
    texts = options.text ? await loadTextPrompter(options.text, io.logger) : undefined;
    const { images, unreadable } = await collectImages(options.images);
    for (const u of unreadable) fail(u.path, u.message);
    if (images.length === 0 && unreadable.length === 0) {
      io.stderr(`fastsam: ${noImagesFound(options.images)}`);
      return 1;
    }
    if (options.outDir) await ensureFolder(options.outDir);
    // Known before any image is segmented: the text prompt cannot change which files an image writes.
    const everything = isEmptyPrompt(prompt) && !options.text;
    const conflicts = outputConflicts(images, images.map((image) => {
      const files = outputFiles(options, image);
      return files ? filesWritten(files, everything) : [];
    }));
    for (const [i, image] of images.entries()) {
      try {
        if (conflicts[i]) throw new UserFacingError(`${image.path}: ${conflicts[i]}`);
        await segmentOne(engine, image, prompt, options, io, texts);
      } catch (e) {
        if (!(e instanceof UserFacingError)) throw e;
        // Prompt errors don't know the image; image errors already name it.
        fail(image.path, `${e instanceof PromptError ? `${image.path}: ` : ''}${e.message}`);
      }
    }
  } finally {
    await engine.dispose();
    await texts?.dispose();
  }
  return failures === 0 ? 0 : 1;
}

async function segmentOne(engine: FastSamEngine, input: ImageInput, prompt: Prompt, options: SegmentCommandOptions, io: CommandIo, texts?: TextPrompter): Promise<void> {
  const image = input.path;
  const start = performance.now();
  const result = await engine.segment(image, { imageSize: options.imageSize, confidence: options.confidence, iou: options.iou });
  const promptStart = performance.now();
  const byText = texts && options.text ? await selectByText(texts, result, image, options.text) : undefined;
  const picks = byText ? byText.picks : selectMasks(result.masks, prompt, result.width, result.height);
  const promptMs = performance.now() - promptStart;
  const everything = isEmptyPrompt(prompt) && !byText;
  if (!everything && picks.every((p) => p.length === 0)) {
    throw new UserFacingError(`${image}: no mask matches the prompt`);
  }

  const json = resultToJson(image, result, picks, { ...result.timings, prompt: promptMs, total: performance.now() - start });

  const files = outputFiles(options, input);
  if (files) {
    await ensureFolder(path.dirname(files.mask));
    // Index map value i + 1 is json.masks[i]: both follow the picks' order.
    const chosen = picks.filter((p) => p.length > 0).map((p) => result.masks[p[0]!]!.mask);
    const { width, height } = result;
    const data = everything ? [indexMapPng(chosen, width, height), JSON.stringify(json) + '\n'] : [selectionMaskPng(chosen, width, height)];
    await writeFilesAtomic(filesWritten(files, everything).map((f, i) => ({ path: f.path, data: data[i]! })), { overwrite: options.overwrite });
  }
  if (options.json) {
    io.stdout(JSON.stringify(byText ? withTextScores(json, byText.scores) : json));
  } else {
    const selected = json.masks.filter((m) => m.selected).length;
    const what = everything ? plural(selected, 'mask') : `${selected} selected, ${plural(json.masks.length - selected, 'alternative')}`;
    io.stdout(`${image}: ${result.width}×${result.height}, ${what}, ${json.timings_ms.total.toFixed(0)} ms (${engine.executionProvider})`);
  }
}

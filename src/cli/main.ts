/**
 * The `fastsam` command line. Exit codes: 0 success, 1 failure (one line on
 * stderr per failed image), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { UserFacingError } from '../core/errors';
import type { Logger } from '../core/logger';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from '../core/model/segmentation-model';
import type { BoxPrompt, PointPrompt } from '../core/prompts/select';
import { type CommandIo, runSegment } from './segment-command';

const USAGE = `Usage:
  fastsam segment <image...> --model <model.onnx> [options]

Segments every object in each image with a FastSAM (YOLOv8-seg) ONNX model, or
selects objects with point and box prompts. No prompt means everything.

Options:
  --model <path>          FastSAM ONNX model (required)
  --imgsz <N>             model input side, a multiple of 32 (default 1024; 640 is faster)
  --conf <F>              confidence threshold (default 0.4)
  --iou <F>               NMS IoU threshold (default 0.9)
  --point <X,Y[,LABEL]>   a point prompt in image pixels; LABEL 1 = object (default), 0 = background. Repeatable
  --box <X1,Y1,X2,Y2>     a box prompt in image pixels. Repeatable
  --out <DIR>             write <stem>.mask.png (prompts) or <stem>.masks.png + <stem>.masks.json (everything)
  --overwrite             replace existing output files (otherwise an existing file is an error)
  --json                  print one JSON object per image on stdout
  --provider <name>       execution provider: ${EXECUTION_PROVIDER_CHOICES.join(', ')} (default auto)
  --verbose               log model loading and provider choices on stderr
  -h, --help              show this help
`;

export class UsageError extends Error {}

function parseNumbers(flag: string, value: string, counts: number[]): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const numbers = parts.map(Number);
  if (!counts.includes(parts.length) || numbers.some((n) => !Number.isFinite(n)) || parts.some((p) => p === '')) {
    throw new UsageError(`--${flag} expects ${flag === 'point' ? 'X,Y or X,Y,LABEL' : 'X1,Y1,X2,Y2'}, got "${value}"`);
  }
  return numbers;
}

export function parsePoint(value: string): PointPrompt {
  const [x, y, label = 1] = parseNumbers('point', value, [2, 3]);
  if (label !== 0 && label !== 1) throw new UsageError(`--point label must be 1 (object) or 0 (background), got ${label}`);
  return { x: x!, y: y!, label };
}

export function parseBox(value: string): BoxPrompt {
  return parseNumbers('box', value, [4]) as BoxPrompt;
}

function parseNumberOption(name: string, value: string | undefined, check: (n: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got "${value}"`);
  return n;
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        imgsz: { type: 'string' },
        conf: { type: 'string' },
        iou: { type: 'string' },
        point: { type: 'string', multiple: true },
        box: { type: 'string', multiple: true },
        out: { type: 'string' },
        overwrite: { type: 'boolean' },
        json: { type: 'boolean' },
        provider: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    const [command, ...images] = positionals;
    if (command !== 'segment') throw new UsageError(command ? `Unknown command "${command}"` : 'No command given');
    if (images.length === 0) throw new UsageError('No image given');
    if (!values.model) throw new UsageError('--model is required');
    const provider = values.provider ?? 'auto';
    if (!EXECUTION_PROVIDER_CHOICES.includes(provider as ExecutionProviderChoice)) {
      throw new UsageError(`--provider must be one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}, got "${provider}"`);
    }
    const logger: Logger = values.verbose ? { info: (m) => io.stderr(m), warn: (m) => io.stderr(`warning: ${m}`) } : io.logger;
    return await runSegment(
      {
        images,
        model: values.model,
        imageSize: parseNumberOption('imgsz', values.imgsz, (n) => Number.isInteger(n) && n >= 32 && n % 32 === 0, 'a positive multiple of 32'),
        confidence: parseNumberOption('conf', values.conf, (n) => n >= 0 && n <= 1, 'between 0 and 1'),
        iou: parseNumberOption('iou', values.iou, (n) => n >= 0 && n <= 1, 'between 0 and 1'),
        points: (values.point ?? []).map(parsePoint),
        boxes: (values.box ?? []).map(parseBox),
        outDir: values.out,
        json: values.json ?? false,
        overwrite: values.overwrite ?? false,
        executionProvider: provider as ExecutionProviderChoice,
      },
      { ...io, logger },
    );
  } catch (e) {
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`fastsam: ${(e as Error).message}\nRun "fastsam --help" for usage.`);
      return 2;
    }
    if (e instanceof UserFacingError) {
      io.stderr(`fastsam: ${e.message}`);
      return 1;
    }
    io.stderr(`fastsam: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  const io: CommandIo = {
    stdout: (line) => process.stdout.write(line.endsWith('\n') ? line : line + '\n'),
    stderr: (line) => process.stderr.write(line + '\n'),
    logger: { info: () => {}, warn: (m) => process.stderr.write(`warning: ${m}\n`) },
  };
  main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}

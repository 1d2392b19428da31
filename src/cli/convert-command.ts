/**
 * `fastsam convert`: an Ultralytics FastSAM / YOLOv8-seg PyTorch checkpoint to ONNX, without Python.
 */
import { parseArgs } from 'node:util';
import { exists, OutputWriteError } from '../core/io/atomic-write';
import { type ConversionStage, convertCheckpoint } from '../core/models/convert';
import { INPUT_SIZE_RULE, isInputSize } from '../core/image/letterbox';
import { plural } from '../shared/counts';
import { parseNumberOption, UsageError } from './args';
import type { CommandIo } from './io';

export const CONVERT_USAGE = `Usage:
  fastsam convert <checkpoint.pt> <out.onnx> [--imgsz N] [--overwrite]

Converts an Ultralytics FastSAM or YOLOv8-seg PyTorch checkpoint (FastSAM-s.pt,
FastSAM-x.pt) to an ONNX model for "fastsam segment --model". No Python needed.
The checkpoint is only read as data: it cannot run code.

Options:
  --imgsz <N>     fix the model's input side to N (a multiple of 32); by default the
                  input is dynamic and --imgsz of "fastsam segment" chooses it per run
  --overwrite     replace <out.onnx> if it exists
  -h, --help      show this help

Progress goes to stderr; the written path to stdout.
`;

const STAGE_TEXT: Readonly<Record<ConversionStage, string>> = {
  read: 'reading the checkpoint',
  unpickle: 'reading the model',
  build: 'building the network',
  serialize: 'serializing',
  write: 'writing',
};

/** Reports each conversion stage once, on stderr. */
export function conversionProgress(io: CommandIo, file: string): (p: { stage: ConversionStage }) => void {
  let last: ConversionStage | undefined;
  return ({ stage }) => {
    if (stage === last) return;
    last = stage;
    io.stderr(`${file}: ${STAGE_TEXT[stage]}…`);
  };
}

export async function runConvertCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { imgsz: { type: 'string' }, overwrite: { type: 'boolean' } },
  });
  if (positionals.length !== 2) throw new UsageError(`convert takes a checkpoint and an output path, got ${plural(positionals.length, 'argument')}`);
  const [checkpoint, output] = positionals as [string, string];
  if (!/\.onnx$/i.test(output)) throw new UsageError(`the output "${output}" should end in .onnx`);
  const imageSize = parseNumberOption('imgsz', values.imgsz, isInputSize, INPUT_SIZE_RULE);

  if (!values.overwrite && (await exists(output))) throw new OutputWriteError('exists', output, `${output} already exists; add --overwrite to replace it`);

  const started = performance.now();
  const result = await convertCheckpoint(checkpoint, output, {
    imageSize,
    overwrite: values.overwrite ?? false,
    onProgress: conversionProgress(io, checkpoint),
    logger: io.logger,
  });
  const arch = result.architecture;
  const scale = arch.scaleName ? `scale ${arch.scaleName}` : `depth ${arch.scale.depth}, width ${arch.scale.width}`;
  io.stderr(
    `${checkpoint}: YOLOv8-seg ${scale}, ${arch.head.nc} class${arch.head.nc === 1 ? '' : 'es'}, ${result.parameterCount.toLocaleString('en-US')} parameters, ` +
      `${imageSize ? `input ${imageSize}×${imageSize}` : 'dynamic input'}; converted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  io.stdout(output);
  return 0;
}

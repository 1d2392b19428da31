/**
 * The `fastsam` command line. Exit codes: 0 success, 1 failure (one line on
 * stderr per failed image), 2 usage error.
 */
import { UserFacingError } from '../core/errors';
import { UsageError } from './args';
import { CONVERT_USAGE, runConvertCommand } from './convert-command';
import { DOWNLOAD_USAGE, runDownloadCommand } from './download-command';
import type { CommandIo } from './io';
import { runSegmentCommand, SEGMENT_USAGE } from './segment-command';

const USAGE = `Usage:
  fastsam segment <image...> --model <model.onnx|model.pt> [options]
  fastsam download <model> [--to DIR] [--proxy URL]
  fastsam convert <checkpoint.pt> <out.onnx> [--imgsz N]
  fastsam <command> --help

Commands:
  segment   segment every object in images, or select objects with point and box prompts;
            with --format, export masks of images and folders (COCO, YOLO, LabelMe, PNGs)
  download  download official FastSAM weights (fastsam-s, fastsam-x)
  convert   convert a FastSAM / YOLOv8-seg PyTorch checkpoint to ONNX, without Python
`;

/** Each command parses its own arguments and returns the exit code. */
const COMMANDS: Record<string, { usage: string; run: (argv: string[], io: CommandIo) => Promise<number> }> = {
  segment: { usage: SEGMENT_USAGE, run: runSegmentCommand },
  download: { usage: DOWNLOAD_USAGE, run: runDownloadCommand },
  convert: { usage: CONVERT_USAGE, run: runConvertCommand },
};

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) throw new UsageError('No command given');
    if (command === '-h' || command === '--help') {
      io.stdout(USAGE);
      return 0;
    }
    const entry = COMMANDS[command];
    if (!entry) throw new UsageError(`Unknown command "${command}"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(entry.usage);
      return 0;
    }
    return await entry.run(rest, io);
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

/**
 * `fastsam download`: fetches an official FastSAM checkpoint listed in
 * models/manifest.json, resumably, and records its hash for later checks.
 */
import { parseArgs } from 'node:util';
import { type DownloadProgress } from '../core/models/download';
import { MODEL_MANIFEST } from '../core/models/manifest';
import { downloadModel } from '../core/models/model-files';
import { UsageError } from './args';
import { type CommandIo, commandLogger } from './io';

export const DOWNLOAD_USAGE = `Usage:
  fastsam download <model> [--to DIR] [--proxy URL] [--verbose]

Downloads official FastSAM weights (a PyTorch checkpoint that "fastsam segment
--model" and "fastsam convert" accept) into DIR, and prints the file's path.
An interrupted download resumes when run again.

Models:
${MODEL_MANIFEST.models.map((m) => `  ${m.id.padEnd(10)} ${m.fileName}, about ${Math.round(m.approximateSize / 1e6)} MB, ${m.license}. ${m.description}`).join('\n')}

Options:
  --to <DIR>      where to put the file (default: the current folder)
  --proxy <URL>   HTTP(S) proxy; by default HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply
  --verbose       log retries and resumption on stderr
  -h, --help      show this help
`;

/** Progress lines on stderr: every 10 %, or every 10 MB when the size is unknown. */
function progressReporter(io: CommandIo, fileName: string): (p: DownloadProgress) => void {
  let lastStep = -1;
  return ({ bytes, total, percent }) => {
    const step = percent !== null ? Math.floor(percent / 10) : Math.floor(bytes / 10e6);
    if (step === lastStep) return;
    lastStep = step;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    io.stderr(`${fileName}: ${percent !== null ? `${Math.floor(percent)}% (${mb(bytes)} of ${mb(total!)} MB)` : `${mb(bytes)} MB`}`);
  };
}

export async function runDownloadCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { to: { type: 'string' }, proxy: { type: 'string' }, verbose: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError(`download takes one model id (${MODEL_MANIFEST.models.map((m) => m.id).join(', ')})`);
  const entry = MODEL_MANIFEST.models.find((m) => m.id === positionals[0]);
  if (!entry) throw new UsageError(`unknown model "${positionals[0]}"; the models are ${MODEL_MANIFEST.models.map((m) => m.id).join(', ')}`);
  const folder = values.to ?? '.';
  io.stderr(`${entry.displayName} weights are published by Ultralytics under the ${entry.license} license: ${entry.licenseUrl}`);
  const result = await downloadModel(entry, folder, {
    proxy: values.proxy,
    logger: commandLogger(io, values.verbose),
    onProgress: progressReporter(io, entry.fileName),
    manualHint: `Download ${entry.fileName} elsewhere (${entry.urls[0]}) and pass it to --model.`,
  });
  io.stderr(`${entry.fileName}: ${result.alreadyPresent ? 'already downloaded' : 'downloaded'}, SHA-256 ${result.record.sha256}`);
  io.stdout(result.path);
  return 0;
}

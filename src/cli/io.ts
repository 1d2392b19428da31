import type { Logger } from '../core/logger';

/** Where a command writes: injectable so that commands can be run in-process. */
export interface CommandIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  logger: Logger;
}

/** A logger that prints to stderr when --verbose, else only warnings. */
export function commandLogger(io: CommandIo, verbose: boolean | undefined): Logger {
  return verbose ? { info: (m) => io.stderr(m), warn: (m) => io.stderr(`warning: ${m}`) } : io.logger;
}

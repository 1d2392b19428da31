/** Logging sink for the engine; the CLI writes to stderr, the extension to its log channel. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };

/**
 * Errors whose message is meant for the user as it is: one line that names the
 * file or value at fault and says what to do. Everything else is a bug and is
 * reported with its stack.
 */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

export type ModelErrorCode = 'not-found' | 'unreadable' | 'corrupt' | 'contract' | 'provider';

export class ModelError extends UserFacingError {
  override name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A prompt that cannot apply to the image: a point off the image, a box with no area. */
export class PromptError extends UserFacingError {
  override name = 'PromptError';
}

/** The engine's own files (its WebAssembly kernels) are missing or damaged: the installation is incomplete. */
export class InstallationError extends UserFacingError {
  override name = 'InstallationError';
}

/** Work stopped because the caller asked; not a failure to report. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(message = 'Cancelled') {
    super(message);
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

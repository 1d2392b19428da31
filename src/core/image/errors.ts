/**
 * Why an image could not be used. Callers branch on `code` (for example to
 * offer a different action for a missing file than for a corrupt one); the
 * message is meant to be shown to the user as is.
 */
import { UserFacingError } from '../errors';

export type ImageInputErrorCode =
  | 'not-found'
  | 'unreadable'
  | 'empty'
  | 'unsupported'
  | 'corrupt'
  | 'too-large';

/**
 * A problem with the user's image (as opposed to a bug in the caller): the
 * message is one line that names the file and says what is wrong with it.
 * The underlying library or file-system error, if any, is kept as `cause`.
 */
export class ImageInputError extends UserFacingError {
  override name = 'ImageInputError';
  readonly code: ImageInputErrorCode;
  /** The file's path, or the label given for an in-memory buffer. */
  readonly file: string;

  constructor(code: ImageInputErrorCode, file: string, reason: string, options?: { cause?: unknown }) {
    super(`Cannot read image "${file}": ${reason}`, options);
    this.code = code;
    this.file = file;
  }
}

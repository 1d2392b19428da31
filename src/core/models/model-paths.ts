/**
 * Where a checkpoint's ONNX conversion lives. Apart from ./convert so that
 * code which only names the files (the extension's model list, on the
 * extension host's main thread) does not load the converter.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';

/** Checkpoint extensions: anything else is taken to be an ONNX model. */
const CHECKPOINT_EXTENSIONS = /\.(pt|pth)$/i;

export function isCheckpointPath(modelPath: string): boolean {
  return CHECKPOINT_EXTENSIONS.test(modelPath);
}

/** Where `resolveModelFile` keeps a checkpoint's conversion: `FastSAM-s.pt` → `FastSAM-s.pt.onnx`. */
export function convertedModelPath(checkpointPath: string): string {
  return `${checkpointPath}.onnx`;
}

/**
 * A checkpoint's conversion in a fallback folder (its own is read-only): its
 * name plus a hash of its full path, so that two FastSAM-s.pt in different
 * folders keep two conversions.
 */
export function fallbackConvertedModelPath(checkpointPath: string, folder: string): string {
  const id = createHash('sha256').update(path.resolve(checkpointPath)).digest('hex').slice(0, 12);
  return path.join(folder, `${path.basename(checkpointPath)}-${id}.onnx`);
}

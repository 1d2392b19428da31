/**
 * The `fastsam.clipModel` setting: which CLIP model text prompts use, a Hugging
 * Face Hub id or a local folder (`~` is the home folder; a relative folder is
 * taken from the workspace folder, so a workspace can ship its model).
 *
 * No 'vscode' import, and nothing of src/core/clip: that would bring
 * @huggingface/transformers onto the extension host's main thread.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** src/core/clip/clip-model.ts's DEFAULT_CLIP_MODEL, restated (see above); a unit test checks that they agree. */
export const DEFAULT_CLIP_MODEL_SETTING = 'Xenova/clip-vit-base-patch32';

/** What is read: `vscode.workspace.getConfiguration('fastsam')` satisfies it. */
export interface ClipSettingsSource {
  get(key: string): unknown;
}

/** The setting's value, or the default (with a warning) when it is not a non-empty string. */
export function readClipModel(source: ClipSettingsSource, warn: (message: string) => void): string {
  const value = source.get('clipModel');
  if (value === undefined || value === null) return DEFAULT_CLIP_MODEL_SETTING;
  if (typeof value !== 'string' || value.trim() === '') {
    warn(`fastsam.clipModel must be a Hugging Face model id or a folder, got ${JSON.stringify(value)}; using ${DEFAULT_CLIP_MODEL_SETTING}`);
    return DEFAULT_CLIP_MODEL_SETTING;
  }
  return value.trim();
}

/**
 * The model to load: an absolute folder for a path, the value as it is for a Hub id.
 * "owner/name" could be either, so it is a folder only when the workspace holds
 * one of that name; "./x", "../x", "~/x" and absolute values are always folders
 * (a missing one then fails with the folder's name, not as a download).
 */
export async function resolveClipModel(value: string, context: { workspaceFolder?: string | undefined; homeDir?: string } = {}): Promise<string> {
  const home = context.homeDir ?? os.homedir();
  if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) return path.join(home, value.slice(1));
  if (path.isAbsolute(value)) return path.normalize(value);
  const ws = context.workspaceFolder;
  if (!ws) return value;
  const inWorkspace = path.join(ws, value);
  if (/^\.\.?([/\\]|$)/.test(value)) return inWorkspace;
  const stat = await fs.stat(inWorkspace).catch(() => null);
  return stat?.isDirectory() ? inWorkspace : value;
}

/** The Hugging Face convention for "never download" (huggingface_hub reads it too), as the CLI honours it. */
export function clipDownloadsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return !['1', 'true', 'yes'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
}

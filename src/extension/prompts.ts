/**
 * Every question the extension asks through a dialog, behind one interface so
 * that the extension-host tests can script the answers (see test-api.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ConflictChoice, ExportQuestions } from './mask-export';

/** Extensions the segmentation editor opens (package.json's customEditors selector says the same). */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

export interface Prompts extends ExportQuestions {
  /** An ONNX model file chosen by the user, or undefined. */
  pickModelFile(): Promise<string | undefined>;
  /** An image to open when no image is active, or undefined. */
  pickImageFile(): Promise<vscode.Uri | undefined>;
}

export const dialogPrompts: Prompts = {
  async whenExists(target) {
    const overwrite = 'Overwrite';
    const keepBoth = 'Keep Both';
    const answer = await vscode.window.showWarningMessage(
      `"${path.basename(target)}" already exists in ${path.dirname(target)}.`,
      { modal: true, detail: 'Overwrite replaces it. Keep Both saves the new mask under a numbered name beside it.' },
      overwrite,
      keepBoth,
    );
    const choice: ConflictChoice = answer === overwrite ? 'overwrite' : answer === keepBoth ? 'keep-both' : 'cancel';
    return choice;
  },

  async saveAs(target, reason) {
    const saveAs = 'Save As…';
    const answer = await vscode.window.showWarningMessage(reason, { modal: true, detail: 'Choose another place for the mask.' }, saveAs);
    if (answer !== saveAs) return undefined;
    // The image's folder is the one that failed; the home folder is a writable start.
    const uri = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(os.homedir(), path.basename(target))),
      filters: { 'PNG image': ['png'] },
      title: 'Save Mask As',
    });
    return uri?.fsPath;
  },

  async pickModelFile() {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { 'ONNX model': ['onnx'] },
      openLabel: 'Use This Model',
      title: 'Choose a FastSAM ONNX Model',
    });
    return uris?.[0]?.fsPath;
  },

  async pickImageFile() {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { Images: [...IMAGE_EXTENSIONS] },
      openLabel: 'Open in Segmentation Editor',
      title: 'Open an Image in the Segmentation Editor',
    });
    return uris?.[0];
  },
};

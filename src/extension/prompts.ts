/**
 * Every question the extension asks through a dialog, behind one interface so
 * that the extension-host tests can script the answers (see test-api.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXPORT_FORMAT_INFO, type ExportFormatId } from '../core/export/format-names';
import type { FileSetQuestions } from './export-files';
import type { ConflictChoice, ExportQuestions } from './mask-export';

/** Extensions the segmentation editor opens (package.json's customEditors selector says the same). */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

export interface FormatPickRequest {
  title: string;
  /** Checked at first. */
  preselected: readonly ExportFormatId[];
  /** What each format writes (a file name or pattern), shown beside it. */
  files: Readonly<Record<ExportFormatId, string>>;
}

/** What to do with images that already have exported files. */
export type ExistingOutputsChoice = 'skip' | 'overwrite';

export interface Prompts extends ExportQuestions, FileSetQuestions {
  /** `target` exists (with the files `also`, when several are exported together). */
  whenExists(target: string, also?: readonly string[]): Promise<ConflictChoice>;
  /** An ONNX model file chosen by the user, or undefined. */
  pickModelFile(): Promise<string | undefined>;
  /** An image to open when no image is active, or undefined. */
  pickImageFile(): Promise<vscode.Uri | undefined>;
  /** The formats to export, in registry order; undefined (or none) when dismissed. */
  pickExportFormats(request: FormatPickRequest): Promise<ExportFormatId[] | undefined>;
  /** `withFiles` of `images` images have some of the files to export already: skip those files or replace them; undefined to stop. */
  whenOutputsExist(withFiles: number, images: number): Promise<ExistingOutputsChoice | undefined>;
  /** Images and folders to export masks of (Export Masks… from the command palette), or undefined. */
  pickExportInputs(): Promise<vscode.Uri[] | undefined>;
}

export const dialogPrompts: Prompts = {
  async whenExists(target, also = []) {
    const overwrite = 'Overwrite';
    const keepBoth = 'Keep Both';
    const answer = await vscode.window.showWarningMessage(
      also.length === 0
        ? `"${path.basename(target)}" already exists in ${path.dirname(target)}.`
        : `"${path.basename(target)}" and ${also.length === 1 ? '1 other file' : `${also.length} other files`} of this export already exist.`,
      {
        modal: true,
        detail:
          also.length === 0
            ? 'Overwrite replaces it. Keep Both saves the new mask under a numbered name beside it.'
            : `${[target, ...also].join('\n')}\n\nOverwrite replaces them. Keep Both saves the new files under numbered names beside them.`,
      },
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

  async saveToFolder(folder, reason) {
    const choose = 'Choose Folder…';
    const answer = await vscode.window.showWarningMessage(reason, { modal: true, detail: `Choose another folder for the files meant for ${folder}.` }, choose);
    if (answer !== choose) return undefined;
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      // The folder that failed is no start; the home folder is writable.
      defaultUri: vscode.Uri.file(os.homedir()),
      openLabel: 'Save Here',
      title: 'Save the Exported Files In',
    });
    return uris?.[0]?.fsPath;
  },

  async pickExportFormats({ title, preselected, files }) {
    const items = EXPORT_FORMAT_INFO.map((f) => ({ label: f.label, description: files[f.id], detail: f.description, picked: preselected.includes(f.id), id: f.id }));
    const picked = await vscode.window.showQuickPick(items, {
      title,
      canPickMany: true,
      placeHolder: 'Check the formats to export, then press Enter',
      ignoreFocusOut: true,
    });
    return picked?.map((p) => p.id);
  },

  async whenOutputsExist(withFiles, images) {
    const items: (vscode.QuickPickItem & { choice: ExistingOutputsChoice })[] = [
      { label: 'Skip existing files', detail: 'Write only the files that are missing: an earlier export continues where it stopped', choice: 'skip' },
      { label: 'Overwrite existing files', detail: 'Segment and export every image again, replacing its files', choice: 'overwrite' },
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: `${withFiles === images ? (images === 1 ? 'The image has' : `All ${images} images have`) : `${withFiles} of ${images} images have`} exported files already`,
      placeHolder: 'Skip or overwrite the existing files?',
      ignoreFocusOut: true,
    });
    return picked?.choice;
  },

  async pickExportInputs() {
    return vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: true,
      filters: { Images: [...IMAGE_EXTENSIONS] },
      openLabel: 'Export Masks',
      title: 'Export Masks of Images and Folders of Images',
    });
  },

  async pickModelFile() {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      // A .pt checkpoint is converted to ONNX in the engine worker on first use.
      filters: { 'FastSAM model (ONNX or PyTorch checkpoint)': ['onnx', 'pt'] },
      openLabel: 'Use This Model',
      title: 'Choose a FastSAM Model',
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

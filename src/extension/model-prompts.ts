/**
 * The questions and notices of the model commands (Download Model…, Manage
 * Models…), in one replaceable object: the extension-host tests answer them
 * through the test API instead of VS Code's quick picks and dialogs.
 */
import * as vscode from 'vscode';
import type { ModelManifestEntry } from '../core/models/manifest';
import type { ManageChoice, ModelAction, ModelListEntry, PickItem } from './model-list';

export type DownloadFailureAction = 'showLog' | 'chooseModel';

export interface ModelPrompts {
  /** The model to download, or undefined when dismissed. */
  pickModelToDownload(items: readonly PickItem<ModelManifestEntry>[]): Promise<ModelManifestEntry | undefined>;
  /** Whether to download `entry` once its license is stated (`size`: "about 23.8 MB"). */
  confirmDownload(entry: ModelManifestEntry, size: string): Promise<boolean>;
  /** A downloaded model to act on, or a model to download; undefined when dismissed. */
  pickManagedModel(items: readonly PickItem<ManageChoice>[]): Promise<ManageChoice | undefined>;
  pickModelAction(model: ModelListEntry, items: readonly PickItem<ModelAction>[]): Promise<ModelAction | undefined>;
  confirmDelete(model: ModelListEntry): Promise<boolean>;
  /** Where a model is, when the OS file manager cannot show it (a remote or browser window). */
  showModelLocation(file: string): Promise<void>;
  /** A download or conversion failed: its one-line message, and the ways forward. */
  downloadFailed(message: string): Promise<DownloadFailureAction | undefined>;
}

/** Quick pick items with a separator before each group. */
function quickPickItems<T>(items: readonly PickItem<T>[]): (vscode.QuickPickItem & { value?: T })[] {
  const out: (vscode.QuickPickItem & { value?: T })[] = [];
  let group: string | undefined;
  for (const item of items) {
    if (item.group !== undefined && item.group !== group) out.push({ label: item.group, kind: vscode.QuickPickItemKind.Separator });
    group = item.group;
    out.push({ label: item.label, ...(item.description ? { description: item.description } : {}), ...(item.detail ? { detail: item.detail } : {}), value: item.value });
  }
  return out;
}

async function pick<T>(items: readonly PickItem<T>[], options: vscode.QuickPickOptions): Promise<T | undefined> {
  return (await vscode.window.showQuickPick(quickPickItems(items), options))?.value;
}

export const dialogModelPrompts: ModelPrompts = {
  pickModelToDownload(items) {
    return pick(items, { title: 'FastSAM: Download Model', placeHolder: 'The model to download (its license is shown before the download starts)', matchOnDetail: true });
  },

  async confirmDownload(entry, size) {
    const download = 'Download';
    const answer = await vscode.window.showInformationMessage(
      `Download ${entry.displayName} (${size})? Its weights are licensed under ${entry.license}.`,
      {
        modal: true,
        detail:
          `The ${entry.displayName} weights are published by Ultralytics under the ${entry.license} license (${entry.licenseUrl}), ` +
          'unlike this extension (MIT). Using them means accepting its terms.',
      },
      download,
    );
    return answer === download;
  },

  pickManagedModel(items) {
    return pick(items, { title: 'FastSAM: Manage Models', placeHolder: items.some((i) => i.value.kind === 'model') ? 'Choose a model to use, reveal or delete it' : 'No model is downloaded yet: choose one to download' });
  },

  pickModelAction(model, items) {
    return pick(items, { title: model.entry.displayName, placeHolder: `What to do with ${model.entry.fileName}` });
  },

  async confirmDelete(model) {
    const del = 'Delete';
    const answer = await vscode.window.showWarningMessage(
      `Delete ${model.entry.displayName}?`,
      {
        modal: true,
        detail: `${model.path} and its ONNX conversion are deleted${model.inUse ? ', and fastsam.modelPath, which uses it, is cleared' : ''}. It can be downloaded again.`,
      },
      del,
    );
    return answer === del;
  },

  async showModelLocation(file) {
    const copy = 'Copy Path';
    if ((await vscode.window.showInformationMessage(`The model is ${file}`, copy)) === copy) await vscode.env.clipboard.writeText(file);
  },

  async downloadFailed(message) {
    const log = 'Show Log';
    const choose = 'Choose Model File…';
    const answer = await vscode.window.showErrorMessage(message, log, choose);
    return answer === log ? 'showLog' : answer === choose ? 'chooseModel' : undefined;
  },
};

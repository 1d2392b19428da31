/**
 * Activation: one engine worker, one result cache and one settings reader for
 * every segmentation editor and the Explorer's batch export, plus the commands,
 * the status bar entry and, when VS Code runs the extension's tests, the test API.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BatchExporter } from './batch-export';
import { readClipModel } from './clip-settings';
import { EngineClient } from './engine-client';
import { ModelManager } from './model-manager';
import { dialogModelPrompts, type ModelPrompts } from './model-prompts';
import { dialogPrompts, IMAGE_EXTENSIONS, type Prompts } from './prompts';
import { ResultCache } from './result-cache';
import { SegmentationEditorProvider, type SegmentationEditor, type SegmentOutcome } from './segmentation-editor';
import { type ExportSettings, type FastSamSettings, readExportSettings, readSettings, SETTINGS_SECTION } from './settings';
import { ModelStatusBarEntry } from './status-bar';
import type { FastSamTestApi, PostedMessage } from './test-api';

/** Settings that change the masks: editors segment again when one changes. */
const RESULT_SETTINGS = ['modelPath', 'executionProvider', 'imageSize', 'confidence', 'iou', 'maxDetections'] as const;

function isImage(uri: vscode.Uri): boolean {
  const ext = path.posix.extname(uri.path).slice(1).toLowerCase();
  return (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
}

/** The image shown in the active tab (in the image preview, or any other editor of an image file). */
function activeImageUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && isImage(uri) ? uri : undefined;
}

export function activate(context: vscode.ExtensionContext): FastSamTestApi | undefined {
  const channel = vscode.window.createOutputChannel('FastSAM', { log: true });
  context.subscriptions.push(channel);
  channel.info(`FastSAM ${String(context.extension.packageJSON.version)} activated (VS Code ${vscode.version}, Node ${process.version})`);

  const read = (): FastSamSettings =>
    readSettings(vscode.workspace.getConfiguration(SETTINGS_SECTION), (m) => channel.warn(m), {
      ...(vscode.workspace.workspaceFolders?.[0] ? { workspaceFolder: vscode.workspace.workspaceFolders[0].uri.fsPath } : {}),
    });
  let settings = read();
  // Read when an export starts, so an invalid value is warned about when it matters.
  const readExport = (): ExportSettings =>
    readExportSettings(vscode.workspace.getConfiguration(SETTINGS_SECTION), (m) => channel.warn(m), {
      ...(vscode.workspace.workspaceFolders?.[0] ? { workspaceFolder: vscode.workspace.workspaceFolders[0].uri.fsPath } : {}),
    });
  let prompts: Prompts = dialogPrompts;

  const engine = new EngineClient({
    workerPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'engine-worker.js').fsPath,
    logger: { info: (m) => channel.info(m), warn: (m) => channel.warn(m) },
  });
  context.subscriptions.push({ dispose: () => void engine.dispose() });
  const cache = new ResultCache();

  // Downloaded models live in the extension's global storage: one copy for every workspace.
  const storage = context.globalStorageUri.fsPath;
  let modelPrompts: ModelPrompts = dialogModelPrompts;
  const models = new ModelManager({
    folder: path.join(storage, 'models'),
    conversionFolder: path.join(storage, 'conversions'),
    log: channel,
    engine,
    prompts: () => modelPrompts,
    modelPath: () => settings.modelPath,
    modelChanged: () => {
      // Before the configuration event: the editors segment with the new path now.
      settings = read();
      engine.forgetModelFailure();
      updateStatusBar();
      provider.modelAvailable();
    },
  });
  // A download left running would keep its .part locked by a process on its way out.
  context.subscriptions.push({ dispose: () => void models.cancel() });

  const testing = context.extensionMode === vscode.ExtensionMode.Test;
  const posted = new vscode.EventEmitter<PostedMessage>();
  context.subscriptions.push(posted);

  const provider = new SegmentationEditorProvider({
    extensionUri: context.extensionUri,
    log: channel,
    engine,
    cache,
    settings: () => settings,
    exportSettings: readExport,
    formatMemento: context.globalState,
    prompts: () => prompts,
    // Read at each text query: the worker reloads CLIP when the model it names changes.
    clipSettings: () => ({
      model: readClipModel(vscode.workspace.getConfiguration(SETTINGS_SECTION), (m) => channel.warn(m)),
      cacheDir: path.join(context.globalStorageUri.fsPath, 'clip'),
    }),
    models,
    ...(testing ? { onDidPost: (resource: vscode.Uri, message: PostedMessage['message']) => posted.fire({ resource, message }) } : {}),
  });
  context.subscriptions.push(
    provider,
    vscode.window.registerCustomEditorProvider(SegmentationEditorProvider.viewType, provider, {
      // The webview restores its view from getState and asks for the rest with `ready`.
      webviewOptions: { retainContextWhenHidden: false },
      supportsMultipleEditorsPerDocument: true,
    }),
  );

  const statusBar = new ModelStatusBarEntry();
  context.subscriptions.push(statusBar);
  const updateStatusBar = (): void => statusBar.update(provider.activeEditor !== undefined, settings, engine.loadedModel, engine.modelFailure);
  context.subscriptions.push(provider.onDidChangeActiveEditor(updateStatusBar), engine.onDidChangeModel(updateStatusBar));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SETTINGS_SECTION)) return;
      settings = read();
      updateStatusBar();
      if (RESULT_SETTINGS.some((key) => e.affectsConfiguration(`${SETTINGS_SECTION}.${key}`))) provider.settingsChanged();
    }),
  );

  /** No usable model: the message, with the editor's model-missing panel's ways forward (download one, choose a file). */
  const offerModelChoice = (message: string): void => {
    const download = 'Download Model…';
    const choose = 'Choose Model File…';
    const buttons = models.canDownload ? [download, choose] : [choose];
    void vscode.window.showWarningMessage(message, ...buttons).then((a) => {
      if (a === download) void vscode.commands.executeCommand('fastsam.downloadModel');
      else if (a === choose) void vscode.commands.executeCommand('fastsam.chooseModel');
    });
  };

  const exportProgress = new vscode.EventEmitter<string>();
  context.subscriptions.push(exportProgress);
  const batchExporter = new BatchExporter({
    log: channel,
    engine,
    settings: () => settings,
    exportSettings: readExport,
    prompts: () => prompts,
    formatMemento: context.globalState,
    conversionFolder: models.conversionFolder,
    modelMissing: offerModelChoice,
    finished: () => provider.scheduleIdleStop(),
    ...(testing ? { onProgressMessage: (m: string) => exportProgress.fire(m) } : {}),
  });

  /** The editor a command acts on: the one of `uri` (menus pass it), else the active one, else the active image opened in one. */
  const editorForCommand = async (uri: unknown, openActiveImage: boolean): Promise<SegmentationEditor | undefined> => {
    if (uri instanceof vscode.Uri) return provider.editorFor(uri) ?? (await provider.open(uri));
    if (provider.activeEditor) return provider.activeEditor;
    const image = openActiveImage ? activeImageUri() : undefined;
    return image ? provider.open(image) : undefined;
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('fastsam.showLog', () => {
      channel.show(true);
    }),

    vscode.commands.registerCommand('fastsam.openEditor', async (uri?: unknown) => {
      const target = uri instanceof vscode.Uri ? uri : (activeImageUri() ?? (await prompts.pickImageFile()));
      if (target) await provider.open(target);
    }),

    vscode.commands.registerCommand('fastsam.segmentEverything', async (uri?: unknown): Promise<SegmentOutcome | undefined> => {
      const editor = await editorForCommand(uri, true);
      if (!editor) {
        void vscode.window.showInformationMessage('Open an image to segment it (PNG, JPEG, WebP, GIF, TIFF or AVIF).');
        return undefined;
      }
      const outcome = await editor.segment();
      if (outcome.status === 'model-missing') {
        offerModelChoice(outcome.message);
      } else if (outcome.status === 'failed') {
        const show = 'Show Log';
        void vscode.window.showErrorMessage(outcome.message, show).then((a) => a === show && channel.show(true));
      }
      return outcome;
    }),

    vscode.commands.registerCommand('fastsam.exportSelection', async (uri?: unknown) => {
      const editor = await editorForCommand(uri, false);
      if (!editor) {
        void vscode.window.showInformationMessage('Open an image in the FastSAM Segmentation Editor and select objects to export them.');
        return undefined;
      }
      return editor.exportMasks('selection');
    }),

    // From the Explorer: the item right-clicked and every selected one; from the palette: nothing (a dialog asks).
    vscode.commands.registerCommand('fastsam.exportMasks', (uri?: unknown, uris?: unknown) => batchExporter.run(uri, uris)),

    vscode.commands.registerCommand('fastsam.chooseModel', async (): Promise<string | undefined> => {
      const file = await prompts.pickModelFile();
      if (!file) return undefined;
      const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
      // Write where the value in force comes from: a workspace that sets the model
      // path (even to "") would otherwise shadow a choice saved in user settings.
      const inspected = config.inspect<string>('modelPath');
      const target =
        inspected?.workspaceFolderValue !== undefined
          ? vscode.ConfigurationTarget.WorkspaceFolder
          : inspected?.workspaceValue !== undefined
            ? vscode.ConfigurationTarget.Workspace
            : vscode.ConfigurationTarget.Global;
      await config.update('modelPath', file, target);
      // The same path chosen again may be a repaired file: its last failure no longer says anything.
      engine.forgetModelFailure();
      updateStatusBar();
      channel.info(`Model set to ${file} (${vscode.ConfigurationTarget[target]} settings)`);
      return file;
    }),

    // With a model id ("fastsam-s", e.g. from a keybinding), no quick pick.
    vscode.commands.registerCommand('fastsam.downloadModel', (id?: unknown) => models.download(typeof id === 'string' ? id : undefined)),

    vscode.commands.registerCommand('fastsam.manageModels', () => models.manage()),
  );

  if (!testing) return undefined;
  return {
    onDidPostMessage: posted.event,
    async receive(resource, message) {
      const editor = provider.editorFor(resource);
      if (!editor) throw new Error(`No segmentation editor is open for ${resource.toString()}`);
      await editor.receive(message);
    },
    setPrompts(replacement) {
      prompts = replacement ? { ...dialogPrompts, ...replacement } : dialogPrompts;
    },
    setModelPrompts(replacement) {
      modelPrompts = replacement ? { ...dialogModelPrompts, ...replacement } : dialogModelPrompts;
    },
    cancelModelDownloads: () => models.cancel(),
    modelsFolder: path.join(storage, 'models'),
    get cachedResults() {
      return cache.size;
    },
    clipCounters: () => engine.clipCounters(),
    onDidReportExportProgress: exportProgress.event,
    cancelExport: () => batchExporter.cancel(),
    get modelStatusBar() {
      return statusBar.shown;
    },
  };
}

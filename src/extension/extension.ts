/**
 * Activation: one engine worker, one result cache and one settings reader for
 * every segmentation editor, plus the commands, the status bar entry and, when
 * VS Code runs the extension's tests, the test API.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from './engine-client';
import { dialogPrompts, IMAGE_EXTENSIONS, type Prompts } from './prompts';
import { ResultCache } from './result-cache';
import { SegmentationEditorProvider, type SegmentationEditor, type SegmentOutcome } from './segmentation-editor';
import { type FastSamSettings, readSettings, SETTINGS_SECTION } from './settings';
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
  let prompts: Prompts = dialogPrompts;

  const engine = new EngineClient({
    workerPath: vscode.Uri.joinPath(context.extensionUri, 'dist', 'engine-worker.js').fsPath,
    logger: { info: (m) => channel.info(m), warn: (m) => channel.warn(m) },
  });
  context.subscriptions.push({ dispose: () => void engine.dispose() });
  const cache = new ResultCache();

  const testing = context.extensionMode === vscode.ExtensionMode.Test;
  const posted = new vscode.EventEmitter<PostedMessage>();
  context.subscriptions.push(posted);

  const provider = new SegmentationEditorProvider({
    extensionUri: context.extensionUri,
    log: channel,
    engine,
    cache,
    settings: () => settings,
    prompts: () => prompts,
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
  const updateStatusBar = (): void => statusBar.update(provider.activeEditor !== undefined, settings, engine.loadedModel);
  context.subscriptions.push(provider.onDidChangeActiveEditor(updateStatusBar), engine.onDidChangeModel(updateStatusBar));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SETTINGS_SECTION)) return;
      settings = read();
      updateStatusBar();
      if (RESULT_SETTINGS.some((key) => e.affectsConfiguration(`${SETTINGS_SECTION}.${key}`))) provider.settingsChanged();
    }),
  );

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
        const choose = 'Choose Model File…';
        void vscode.window.showWarningMessage(outcome.message, choose).then((a) => a === choose && vscode.commands.executeCommand('fastsam.chooseModel'));
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

    vscode.commands.registerCommand('fastsam.chooseModel', async (): Promise<string | undefined> => {
      const file = await prompts.pickModelFile();
      if (!file) return undefined;
      const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
      await config.update('modelPath', file, vscode.ConfigurationTarget.Global);
      channel.info(`Model set to ${file}`);
      const inspected = config.inspect<string>('modelPath');
      if (inspected?.workspaceValue || inspected?.workspaceFolderValue) {
        void vscode.window.showWarningMessage(
          `The model was saved in your user settings, but this workspace sets ${SETTINGS_SECTION}.modelPath too, and the workspace value wins.`,
        );
      }
      return file;
    }),
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
    get cachedResults() {
      return cache.size;
    },
  };
}

/**
 * The model commands: FastSAM: Download Model… (pick a model, accept its
 * license, download it into the extension's global storage, convert it to
 * ONNX, select it) and FastSAM: Manage Models… (use, reveal or delete a
 * downloaded model, resume an interrupted download, download another), and the
 * segmentation editor's Download button, which runs the same flow for the
 * default model.
 *
 * The download runs on the extension host's main thread, as the core's
 * downloader intends: it is network and disk I/O in small chunks, and Node's
 * http/https modules there carry VS Code's certificate setup. The conversion is
 * seconds of CPU, so it runs in the engine worker.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, UserFacingError } from '../core/errors';
import { MODEL_MANIFEST, type ModelManifest, type ModelManifestEntry } from '../core/models/manifest';
import { downloadModel, modelFileStatus } from '../core/models/model-files';
import type { EngineClient } from './engine-client';
import {
  deleteModelFiles,
  downloadChoices,
  downloadProgressMessage,
  formatBytes,
  listModels,
  manageChoices,
  modelActions,
  type ModelListEntry,
  usesModel,
} from './model-list';
import type { ModelPrompts } from './model-prompts';
import { DEFAULT_MODEL_ID, downloadProxySettings, mirrorBase, withMirror } from './model-sources';
import { SETTINGS_SECTION } from './settings';

export type ModelSetupOutcome =
  | { status: 'ready'; modelPath: string; downloaded: boolean; converted: boolean }
  | { status: 'cancelled' }
  | { status: 'failed'; message: string };

export type ManageOutcome = ModelSetupOutcome | { status: 'deleted'; files: string[] } | { status: 'revealed'; path: string };

/** What a segmentation editor needs of the models: its Download button and where checkpoints are converted. */
export interface ModelSetup {
  /** Whether a model can be downloaded (the manifest lists one). */
  readonly canDownload: boolean;
  /** Where a checkpoint in a read-only folder is converted. */
  readonly conversionFolder: string;
  /** Downloads (or finds), converts and selects the default model; `report` hears its progress in words. */
  setUpDefaultModel(report?: (message: string) => void): Promise<ModelSetupOutcome>;
}

export interface ModelManagerOptions {
  /** Where models are downloaded (the extension's global storage). */
  readonly folder: string;
  readonly conversionFolder: string;
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineClient;
  prompts(): ModelPrompts;
  /** fastsam.modelPath as read now. */
  modelPath(): string | undefined;
  /** fastsam.modelPath was just written: read the settings again, and let editors that had no model segment. */
  modelChanged(): void;
  readonly manifest?: ModelManifest;
}

interface Running {
  readonly controller: AbortController;
  readonly done: Promise<ModelSetupOutcome>;
  /** Everyone who asked for this model while it was being set up hears its progress. */
  readonly listeners: Set<(message: string) => void>;
}

export class ModelManager implements ModelSetup {
  private readonly manifest: ModelManifest;
  /** Set-ups in progress, by model id: a second request joins the first (two would fight over one .part). */
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: ModelManagerOptions) {
    this.manifest = options.manifest ?? MODEL_MANIFEST;
  }

  get canDownload(): boolean {
    return this.manifest.models.length > 0;
  }

  get conversionFolder(): string {
    return this.options.conversionFolder;
  }

  /** FastSAM: Download Model…: the model `id`, or the one picked. */
  async download(id?: string): Promise<ModelSetupOutcome> {
    let entry: ModelManifestEntry | undefined;
    if (id !== undefined) {
      entry = this.manifest.models.find((m) => m.id === id);
      if (!entry) return this.failed(`Unknown model "${id}"; known models: ${this.manifest.models.map((m) => m.id).join(', ')}`);
    } else {
      entry = await this.options.prompts().pickModelToDownload(downloadChoices(await this.list()));
      if (!entry) return { status: 'cancelled' };
    }
    return this.setUp(entry);
  }

  setUpDefaultModel(report?: (message: string) => void): Promise<ModelSetupOutcome> {
    const entry = this.manifest.models.find((m) => m.id === DEFAULT_MODEL_ID) ?? this.manifest.models[0];
    if (!entry) return Promise.resolve(this.failed('No downloadable model is known to this version. Choose a model file instead.'));
    return this.setUp(entry, report);
  }

  /** FastSAM: Manage Models…. */
  async manage(): Promise<ManageOutcome> {
    const prompts = this.options.prompts();
    const choice = await prompts.pickManagedModel(manageChoices(await this.list()));
    if (!choice) return { status: 'cancelled' };
    if (choice.kind === 'download') return this.setUp(choice.entry);
    const model = choice.model;
    switch (await prompts.pickModelAction(model, modelActions(model))) {
      case 'use':
      case 'resume':
        // Using a downloaded model verifies it against its record and converts it if needed.
        return this.setUp(model.entry);
      case 'reveal':
        await this.reveal(model.path);
        return { status: 'revealed', path: model.path };
      case 'delete':
        return this.delete(model);
      case undefined:
        return { status: 'cancelled' };
    }
  }

  /** Cancels every download and conversion in progress, as their notifications' Cancel does; false when none runs. */
  cancel(): boolean {
    for (const r of this.running.values()) r.controller.abort();
    return this.running.size > 0;
  }

  private list(): Promise<ModelListEntry[]> {
    return listModels(this.manifest, this.options.folder, this.options.modelPath());
  }

  private async setUp(entry: ModelManifestEntry, report?: (message: string) => void): Promise<ModelSetupOutcome> {
    const join = (r: Running): Promise<ModelSetupOutcome> => {
      if (report) r.listeners.add(report);
      return r.done;
    };
    const running = this.running.get(entry.id);
    if (running) return join(running);
    const status = await modelFileStatus(entry, this.options.folder).catch(() => undefined);
    if (status?.state !== 'ready') {
      const size =
        status?.state === 'partial'
          ? `about ${formatBytes(entry.approximateSize)}, ${formatBytes(status.partialBytes)} of it already downloaded`
          : `about ${formatBytes(entry.approximateSize)}`;
      if (!(await this.options.prompts().confirmDownload(entry, size))) return { status: 'cancelled' };
    }
    // Another request may have started it while the question was open.
    const started = this.running.get(entry.id);
    if (started) return join(started);
    const controller = new AbortController();
    const listeners = new Set<(message: string) => void>(report ? [report] : []);
    const done = this.run(entry, controller, (message) => {
      for (const l of listeners) l(message);
    }).finally(() => this.running.delete(entry.id));
    this.running.set(entry.id, { controller, done, listeners });
    return done;
  }

  /** Download (or verify), convert in the worker, select: under one cancellable notification. */
  private async run(entry: ModelManifestEntry, controller: AbortController, report: (message: string) => void): Promise<ModelSetupOutcome> {
    const { log, engine, folder } = this.options;
    const { signal } = controller;
    const logger = { info: (m: string) => log.info(m), warn: (m: string) => log.warn(m) };
    try {
      const { downloaded, onnx } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `FastSAM: ${entry.displayName}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          // The bar: the download to 90 %, the conversion the rest.
          let shown = 0;
          const say = (message: string, at?: number): void => {
            const increment = at !== undefined && at > shown ? at - shown : 0;
            shown += increment;
            progress.report({ message, ...(increment > 0 ? { increment } : {}) });
            report(message);
          };
          const source = withMirror(entry, mirrorBase(vscode.workspace.getConfiguration(SETTINGS_SECTION).get('modelDownloadMirror')));
          const http = vscode.workspace.getConfiguration('http');
          const proxy = downloadProxySettings({ proxy: http.get('proxy'), noProxy: http.get('noProxy') }, process.env);
          say(`Getting ${entry.fileName}…`);
          log.info(`Setting up ${entry.displayName} in ${folder} (sources: ${source.urls.join(', ')}${proxy.proxy ? `; proxy ${proxy.proxy}` : ''})`);
          const downloaded = await downloadModel(source, folder, {
            ...proxy,
            signal,
            logger,
            onProgress: (p) => say(downloadProgressMessage(entry.fileName, p), p.percent === null ? undefined : p.percent * 0.9),
          });
          log.info(
            downloaded.alreadyPresent
              ? `${downloaded.path} is already downloaded and matches its record`
              : `Downloaded ${downloaded.path} (${downloaded.record.size.toLocaleString('en-US')} bytes, SHA-256 ${downloaded.record.sha256}) from ${downloaded.record.url}`,
          );
          const converting = `Converting ${entry.fileName} to ONNX…`;
          say(converting, 90);
          const onnx = await engine.resolveModel({
            path: downloaded.path,
            conversionFolder: this.options.conversionFolder,
            signal,
            onConverting: ({ fraction }) => say(`${converting} ${Math.floor(fraction * 100)}%`, 90 + 10 * fraction),
          });
          return { downloaded, onnx };
        },
      );
      if (signal.aborted) throw new CancelledError();
      await this.select(onnx.path);
      return { status: 'ready', modelPath: onnx.path, downloaded: !downloaded.alreadyPresent, converted: onnx.converted };
    } catch (e) {
      if (e instanceof CancelledError || signal.aborted) {
        const kept = await fs.stat(`${path.join(folder, entry.fileName)}.part`).then((s) => s.size, () => 0);
        const message = `The download of ${entry.fileName} was cancelled${kept > 0 ? `; the ${formatBytes(kept)} downloaded are kept and the next download resumes from there` : ''}.`;
        log.info(message);
        void vscode.window.showInformationMessage(message);
        return { status: 'cancelled' };
      }
      return this.failed(e, `Setting up ${entry.displayName} failed`);
    }
  }

  /** A failure: logged, and shown with the ways forward (the log, choosing a model file). */
  private failed(e: unknown, context?: string): ModelSetupOutcome & { status: 'failed' } {
    const { log } = this.options;
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && !(e instanceof UserFacingError)) log.error(context ?? 'Model setup failed', e);
    else log.warn(message);
    void this.options.prompts().downloadFailed(message).then((action) => {
      if (action === 'showLog') log.show(true);
      else if (action === 'chooseModel') void vscode.commands.executeCommand('fastsam.chooseModel');
    });
    return { status: 'failed', message };
  }

  /** Writes fastsam.modelPath (user settings), as Choose Model File… does. */
  private async select(file: string): Promise<void> {
    const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
    await config.update('modelPath', file, vscode.ConfigurationTarget.Global);
    this.options.log.info(`Model set to ${file}`);
    const inspected = config.inspect<string>('modelPath');
    if (inspected?.workspaceValue || inspected?.workspaceFolderValue) {
      void vscode.window.showWarningMessage(`The model was saved in your user settings, but this workspace sets ${SETTINGS_SECTION}.modelPath too, and the workspace value wins.`);
    }
    this.options.modelChanged();
  }

  private async delete(model: ModelListEntry): Promise<ManageOutcome> {
    if (this.running.has(model.entry.id)) return this.failed(new UserFacingError(`${model.entry.fileName} is being downloaded or converted: cancel that first, then delete it.`));
    if (!(await this.options.prompts().confirmDelete(model))) return { status: 'cancelled' };
    const files = await deleteModelFiles(model.path);
    this.options.log.info(`Deleted ${files.join(', ')}`);
    const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
    const global = config.inspect<string>('modelPath')?.globalValue;
    if (typeof global === 'string' && usesModel(global, model.path)) {
      await config.update('modelPath', undefined, vscode.ConfigurationTarget.Global);
      this.options.log.info(`${SETTINGS_SECTION}.modelPath cleared: it used ${model.entry.fileName}`);
      this.options.modelChanged();
    }
    return { status: 'deleted', files };
  }

  /** In the OS file manager where there is one; a remote or browser window says where the file is instead. */
  private async reveal(file: string): Promise<void> {
    if (vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop) {
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(file));
    } else {
      await this.options.prompts().showModelLocation(file);
    }
  }
}

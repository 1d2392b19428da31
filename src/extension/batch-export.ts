/**
 * FastSAM: Export Masks… — the Explorer's batch export of images and folders
 * of images (recursively). Asks the formats once and, when some images have
 * files already, whether to skip or replace those (skipping, the default,
 * makes a run after a cancel continue where the last one stopped). The batch
 * runs in the engine worker (exportBatch of src/core/export/batch.ts); this
 * side shows its progress in a cancellable notification, logs each image and
 * ends with a summary that offers the log and the output.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError } from '../core/errors';
import { EXPORT_FORMAT_INFO, type ExportFormatId, isImageFileName } from '../core/export/format-names';
import type { BatchExportRequest, BatchImageReport, BatchSummaryReport, EngineClient } from './engine-client';
import { plural } from '../shared/counts';
import { progressMessage, summaryMessage } from './batch-report';
import { chooseFormats, type FormatMemento } from './format-choice';
import type { Prompts } from './prompts';
import { revealPath } from './reveal';
import { type ExportSettings, type FastSamSettings, resolveOutputFolder } from './settings';
import { modelFileStatus } from './segmentation-editor';

export interface BatchExportServices {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineClient;
  settings(): FastSamSettings;
  exportSettings(): ExportSettings;
  prompts(): Prompts;
  readonly formatMemento: FormatMemento;
  /** Where a checkpoint (.pt) model in a read-only folder is converted to ONNX (the extension's storage). */
  readonly conversionFolder?: string;
  /** No usable model: says so and offers to choose one (as Segment Everything does). */
  modelMissing(message: string): void;
  /** A batch ended: the worker may be stopped once idle, if no editor needs it. */
  finished(): void;
  /** Sees each message of the progress notification (the extension-host tests follow the batch through it). */
  onProgressMessage?(message: string): void;
}

export type BatchExportOutcome =
  /** The batch ran (to its end, or until cancelled or stopped); `message` is the summary shown. */
  | { status: 'done'; summary: BatchSummaryReport; message: string; output: string | undefined }
  /** A question was dismissed: nothing ran. */
  | { status: 'dismissed' }
  | { status: 'no-images'; message: string }
  | { status: 'model-missing'; message: string }
  | { status: 'busy'; message: string }
  | { status: 'failed'; message: string };

export class BatchExporter {
  private current: AbortController | undefined;
  /** The first file written by the running batch (what Reveal Output shows when there is no one output folder). */
  private firstWritten: string | undefined;

  constructor(private readonly services: BatchExportServices) {}

  /** Whether a batch is running. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** Cancels the running batch, as the notification's Cancel does; false when none runs. */
  cancel(): boolean {
    if (!this.current) return false;
    this.current.abort();
    return true;
  }

  /**
   * Exports `uris` (the Explorer's selection: `uri` is the item right-clicked,
   * `uris` every selected one), or, without them, images and folders picked in
   * a dialog.
   */
  async run(uri?: unknown, uris?: unknown): Promise<BatchExportOutcome> {
    if (this.current) {
      const message = 'FastSAM is already exporting masks: wait for it to finish, or cancel it in its notification.';
      void vscode.window.showInformationMessage(message);
      return { status: 'busy', message };
    }
    // Taken before the first question, so that a second run started meanwhile is refused too.
    const controller = new AbortController();
    this.current = controller;
    try {
      return await this.exportInputs(controller, uri, uris);
    } finally {
      this.current = undefined;
      this.firstWritten = undefined;
      this.services.finished();
    }
  }

  private async exportInputs(controller: AbortController, uri: unknown, uris: unknown): Promise<BatchExportOutcome> {
    const { log, prompts: getPrompts } = this.services;
    const prompts = getPrompts();
    let chosen = Array.isArray(uris) && uris.length > 0 ? uris : uri !== undefined ? [uri] : undefined;
    chosen ??= await prompts.pickExportInputs();
    if (!chosen) return { status: 'dismissed' };
    const selected = chosen.filter((u): u is vscode.Uri => u instanceof vscode.Uri);

    const inputs: string[] = [];
    /** Whether inputs[i] is a folder. */
    const folders: boolean[] = [];
    const ignored: string[] = [];
    for (const u of selected) {
      if (u.scheme !== 'file') {
        ignored.push(`${u.toString()} (not a file on this computer)`);
        continue;
      }
      const isFolder = await fs.stat(u.fsPath).then((s) => s.isDirectory(), () => false);
      if (isFolder || isImageFileName(u.fsPath)) {
        inputs.push(u.fsPath);
        folders.push(isFolder);
      }
      else ignored.push(`${u.fsPath} (not an image)`);
    }
    for (const i of ignored) log.info(`Export Masks: left out ${i}`);
    if (inputs.length === 0) {
      const message = 'Nothing to export: choose images (PNG, JPEG, WebP, GIF, TIFF, AVIF) or folders of images.';
      void vscode.window.showInformationMessage(message);
      return { status: 'no-images', message };
    }

    const settings = this.services.settings();
    const model = await modelFileStatus(settings);
    if (typeof model === 'string') {
      this.services.modelMissing(model);
      return { status: 'model-missing', message: model };
    }

    try {
      const exportSettings = this.services.exportSettings();
      const first = inputs[0]!;
      // A relative output folder is taken from each item's workspace folder (or, outside one,
      // its own folder); one batch writes to one folder, so the items must agree on it.
      const firstIsFolder = folders[0]!;
      const outDirs = new Set(
        inputs.map((input, i) =>
          resolveOutputFolder(exportSettings.outputFolder, {
            workspaceFolder: vscode.workspace.getWorkspaceFolder(vscode.Uri.file(input))?.uri.fsPath,
            imageFolder: folders[i] ? input : path.dirname(input),
          }),
        ),
      );
      if (outDirs.size > 1) {
        const message =
          `The output folder "${exportSettings.outputFolder}" (fastsam.export.outputFolder) is relative, and the selected items would each have their own: ` +
          `${[...outDirs].join(', ')}. Export them one folder at a time, or set an absolute output folder.`;
        void vscode.window.showWarningMessage(message);
        return { status: 'failed', message };
      }
      const [outDir] = outDirs;
      const output = { ...(outDir !== undefined ? { outDir } : {}), names: exportSettings.fileNames };
      const names = Object.fromEntries(EXPORT_FORMAT_INFO.map((f) => [f.id, exportSettings.fileNames[f.id] ?? f.defaultName])) as Record<ExportFormatId, string>;
      const what = inputs.length === 1 ? path.basename(first) : `${inputs.length} items`;
      const formats = await chooseFormats((r) => prompts.pickExportFormats(r), this.services.formatMemento, exportSettings.formats, { title: `Export Masks of ${what}`, files: names });
      if (!formats) return { status: 'dismissed' };

      const plan = await this.services.engine.planBatch(inputs, formats, output);
      if (plan.images === 0) {
        const message = `No images to export in ${inputs.length === 1 ? first : 'the selection'} (PNG, JPEG, WebP, GIF, TIFF or AVIF files).`;
        void vscode.window.showInformationMessage(message);
        return { status: 'no-images', message };
      }
      let overwrite = false;
      if (plan.withFiles > 0) {
        const choice = await prompts.whenOutputsExist(plan.withFiles, plan.images);
        if (!choice) return { status: 'dismissed' };
        overwrite = choice === 'overwrite';
      }
      // Cancelled while a question was open.
      if (controller.signal.aborted) return { status: 'dismissed' };

      const folderGiven = firstIsFolder || inputs.length > 1;
      log.info(
        `Export Masks: ${plural(plan.images, 'image')} of ${inputs.join(', ')} as ${formats.join(', ')} ` +
          `${outDir !== undefined ? `into ${outDir}` : 'beside each image'}${overwrite ? ', replacing existing files' : ', keeping existing files'}`,
      );
      const summary = await this.runWithProgress(controller, {
        model: {
          path: model.path,
          executionProvider: settings.executionProvider,
          mtimeMs: model.mtimeMs,
          size: model.size,
          ...(this.services.conversionFolder !== undefined ? { conversionFolder: this.services.conversionFolder } : {}),
        },
        imageSize: settings.imageSize,
        confidence: settings.confidence,
        iou: settings.iou,
        maxDetections: settings.maxDetections,
        inputs,
        formats,
        output: { ...output, overwrite },
        formatOptions: { polygonTolerance: exportSettings.polygonTolerance, cocoSegmentation: exportSettings.cocoSegmentation },
        // One COCO file for a folder or several images, as the CLI writes it.
        cocoDataset: formats.includes('coco') && folderGiven,
      });
      const message = summaryMessage(summary);
      const reveal = outDir ?? (inputs.length === 1 && firstIsFolder ? first : undefined) ?? this.firstWritten;
      this.report(summary, message, reveal);
      return { status: 'done', summary, message, output: reveal };
    } catch (e) {
      // Cancelled before the batch started: nothing ran.
      if (e instanceof CancelledError) return { status: 'dismissed' };
      const message = e instanceof Error ? e.message : String(e);
      log.error(`Export Masks failed: ${message}`, e);
      const show = 'Show Log';
      void vscode.window.showErrorMessage(`Export Masks failed: ${message}`, show).then((a) => a === show && log.show(true));
      return { status: 'failed', message };
    }
  }

  private runWithProgress(controller: AbortController, request: Omit<BatchExportRequest, 'signal' | 'onProgress' | 'onImage' | 'onPhase'>): Thenable<BatchSummaryReport> {
    const { log, engine } = this.services;
    const name = (image: string): string => vscode.workspace.asRelativePath(image, false);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'FastSAM: Exporting masks', cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => controller.abort());
        let reported = 0;
        const say = (message: string, done?: number, total?: number): void => {
          const increment = done !== undefined && total ? ((done - reported) / total) * 100 : undefined;
          if (done !== undefined) reported = done;
          progress.report({ message, ...(increment ? { increment } : {}) });
          this.services.onProgressMessage?.(message);
        };
        say('Finding images…');
        const onImage = (r: BatchImageReport): void => {
          if (r.status === 'written') {
            this.firstWritten ??= r.files[0];
            log.info(`${r.image}: ${plural(r.masks, 'mask')} → ${r.files.join(', ')}${r.kept.length > 0 ? ` (kept ${r.kept.join(', ')})` : ''}`);
          } else if (r.status === 'skipped') {
            log.info(`${r.image}: skipped, its files exist`);
          } else {
            log.warn(r.message.includes(r.image) ? r.message : `${r.image}: ${r.message}`);
          }
        };
        const summary = await engine.batchExport({
          ...request,
          signal: controller.signal,
          onPhase: (phase) => {
            if (phase === 'loading-model') say(`Loading ${path.basename(request.model.path)}…`);
          },
          onConverting: ({ checkpoint, fraction }) => say(`Converting ${checkpoint} to ONNX… ${Math.floor(fraction * 100)}%`),
          onProgress: (p) => say(progressMessage(p, name), p.done, p.total),
          onImage,
        });
        const d = summary.dataset;
        if (d) {
          if (d.status === 'not-written') log.warn(`COCO dataset ${d.path} not written: ${d.message ?? ''}`);
          else log.info(`COCO dataset ${d.path}: ${d.status}, ${plural(d.images, 'image')}, ${plural(d.annotations, 'annotation')}`);
        }
        return summary;
      },
    );
  }

  private report(summary: BatchSummaryReport, message: string, reveal: string | undefined): void {
    const { log } = this.services;
    log.info(message);
    const showLog = 'Show Log';
    const revealOutput = 'Reveal Output';
    const buttons = reveal !== undefined ? [showLog, revealOutput] : [showLog];
    const trouble = summary.failed.length > 0 || summary.stopped?.reason === 'fatal' || summary.dataset?.status === 'not-written';
    const show = trouble ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(message, ...buttons).then(async (answer) => {
      if (answer === showLog) log.show(true);
      else if (answer === revealOutput && reveal !== undefined) {
        await revealPath(reveal);
      }
    });
  }
}

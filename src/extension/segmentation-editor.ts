/**
 * The segmentation editor: a read-only custom editor for images. The webview
 * (src/webview) draws the image and the masks and answers prompts itself; this
 * side reads the file, runs the model in the engine worker, caches results,
 * follows the file on disk and writes exports. Messages follow src/shared/protocol.ts.
 *
 * The webview is not retained while hidden: it keeps its own view state
 * (getState) and, when it comes back, sends `ready`, and this side sends the
 * image, the status and the current segmentation again.
 */
import { webcrypto } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SegmentationResult, SegmentedMask } from '../core/engine';
import { CancelledError, ModelError, UserFacingError } from '../core/errors';
import { EXPORT_FORMAT_INFO, type ExportFormatId, planOutputs } from '../core/export/format-names';
import { selectEverything } from '../core/prompts/select';
import { fileNameList } from '../shared/file-names';
import type { ConversionNotice, EngineClient, ImageHeader, WorkerPhase } from './engine-client';
import { Disposable } from './dispose';
import { exportFileSet } from './export-files';
import { chooseFormats, type FormatMemento } from './format-choice';
import { exportMaskFile, type ExportOutcome, maskPathFor } from './mask-export';
import type { ModelSetup } from './model-manager';
import type { Prompts } from './prompts';
import { clipDownloadsAllowed, resolveClipModel } from './clip-settings';
import { cacheKey, type CacheKeyParts, type ResultCache } from './result-cache';
import { revealPath } from './reveal';
import { type ExportSettings, type FastSamSettings, resolveOutputFolder } from './settings';
import type {
  EnginePhase,
  ExportScope,
  HostToWebview,
  SegmentationMessage,
  StatusMessage,
  TextResultMessage,
  WebviewToHost,
  WireMask,
} from '../shared/protocol';

export const NO_MODEL_MESSAGE = 'No FastSAM model is configured. Choose an ONNX model file (a FastSAM or YOLOv8-seg export) to segment images.';

/** What the editors share: one engine, one cache, the settings and the dialogs. */
export interface EditorServices {
  readonly extensionUri: vscode.Uri;
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineClient;
  readonly cache: ResultCache;
  settings(): FastSamSettings;
  /** The `fastsam.export.*` settings, read when an export starts. */
  exportSettings(): ExportSettings;
  /** Where the last choice of export formats is kept (the extension's global state). */
  readonly formatMemento: FormatMemento;
  prompts(): Prompts;
  /** The `fastsam.clipModel` setting as written, and where Hub downloads of CLIP go (the extension's global storage). */
  clipSettings(): { model: string; cacheDir: string };
  /** The model-missing panel's Download, and where checkpoints in read-only folders are converted. */
  readonly models: ModelSetup;
  /** Sees every message an editor sends to its webview (the extension-host tests observe the editor through it). */
  onDidPost?(resource: vscode.Uri, message: HostToWebview): void;
}

/** What Export did: the binary mask alone as mask-export.ts says; several formats with every file written in `paths` (the first in `path`). */
export type EditorExportOutcome = ExportOutcome | { status: 'written'; path: string; paths: string[] } | { status: 'failed'; message: string };

export type SegmentOutcome =
  | { status: 'segmented'; masks: number; cached: boolean }
  | { status: 'cancelled' }
  | { status: 'model-missing'; message: string }
  | { status: 'failed'; message: string };

interface Shown {
  key: CacheKeyParts;
  result: SegmentationResult;
  total: number;
  /** `SegmentationMessage.resultId`: which of this editor's results it is. */
  resultId: number;
}

/** After the last editor closes, the worker and the model's memory are released this much later. */
const IDLE_STOP_MS = 60_000;

/** How long file-change events are gathered before the image is read again (a write can fire several). */
const CHANGE_SETTLE_MS = 150;

export class SegmentationEditorProvider extends Disposable implements vscode.CustomReadonlyEditorProvider {
  static readonly viewType = 'fastsam.segmentationEditor';

  private readonly editors = new Set<SegmentationEditor>();
  private active: SegmentationEditor | undefined;
  private readonly onDidChangeActiveEmitter = this.register(new vscode.EventEmitter<SegmentationEditor | undefined>());
  /** Fires when the active segmentation editor changes (undefined: none is active). */
  readonly onDidChangeActiveEditor = this.onDidChangeActiveEmitter.event;
  private readonly onDidOpenEmitter = this.register(new vscode.EventEmitter<SegmentationEditor>());
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly services: EditorServices) {
    super();
    this.register({ dispose: () => clearTimeout(this.idleTimer) });
  }

  get activeEditor(): SegmentationEditor | undefined {
    return this.active;
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => {} };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    clearTimeout(this.idleTimer);
    const editor = new SegmentationEditor(document.uri, panel, this.services);
    this.editors.add(editor);
    if (panel.active) this.setActive(editor);
    panel.onDidChangeViewState(() => {
      if (panel.active) this.setActive(editor);
      else if (this.active === editor) this.setActive(undefined);
    });
    panel.onDidDispose(() => {
      this.editors.delete(editor);
      if (this.active === editor) this.setActive(undefined);
      editor.dispose();
      this.scheduleIdleStop();
    });
    this.onDidOpenEmitter.fire(editor);
  }

  /**
   * With no editor open, stops the worker (freeing the model's memory) a
   * while later, once it has no work left: a batch export may still run after
   * the last editor closed, and calls this when it ends.
   */
  scheduleIdleStop(): void {
    if (this.editors.size > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.services.engine.busy) this.scheduleIdleStop();
      else void this.services.engine.stop();
    }, IDLE_STOP_MS);
    this.idleTimer.unref();
  }

  /** An open editor of `uri` (the active one first). */
  editorFor(uri: vscode.Uri): SegmentationEditor | undefined {
    const key = uri.toString();
    if (this.active?.resource.toString() === key) return this.active;
    for (const e of this.editors) if (e.resource.toString() === key) return e;
    return undefined;
  }

  /** Opens `uri` in the segmentation editor (or reveals it) and returns the editor once resolved. */
  open(uri: vscode.Uri): Promise<SegmentationEditor> {
    return new Promise<SegmentationEditor>((resolve, reject) => {
      const sub = this.onDidOpenEmitter.event((e) => {
        if (e.resource.toString() === uri.toString()) {
          sub.dispose();
          resolve(e);
        }
      });
      // An editor already open is revealed, not resolved again.
      vscode.commands.executeCommand('vscode.openWith', uri, SegmentationEditorProvider.viewType).then(
        () => {
          const existing = this.editorFor(uri);
          if (existing) {
            sub.dispose();
            resolve(existing);
          }
        },
        (e: unknown) => {
          sub.dispose();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** Settings changed: editors that were asked to segment run again with the new ones (or answer from the cache). */
  settingsChanged(): void {
    for (const e of this.editors) e.settingsChanged();
  }

  /** A model was downloaded or chosen: editors that said "model missing" segment (also when fastsam.modelPath kept its value). */
  modelAvailable(): void {
    for (const e of this.editors) e.modelAvailable();
  }

  override dispose(): void {
    for (const e of this.editors) e.dispose();
    this.editors.clear();
    super.dispose();
  }

  private setActive(editor: SegmentationEditor | undefined): void {
    if (this.active === editor) return;
    this.active = editor;
    this.onDidChangeActiveEmitter.fire(editor);
  }
}

export class SegmentationEditor extends Disposable {
  private ready = false;
  private headerRead: Promise<ImageHeader | undefined>;
  /** Cache-busting version of the image URI, bumped when the file changes. */
  private version = Date.now();
  private status: StatusMessage;
  private modelMissing: string | undefined;
  private shown: Shown | undefined;
  /** Results shown so far: the next one's `resultId` is one more. */
  private resultsShown = 0;
  private contentHash: string | undefined;
  /** SHA-256 of the bytes the editor last read from disk (with the header): a file event with the same bytes changes nothing. */
  private loadedHash: string | undefined;
  private selection: number[] = [];
  private run: { controller: AbortController; done: Promise<SegmentOutcome> } | undefined;
  /** Whether segmentation was asked for (on open, by a command or the webview): settings changes then re-run it. */
  private wanted = false;
  private changeTimer: NodeJS.Timeout | undefined;
  /** The running text query's signal. */
  private textRun: AbortController | undefined;

  constructor(
    readonly resource: vscode.Uri,
    private readonly panel: vscode.WebviewPanel,
    private readonly services: EditorServices,
  ) {
    super();
    this.status = this.statusMessage('idle');
    const extensionRoot = services.extensionUri;
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(extensionRoot, 'dist'),
        vscode.Uri.joinPath(extensionRoot, 'media'),
        vscode.Uri.joinPath(resource, '..'),
      ],
    };
    panel.webview.html = this.html();

    this.register(panel.webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw)));
    this.register(
      panel.onDidDispose(() => {
        // Closing the tab stops its work; a result still arriving lands in the cache only.
        this.run?.controller.abort();
      }),
    );

    // The folder's files, filtered here: the file name as the pattern would be read as a
    // glob, so "scan[1].png" would watch "scan1.png" instead.
    const watcher = this.register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(resource, '..'), '*')));
    const ours = (uri: vscode.Uri) => uri.scheme === resource.scheme && (uri.scheme === 'file' ? uri.fsPath === resource.fsPath : uri.path === resource.path);
    this.register(watcher.onDidChange((uri) => ours(uri) && this.fileChanged()));
    this.register(watcher.onDidCreate((uri) => ours(uri) && this.fileChanged()));
    this.register(watcher.onDidDelete((uri) => ours(uri) && panel.dispose()));
    this.register({ dispose: () => clearTimeout(this.changeTimer) });

    this.headerRead = this.readHeader();
    if (services.settings().segmentOnOpen) void this.segment();
  }

  get fileName(): string {
    return path.posix.basename(this.resource.path);
  }

  /** Handles a message from the webview (also the test API's way in). */
  async receive(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) {
      this.services.log.warn(`Ignored an unexpected message from the editor of ${this.fileName}: ${JSON.stringify(raw)}`);
      return;
    }
    switch (message.type) {
      case 'ready':
        this.ready = true;
        await this.sendState();
        return;
      case 'segment':
        await this.segment();
        return;
      case 'cancel':
        this.run?.controller.abort();
        return;
      case 'export':
        await this.exportMasks(message.scope, message.maskIds, message.resultId);
        return;
      case 'selectionChanged':
        // Ids of a result replaced since mean other masks now: the new result starts with no selection.
        if (message.resultId === this.shown?.resultId) this.selection = message.maskIds;
        return;
      case 'chooseModel':
        await vscode.commands.executeCommand('fastsam.chooseModel');
        return;
      case 'downloadModel':
        await this.downloadModel();
        return;
      case 'showLog':
        this.services.log.show(true);
        return;
      case 'textQuery':
        await this.textQuery(message.text, message.requestId);
        return;
    }
  }

  /** Segments everything, from the cache when possible; concurrent calls share one run. */
  segment(): Promise<SegmentOutcome> {
    this.wanted = true;
    if (this.run) return this.run.done;
    const controller = new AbortController();
    const done = this.runSegmentation(controller).finally(() => {
      if (this.run?.controller === controller) this.run = undefined;
    });
    this.run = { controller, done };
    return done;
  }

  settingsChanged(): void {
    if (!this.wanted || this.disposed) return;
    this.supersede();
    void this.segment();
  }

  modelAvailable(): void {
    // A run in progress already reads the new settings, and is joined.
    if (this.modelMissing !== undefined && !this.disposed) void this.segment();
  }

  /**
   * The model-missing panel's Download: the default model is downloaded (after
   * its license is confirmed), converted and selected, with its progress in this
   * editor's status; then this image is segmented. A failure or cancel shows the
   * panel again, with the download's message.
   */
  async downloadModel(): Promise<SegmentOutcome> {
    const missing = this.modelMissing;
    const outcome = await this.services.models.setUpDefaultModel((message) => {
      if (!this.disposed && !this.run) this.setStatus('loading-model', message);
    });
    if (outcome.status === 'ready') return this.segment();
    if (this.disposed || this.run) return { status: 'cancelled' };
    const message = outcome.status === 'failed' ? outcome.message : (missing ?? NO_MODEL_MESSAGE);
    this.modelMissing = message;
    this.setStatus('idle');
    this.post({ type: 'modelMissing', message, canDownload: this.services.models.canDownload });
    return outcome.status === 'failed' ? { status: 'model-missing', message } : { status: 'cancelled' };
  }

  /**
   * Exports the selection (`maskIds`, by default the current one) or every
   * mask, in the formats the user picks (the last choice checked). The binary
   * mask alone follows mask-export.ts (Overwrite / Keep Both / Cancel, Save As
   * for a read-only folder); several formats are written together by the
   * engine worker under the rules of export-files.ts. Names and folder come
   * from the `fastsam.export.*` settings. `resultId`, given with ids from the
   * webview, is the result they belong to: ids of a replaced result are refused.
   */
  async exportMasks(scope: ExportScope, maskIds: readonly number[] = this.selection, resultId?: number): Promise<EditorExportOutcome> {
    const fail = (message: string, show: (m: string) => Thenable<unknown>) => {
      this.post({ type: 'exportDone', ok: false, message });
      void show(message);
      return { status: 'failed' as const, message };
    };
    const cancelled = (): EditorExportOutcome => {
      // A dismissed question is no failure: the webview says so quietly.
      this.post({ type: 'exportDone', ok: false, cancelled: true, message: 'Export cancelled.' });
      return { status: 'cancelled' };
    };
    const shown = this.shown;
    if (!shown) return fail('There is nothing to export yet: segment the image first.', vscode.window.showInformationMessage);
    if (scope === 'selection' && resultId !== undefined && resultId !== shown.resultId) {
      return fail('The masks were replaced (the image was segmented again) before the export began: select again, then export.', vscode.window.showInformationMessage);
    }
    const { result } = shown;
    // Every mask in the batch export's order (largest first), or the selection in its order.
    const masks: SegmentedMask[] =
      scope === 'everything' ? selectEverything(result.masks).map((pick) => result.masks[pick[0]!]!) : maskIds.map((id) => result.masks[id]).filter((m) => m !== undefined);
    if (masks.length === 0) return fail('Nothing is selected: click an object in the image, then export.', vscode.window.showInformationMessage);

    const prompts = this.services.prompts();
    const exportSettings = this.services.exportSettings();
    const onDisk = this.resource.scheme === 'file';
    const imagePath = onDisk ? this.resource.fsPath : this.resource.path;
    const outDir = onDisk
      ? resolveOutputFolder(exportSettings.outputFolder, { workspaceFolder: vscode.workspace.getWorkspaceFolder(this.resource)?.uri.fsPath, imageFolder: path.dirname(imagePath) })
      : undefined;
    const output = { ...(outDir !== undefined ? { outDir } : {}), names: exportSettings.fileNames };
    try {
      const all = planOutputs(imagePath, EXPORT_FORMAT_INFO.map((f) => f.id), output);
      const files = Object.fromEntries(all.map((t) => [t.format, path.basename(t.path)])) as Record<ExportFormatId, string>;
      const what = `${scope === 'everything' ? `all ${masks.length} masks` : masks.length === 1 ? '1 selected mask' : `${masks.length} selected masks`} of ${this.fileName}`;
      const formats = await chooseFormats((r) => prompts.pickExportFormats(r), this.services.formatMemento, exportSettings.formats, { title: `Export ${what}`, files });
      if (!formats) return cancelled();
      const targets = all.filter((t) => formats.includes(t.format));

      const maskOnly = formats.length === 1 && formats[0] === 'mask';
      let written: string[];
      if (maskOnly) {
        const png = await this.services.engine.encodeMaskPng(masks.map((m) => m.mask), result.width, result.height);
        let outcome: ExportOutcome;
        if (onDisk) {
          // An output folder of the settings may not exist yet; a failure here shows as the write's own error.
          await fs.mkdir(path.dirname(targets[0]!.path), { recursive: true }).catch(() => undefined);
          outcome = await exportMaskFile(targets[0]!.path, png, prompts);
        } else {
          const target = await prompts.saveAs(maskPathFor(this.resource.path), `${this.fileName} is not a file on this computer, so its mask cannot be saved beside it.`);
          outcome = target === undefined ? { status: 'cancelled' } : await exportMaskFile(target, png, prompts, { overwrite: true });
        }
        if (outcome.status === 'cancelled') return cancelled();
        written = [outcome.path];
      } else {
        if (!onDisk) throw new UserFacingError(`${this.fileName} is not a file on this computer: only its binary mask can be exported (Save As).`);
        const { polygonTolerance, cocoSegmentation } = exportSettings;
        const outcome = await exportFileSet(
          targets.map((t) => t.path),
          (paths, { overwrite }) =>
            this.services.engine.exportImage({
              imagePath,
              width: result.width,
              height: result.height,
              masks,
              targets: targets.map((t, i) => ({ format: t.format, path: paths[i]! })),
              formatOptions: { polygonTolerance, cocoSegmentation },
              overwrite,
            }),
          prompts,
        );
        if (outcome.status === 'cancelled') return cancelled();
        written = outcome.paths;
      }
      this.services.log.info(`Exported ${masks.length} mask(s) of ${imagePath} to ${written.join(', ')}`);
      this.post({ type: 'exportDone', ok: true, paths: written });
      void revealOffer(written, maskOnly);
      return maskOnly ? { status: 'written', path: written[0]! } : { status: 'written', path: written[0]!, paths: written };
    } catch (e) {
      if (!(e instanceof UserFacingError)) this.services.log.error(`Export of ${this.fileName} failed`, e);
      return fail(e instanceof Error ? e.message : String(e), vscode.window.showErrorMessage);
    }
  }

  /**
   * Ranks the shown masks by `text` with CLIP in the worker and answers the
   * webview with mask ids, best first; a newer query supersedes a running one.
   * Errors (no masks yet, a missing or broken CLIP model, offline) are answered
   * as `error`, the core's one-line message, which the webview shows.
   */
  async textQuery(text: string, requestId: number): Promise<TextResultMessage> {
    this.textRun?.abort();
    const controller = new AbortController();
    this.textRun = controller;
    const answer = (m: Omit<TextResultMessage, 'type' | 'requestId'>): TextResultMessage => {
      const message: TextResultMessage = { type: 'textResult', requestId, ...m };
      if (this.textRun === controller) this.textRun = undefined;
      if (!controller.signal.aborted) this.post(message);
      return message;
    };
    const shown = this.shown;
    if (!shown) return answer({ ranked: [], error: 'There are no masks to search yet: run Everything first.' });
    const { model, cacheDir } = this.services.clipSettings();
    try {
      const workspaceFolder = (vscode.workspace.getWorkspaceFolder(this.resource) ?? vscode.workspace.workspaceFolders?.[0])?.uri.fsPath;
      const clip = { model: await resolveClipModel(model, { workspaceFolder }), cacheDir, allowRemote: clipDownloadsAllowed() };
      // The crops must come from the bytes that were segmented: a file changed on disk since
      // (its reload may still be settling) would pair these masks with other pixels.
      const image = await vscode.workspace.fs.readFile(this.resource);
      if ((await contentHashOf(image)) !== shown.key.contentHash) {
        return answer({ ranked: [], error: `${this.fileName} changed on disk since it was segmented: search again once its masks are updated.` });
      }
      const start = performance.now();
      const ranked = await this.services.engine.textQuery({
        clip,
        key: cacheKey(shown.key),
        result: shown.result,
        image,
        name: this.fileName,
        text,
        signal: controller.signal,
        onProgress: (message) => {
          if (!controller.signal.aborted) this.post({ type: 'textProgress', requestId, message });
        },
      });
      if (this.shown !== shown) return answer({ ranked: [], error: 'The masks changed during the search: press Enter to search again.' });
      const masks = shown.result.masks;
      this.services.log.info(`${this.fileName}: text "${text}" ranked ${ranked.length} masks in ${(performance.now() - start).toFixed(0)} ms`);
      return answer({ ranked: ranked.map((r) => ({ id: masks[r.index]!.id, score: r.score })) });
    } catch (e) {
      // Superseded by a newer query, or the editor closed: nobody waits for this answer.
      if (controller.signal.aborted) return answer({ ranked: [], error: 'Cancelled' });
      const message = errorMessage(e);
      if (e instanceof UserFacingError) this.services.log.warn(`${this.fileName}: text "${text}": ${message}`);
      else this.services.log.error(`Text query on ${this.fileName} failed`, e);
      return answer({ ranked: [], error: message });
    }
  }

  override dispose(): void {
    this.run?.controller.abort();
    this.run = undefined;
    this.textRun?.abort();
    super.dispose();
  }

  // ---- segmentation ---------------------------------------------------------

  private async runSegmentation(controller: AbortController): Promise<SegmentOutcome> {
    const { signal } = controller;
    const current = (): boolean => this.run?.controller === controller && !this.disposed;
    const { engine, cache, log } = this.services;
    const settings = this.services.settings();
    try {
      const header = await this.headerRead;
      if (!header) return { status: 'failed', message: this.status.message ?? `Cannot read ${this.fileName}` };

      const model = await modelFileStatus(settings);
      if (!current()) throw new CancelledError();
      if (typeof model === 'string') {
        this.modelMissing = model;
        this.setStatus('idle');
        this.post({ type: 'modelMissing', message: model, canDownload: this.services.models.canDownload });
        return { status: 'model-missing', message: model };
      }
      this.modelMissing = undefined;

      const bytes = await vscode.workspace.fs.readFile(this.resource);
      const contentHash = await contentHashOf(bytes);
      if (!current()) throw new CancelledError();
      this.contentHash = contentHash;
      const key: CacheKeyParts = {
        contentHash,
        modelPath: model.path,
        modelMtimeMs: model.mtimeMs,
        modelSize: model.size,
        executionProvider: settings.executionProvider,
        imageSize: settings.imageSize,
        confidence: settings.confidence,
        iou: settings.iou,
        maxDetections: settings.maxDetections,
      };
      let hit = cache.get(key);
      const shared = hit ? undefined : cache.inFlight(key);
      if (shared) {
        // Another editor of this image is segmenting it: its result serves this one too.
        // Should it fail or be cancelled, this editor runs its own.
        this.setStatus('segmenting');
        hit = await untilAborted(shared, signal).catch(() => undefined);
        if (!current() || signal.aborted) throw new CancelledError();
      }
      if (hit) {
        this.show({ key, result: hit, total: 0 }, true);
        log.info(`${this.fileName}: ${hit.masks.length} masks from the cache`);
        return { status: 'segmented', masks: hit.masks.length, cached: true };
      }

      const start = performance.now();
      const spec = { path: model.path, executionProvider: settings.executionProvider, mtimeMs: model.mtimeMs, size: model.size, conversionFolder: this.services.models.conversionFolder };
      // A first guess for the status; the worker reports the real phases.
      const initial: WorkerPhase = engine.loadedModel?.path === model.path ? 'segmenting' : 'loading-model';
      const running = Promise.resolve(vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `FastSAM: ${this.fileName}`, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          const onPhase = (phase: WorkerPhase): void => {
            if (!current()) return;
            this.setStatus(phase);
            progress.report({ message: phase === 'loading-model' ? `Loading ${path.basename(model.path)}…` : 'Segmenting…' });
          };
          // A checkpoint is converted before it loads: said once, while the notification shows its percentage.
          const onConverting = ({ checkpoint, fraction }: ConversionNotice): void => {
            if (!current()) return;
            const message = `Converting ${checkpoint} to ONNX…`;
            if (this.status.phase !== 'loading-model' || this.status.message !== message) this.setStatus('loading-model', message);
            progress.report({ message: `${message} ${Math.floor(fraction * 100)}%` });
          };
          onPhase(initial);
          return engine.segment({
            model: spec,
            image: bytes,
            name: this.fileName,
            imageSize: settings.imageSize,
            confidence: settings.confidence,
            iou: settings.iou,
            maxDetections: settings.maxDetections,
            signal,
            onPhase,
            onConverting,
            // Closed or cancelled after the worker's last stop: the result still serves a reopened tab.
            onLateResult: (late) => cache.set(key, late),
          });
        },
      ));
      cache.track(key, running);
      const result = await running;
      const total = performance.now() - start;
      // Valid for its key whatever happened to this editor meanwhile.
      cache.set(key, result);
      if (!current()) throw new CancelledError();
      const t = result.timings;
      log.info(
        `${this.fileName}: ${result.masks.length} masks, ${result.width}×${result.height} at ${result.imageSize}, ${total.toFixed(0)} ms ` +
          `(decode ${t.decode.toFixed(0)}, preprocess ${t.preprocess.toFixed(0)}, inference ${t.inference.toFixed(0)}, postprocess ${t.postprocess.toFixed(0)}) on ${engine.loadedModel?.executionProvider ?? '?'}`,
      );
      this.show({ key, result, total }, false);
      return { status: 'segmented', masks: result.masks.length, cached: false };
    } catch (e) {
      if (e instanceof CancelledError || signal.aborted) {
        if (current()) this.setStatus('cancelled');
        return { status: 'cancelled' };
      }
      if (e instanceof ModelError && e.code === 'not-found') {
        const message = `${e.message}. Choose an ONNX model file to segment images.`;
        this.modelMissing = message;
        if (current()) this.post({ type: 'modelMissing', message, canDownload: this.services.models.canDownload });
        return { status: 'model-missing', message };
      }
      const message = errorMessage(e);
      if (e instanceof UserFacingError) log.warn(`${this.fileName}: ${message}`);
      else log.error(`Segmentation of ${this.resource.fsPath} failed`, e);
      if (current()) this.setStatus('error', message);
      return { status: 'failed', message };
    }
  }

  /** Stops the current run without reporting it: a newer one replaces it. */
  private supersede(): void {
    this.run?.controller.abort();
    this.run = undefined;
  }

  private show(shown: Omit<Shown, 'resultId'>, cached: boolean): void {
    this.shown = { ...shown, resultId: ++this.resultsShown };
    this.selection = [];
    this.setStatus('ready');
    this.post(segmentationMessage(this.shown, cached));
  }

  // ---- the image file ------------------------------------------------------------

  /** The image's header, from the file, or from its bytes (and their hash) that the caller has just read. */
  private async readHeader(read?: { bytes: Uint8Array; hash: string }): Promise<ImageHeader | undefined> {
    try {
      const bytes = read?.bytes ?? (await vscode.workspace.fs.readFile(this.resource));
      // Before the probe, which hands the bytes over to the worker.
      this.loadedHash = read?.hash ?? (await contentHashOf(bytes));
      return await this.services.engine.probeImage(bytes, this.fileName);
    } catch (e) {
      const message = errorMessage(e);
      this.services.log.warn(`${this.fileName}: ${message}`);
      this.setStatus('error', message);
      return undefined;
    }
  }

  private fileChanged(): void {
    clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => void this.reload(), CHANGE_SETTLE_MS);
  }

  /** The file changed on disk: its masks are stale, in this editor and in the cache. */
  private async reload(): Promise<void> {
    if (this.disposed) return;
    // A write of the same bytes (a touch, a checkout, the file just written when the editor
    // opened) changes nothing: the masks and the user's selection stay.
    await this.headerRead;
    const known = this.loadedHash;
    const bytes = await vscode.workspace.fs.readFile(this.resource).then((b) => b, () => undefined);
    // Read once: the header below comes from the same bytes (an unreadable file is read again there, to say why).
    const read = bytes && { bytes, hash: await contentHashOf(bytes) };
    if (this.disposed || (known !== undefined && read?.hash === known && this.loadedHash === known)) return;
    this.supersede();
    if (this.contentHash) this.services.cache.deleteContent(this.contentHash);
    this.contentHash = undefined;
    this.shown = undefined;
    this.selection = [];
    this.version = Date.now();
    this.headerRead = this.readHeader(read);
    const header = await this.headerRead;
    if (this.disposed) return;
    this.services.log.info(`${this.fileName} changed on disk; reloaded`);
    if (header) {
      this.post({ type: 'imageChanged', imageUri: this.imageUri(), width: header.width, height: header.height, orientation: header.orientation });
      if (this.wanted) void this.segment();
      else this.setStatus('idle');
    }
  }

  // ---- the webview ---------------------------------------------------------------

  private async sendState(): Promise<void> {
    const header = await this.headerRead;
    if (header) {
      this.post({ type: 'init', imageUri: this.imageUri(), fileName: this.fileName, width: header.width, height: header.height, orientation: header.orientation });
    }
    this.post(this.status);
    if (this.modelMissing) this.post({ type: 'modelMissing', message: this.modelMissing, canDownload: this.services.models.canDownload });
    // Re-sent from memory: no inference ran for this message.
    if (this.shown) this.post(segmentationMessage(this.shown, true));
  }

  private setStatus(phase: EnginePhase, message?: string): void {
    this.status = this.statusMessage(phase, message);
    this.post(this.status);
  }

  private statusMessage(phase: EnginePhase, message?: string): StatusMessage {
    const modelPath = this.services.settings().modelPath;
    const loaded = this.services.engine.loadedModel;
    return {
      type: 'status',
      phase,
      model: modelPath ? path.basename(modelPath) : null,
      executionProvider: loaded && loaded.path === modelPath ? loaded.executionProvider : null,
      ...(message !== undefined ? { message } : {}),
    };
  }

  private post(message: HostToWebview): void {
    if (this.disposed) return;
    this.services.onDidPost?.(this.resource, message);
    // Before `ready` the webview's script is not listening; `ready` brings the whole state.
    if (this.ready) void this.panel.webview.postMessage(message);
  }

  private imageUri(): string {
    const uri = this.panel.webview.asWebviewUri(this.resource);
    // The version defeats the webview's cache when the file changes; a URI with a query of its own is left alone.
    return (uri.query ? uri : uri.with({ query: `version=${this.version}` })).toString();
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = webcrypto.randomUUID().replace(/-/g, '');
    const root = this.services.extensionUri;
    const css = webview.asWebviewUri(vscode.Uri.joinPath(root, 'media', 'editor.css'));
    const script = webview.asWebviewUri(vscode.Uri.joinPath(root, 'dist', 'webview.js'));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} blob: data:`,
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      'worker-src blob:',
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(this.fileName)}</title>
<link href="${escapeAttribute(css.toString())}" rel="stylesheet">
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${escapeAttribute(script.toString())}"></script>
</body>
</html>`;
  }
}

/** The configured model's file, or why there is none (what the editor's `modelMissing` and the batch export say). */
export async function modelFileStatus(settings: Pick<FastSamSettings, 'modelPath'>): Promise<{ path: string; mtimeMs: number; size: number } | string> {
  const modelPath = settings.modelPath;
  if (!modelPath) return NO_MODEL_MESSAGE;
  try {
    const stat = await fs.stat(modelPath);
    if (!stat.isFile()) return `The FastSAM model path ${modelPath} is not a file. Choose an ONNX model file to segment images.`;
    return { path: modelPath, mtimeMs: stat.mtimeMs, size: stat.size };
  } catch {
    return `The FastSAM model file ${modelPath} was not found. Choose an ONNX model file to segment images.`;
  }
}

function segmentationMessage(shown: Shown, cached: boolean): SegmentationMessage {
  const { result } = shown;
  const masks: WireMask[] = result.masks.map((m) => ({
    id: m.id,
    score: m.score,
    box: m.box,
    area: m.mask.area,
    left: m.mask.left,
    top: m.mask.top,
    width: m.mask.width,
    height: m.mask.height,
    bits: m.mask.bits,
  }));
  return {
    type: 'segmentation',
    resultId: shown.resultId,
    width: result.width,
    height: result.height,
    masks,
    timings: { ...result.timings, total: shown.total },
    cached,
    imageSize: result.imageSize,
  };
}

/** Offers to show the written files (the first), as `revealPath` can. */
async function revealOffer(files: readonly string[], maskOnly: boolean): Promise<void> {
  const reveal = 'Reveal in Explorer';
  const [file] = files;
  if (file === undefined) return;
  const message =
    maskOnly ? `Saved the mask to ${file}`
    : files.length === 1 ? `Saved ${file}`
    : `Saved ${files.length} files to ${path.dirname(file)}: ${fileNameList(files)}`;
  const answer = await vscode.window.showInformationMessage(message, reveal);
  if (answer !== reveal) return;
  await revealPath(file);
}

/** What the result cache knows an image's content by: its SHA-256, hex. */
async function contentHashOf(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

/** `promise`, or a CancelledError as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function errorMessage(e: unknown): string {
  if (e instanceof vscode.FileSystemError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => Number.isInteger(n) && n >= 0);
const isResultId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** The message if it has a known shape; the webview is ours, but its messages still cross a trust boundary. */
function parseWebviewMessage(raw: unknown): WebviewToHost | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'segment':
    case 'cancel':
    case 'chooseModel':
    case 'downloadModel':
    case 'showLog':
      return { type: m.type };
    case 'export':
      return (m.scope === 'selection' || m.scope === 'everything') && isIdList(m.maskIds) && isResultId(m.resultId)
        ? { type: 'export', scope: m.scope, maskIds: m.maskIds, resultId: m.resultId }
        : undefined;
    case 'selectionChanged':
      return isIdList(m.maskIds) && isResultId(m.resultId) ? { type: 'selectionChanged', maskIds: m.maskIds, resultId: m.resultId } : undefined;
    case 'textQuery':
      return typeof m.text === 'string' && Number.isInteger(m.requestId) ? { type: 'textQuery', text: m.text, requestId: m.requestId as number } : undefined;
    default:
      return undefined;
  }
}

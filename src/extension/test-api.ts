/**
 * What `activate` returns when VS Code runs the extension's tests
 * (ExtensionMode.Test), and nothing otherwise: the extension-host tests
 * (test/extension) observe the editors' messages, speak for a webview, follow
 * and cancel a batch export, and script the dialogs' answers through it.
 */
import type * as vscode from 'vscode';
import type { HostToWebview, WebviewToHost } from '../shared/protocol';
import type { WorkerClipCounters } from './engine-client';
import type { ModelPrompts } from './model-prompts';
import type { Prompts } from './prompts';

export interface PostedMessage {
  /** The image of the editor that sent it. */
  resource: vscode.Uri;
  message: HostToWebview;
}

export interface FastSamTestApi {
  /** Every message a segmentation editor sends to its webview. */
  readonly onDidPostMessage: vscode.Event<PostedMessage>;
  /** Handles `message` as if the webview of the editor of `resource` had sent it. */
  receive(resource: vscode.Uri, message: WebviewToHost): Promise<void>;
  /** Answers the dialogs with these functions instead (undefined: the real dialogs again). */
  setPrompts(prompts: Partial<Prompts> | undefined): void;
  /** Answers the model commands' questions and notices with these instead (undefined: the real ones again). */
  setModelPrompts(prompts: Partial<ModelPrompts> | undefined): void;
  /** Cancels the model downloads and conversions in progress, as their notification's Cancel does; false when none runs. */
  cancelModelDownloads(): boolean;
  /** Where models are downloaded (the extension's global storage). */
  readonly modelsFolder: string;
  /** Results held by the result cache. */
  readonly cachedResults: number;
  /** The engine worker's CLIP runs so far: what a text query cost (vision runs only for a new image's masks). */
  clipCounters(): Promise<WorkerClipCounters>;
  /** Each message of Export Masks…'s progress notification ("3 of 8 — a.png — about 4 s left"). */
  readonly onDidReportExportProgress: vscode.Event<string>;
  /** Cancels the running Export Masks… as its notification's Cancel button does; false when none runs. */
  cancelExport(): boolean;
  /** The model entry in the status bar, or undefined while it is hidden. */
  readonly modelStatusBar: { text: string; tooltip: string } | undefined;
}

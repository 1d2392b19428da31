import * as path from 'node:path';
import * as vscode from 'vscode';
import { Disposable } from './dispose';
import type { LoadedModel, ModelFailure } from './engine-client';
import { modelLabel } from './model-list';
import type { FastSamSettings } from './settings';

/**
 * The model and execution provider, in the status bar while a segmentation
 * editor is active (as the image preview shows the image size), or that the
 * configured model failed to load. Clicking it chooses another model file.
 */
export class ModelStatusBarEntry extends Disposable {
  private readonly item: vscode.StatusBarItem;
  private visible = false;

  constructor() {
    super();
    this.item = this.register(vscode.window.createStatusBarItem('fastsam.model', vscode.StatusBarAlignment.Right, 101));
    this.item.name = 'FastSAM Model';
    this.item.command = 'fastsam.chooseModel';
  }

  /** What the entry shows, or undefined while it is hidden. */
  get shown(): { text: string; tooltip: string } | undefined {
    return this.visible ? { text: this.item.text, tooltip: String(this.item.tooltip) } : undefined;
  }

  /** Shows the entry for an active editor, or hides it (`visible` false). `failure`: the last model that failed to load. */
  update(visible: boolean, settings: FastSamSettings, loaded: LoadedModel | undefined, failure: ModelFailure | undefined): void {
    this.visible = visible;
    if (!visible) {
      this.item.hide();
      return;
    }
    const modelPath = settings.modelPath;
    if (!modelPath) {
      this.item.text = '$(warning) FastSAM: no model';
      this.item.tooltip = 'No FastSAM model is configured. Click to choose a model file (or download one with FastSAM: Download Model…).';
    } else if (failure?.path === modelPath && failure.executionProvider === settings.executionProvider) {
      this.item.text = `$(error) ${modelLabel(modelPath)}: not loaded`;
      this.item.tooltip = [`FastSAM model: ${modelPath}`, `It could not be loaded: ${failure.message}`, 'Click to choose another model file.'].join('\n');
    } else {
      const inUse = loaded?.path === modelPath ? loaded.executionProvider : undefined;
      // A downloaded model is its checkpoint's conversion: named by the checkpoint (FastSAM-s.pt).
      const label = modelLabel(modelPath);
      const converted =
        /\.(pt|pth)$/i.test(modelPath) ? ' (a checkpoint, converted to ONNX when it loads)'
        : label !== path.basename(modelPath) ? ` (the ONNX conversion of ${label})`
        : '';
      this.item.text = `$(sparkle) ${label} · ${inUse ?? settings.executionProvider}`;
      this.item.tooltip = [
        `FastSAM model: ${modelPath}${converted}`,
        inUse
          ? `Execution provider: ${inUse} (setting: ${settings.executionProvider})`
          : `Execution provider: ${settings.executionProvider} (the one in use is known once the model loads)`,
        'Click to choose another model file.',
      ].join('\n');
    }
    this.item.show();
  }
}

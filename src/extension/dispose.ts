import * as vscode from 'vscode';

/** Owns disposables and releases them, newest first, when it is disposed. */
export abstract class Disposable implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private isDisposed = false;

  protected get disposed(): boolean {
    return this.isDisposed;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    while (this.disposables.length > 0) this.disposables.pop()!.dispose();
  }

  protected register<T extends vscode.Disposable>(disposable: T): T {
    if (this.isDisposed) disposable.dispose();
    else this.disposables.push(disposable);
    return disposable;
  }
}

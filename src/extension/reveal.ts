/**
 * Showing a file or folder the extension wrote: in the Explorer when it is in the
 * workspace, else in the OS file manager where the window has one. A remote or
 * browser window has none (VS Code's "Reveal in File Explorer" silently does
 * nothing there), so the path is copied to the clipboard and said instead.
 */
import * as vscode from 'vscode';

export type RevealWay = 'explorer' | 'file-manager' | 'copy-path';

/** How a path can be shown in this window. */
export function revealWay(inWorkspace: boolean, window: { remoteName: string | undefined; uiKind: vscode.UIKind }): RevealWay {
  if (inWorkspace) return 'explorer';
  return window.remoteName === undefined && window.uiKind === vscode.UIKind.Desktop ? 'file-manager' : 'copy-path';
}

export async function revealPath(target: string): Promise<void> {
  const uri = vscode.Uri.file(target);
  switch (revealWay(vscode.workspace.getWorkspaceFolder(uri) !== undefined, vscode.env)) {
    case 'explorer':
      await vscode.commands.executeCommand('revealInExplorer', uri);
      return;
    case 'file-manager':
      await vscode.commands.executeCommand('revealFileInOS', uri);
      return;
    case 'copy-path':
      await vscode.env.clipboard.writeText(target);
      void vscode.window.showInformationMessage(`${target} is outside the workspace, and this window cannot open a file manager: its path is copied to the clipboard.`);
  }
}

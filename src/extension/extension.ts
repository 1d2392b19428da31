import * as vscode from 'vscode';

let log: vscode.LogOutputChannel | undefined;

/** The extension's log ("FastSAM" in the Output panel). Undefined before activation. */
export function getLog(): vscode.LogOutputChannel | undefined {
  return log;
}

export function activate(context: vscode.ExtensionContext): void {
  log = vscode.window.createOutputChannel('FastSAM', { log: true });
  context.subscriptions.push(log);
  log.info(`FastSAM ${String(context.extension.packageJSON.version)} activated (VS Code ${vscode.version}, Node ${process.version})`);

  context.subscriptions.push(
    vscode.commands.registerCommand('fastsam.showLog', () => {
      log?.show(true);
    }),
  );
}

export function deactivate(): void {
  log = undefined;
}

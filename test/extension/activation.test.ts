import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './extension-api';

describe('activation', () => {
  it('the extension is loaded', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not loaded`);
    assert.equal((ext.packageJSON as { main?: string }).main, './dist/extension.js');
  });

  it('contributes "FastSAM: Show Log"', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const commands = (ext.packageJSON as { contributes?: { commands?: { command: string; title: string; category?: string }[] } })
      .contributes?.commands;
    assert.deepEqual(
      commands?.find((c) => c.command === 'fastsam.showLog'),
      { command: 'fastsam.showLog', title: 'Show Log', category: 'FastSAM' },
    );
  });

  it('activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('registers fastsam.showLog', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('fastsam.showLog'), 'fastsam.showLog is not registered');
  });

  it('fastsam.showLog runs and shows the FastSAM log', async () => {
    await vscode.commands.executeCommand('fastsam.showLog');
    const isLog = (e: vscode.TextEditor): boolean => e.document.uri.scheme === 'output' && e.document.uri.path.includes('FastSAM');
    const deadline = Date.now() + 5000;
    while (!vscode.window.visibleTextEditors.some(isLog) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      vscode.window.visibleTextEditors.some(isLog),
      `no visible FastSAM output editor; visible: ${vscode.window.visibleTextEditors.map((e) => e.document.uri.toString()).join(', ') || 'none'}`,
    );
  });
});

/**
 * What the extension-host suites share: activating the extension for its test API,
 * and waiting for a message the extension posts to an editor's webview.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FastSamTestApi } from '../../src/extension/test-api';
import type { HostToWebview } from '../../src/shared/protocol';

export const EXTENSION_ID = 'fastsam-vscode.fastsam-vscode';

export type Message<T extends HostToWebview['type']> = Extract<HostToWebview, { type: T }>;

/** Each editor's last `resultId` posted to its webview, by image URI. */
const resultIds = new Map<string, number>();
let followingResults = false;

/** Activates the extension and returns the API it exports in test mode. */
export async function activateTestApi(): Promise<FastSamTestApi> {
  const ext = vscode.extensions.getExtension<FastSamTestApi | undefined>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded`);
  const exported = await ext.activate();
  assert.ok(exported, 'activate() returned no test API: is the extension running in test mode?');
  if (!followingResults) {
    followingResults = true;
    exported.onDidPostMessage(({ resource, message }) => message.type === 'segmentation' && resultIds.set(resource.toString(), message.resultId));
  }
  return exported;
}

/** The result the editor of `uri` shows, as its webview names it in the mask ids it sends back. */
export function shownResultId(uri: vscode.Uri): number {
  const id = resultIds.get(uri.toString());
  assert.ok(id !== undefined, `no segmentation was posted for ${path.basename(uri.fsPath)}`);
  return id;
}

/** The next message of `type` to the webview of `uri` that passes `accept`; subscribe before causing it. */
export function nextMessage<T extends HostToWebview['type']>(
  api: FastSamTestApi,
  uri: vscode.Uri,
  type: T,
  accept: (m: Message<T>) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<Message<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no "${type}" message for ${path.basename(uri.fsPath)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const sub = api.onDidPostMessage(({ resource, message }) => {
      if (resource.toString() !== uri.toString() || message.type !== type || !accept(message as Message<T>)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(message as Message<T>);
    });
  });
}

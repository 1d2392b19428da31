/**
 * The webview's side of the host connection: typed messages and persisted state.
 * `acquireVsCodeApi` may be called once per page, so everything goes through here.
 */
import type { HostToWebview, WebviewToHost } from '../shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface Host {
  post(message: WebviewToHost): void;
  /** Subscribes to host messages; returns the unsubscribe function. */
  onMessage(handler: (message: HostToWebview) => void): () => void;
  /** State saved by `setState` before the tab was hidden (or undefined). */
  getState(): unknown;
  setState(state: unknown): void;
}

/** Every host message type; a Record, so that a type added to the protocol is a compile error here until listed. */
const HOST_MESSAGE_TYPES: Record<HostToWebview['type'], true> = {
  init: true,
  status: true,
  modelMissing: true,
  segmentation: true,
  exportDone: true,
  imageChanged: true,
  textResult: true,
  textProgress: true,
};

export function isHostMessage(data: unknown): data is HostToWebview {
  const type = typeof data === 'object' && data !== null ? (data as { type?: unknown }).type : undefined;
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(HOST_MESSAGE_TYPES, type);
}

export function connectHost(win: Window = window): Host {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    onMessage(handler) {
      // Other frames (VS Code's own, extensions' devtools) may post here too; only protocol messages pass.
      const listener = (e: MessageEvent) => {
        if (isHostMessage(e.data)) handler(e.data);
      };
      win.addEventListener('message', listener);
      return () => win.removeEventListener('message', listener);
    },
    getState: () => api.getState(),
    setState: (state) => api.setState(state),
  };
}

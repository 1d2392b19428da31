/**
 * What the webview keeps across hiding and re-showing its tab (VS Code's
 * getState/setState): tool, view, selection with its history, display options.
 * Masks are not kept (the host re-sends them on `ready`); only their ids are.
 * Pure, so parsing untrusted saved state is unit-tested.
 */
import type { InitMessage } from '../shared/protocol';
import { TOOLS, type Tool } from './keyboard';
import type { SavedSelection } from './selection-state';
import { isValidView, type View } from './viewport';

export const STATE_VERSION = 1;

export interface PersistedState {
  readonly version: typeof STATE_VERSION;
  /** Which image the state belongs to; state for another image is ignored. */
  readonly imageKey: string;
  readonly tool: Tool;
  /** null: fitted to the panel (refits when the panel resizes). */
  readonly view: View | null;
  readonly opacity: number;
  readonly outline: boolean;
  /** Selected masks the user hid. */
  readonly hidden: readonly number[];
  readonly selection: SavedSelection;
}

export const DEFAULT_OPACITY = 0.55;

/** The identity of an image as far as saved state goes: its name and displayed size. */
export function imageKey(init: Pick<InitMessage, 'fileName' | 'width' | 'height'>): string {
  return `${init.fileName}\u0000${init.width}x${init.height}`;
}

/** The saved state, or null when there is none or it is malformed or from another version. */
export function parsePersisted(raw: unknown): PersistedState | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  if (o.version !== STATE_VERSION || typeof o.imageKey !== 'string') return null;
  const tool = TOOLS.includes(o.tool as Tool) ? (o.tool as Tool) : 'everything';
  const view = isValidView(o.view) ? { zoom: o.view.zoom, panX: o.view.panX, panY: o.view.panY } : null;
  const opacity = typeof o.opacity === 'number' && o.opacity >= 0 && o.opacity <= 1 ? o.opacity : DEFAULT_OPACITY;
  const hidden = Array.isArray(o.hidden) ? o.hidden.filter((n): n is number => Number.isInteger(n)) : [];
  const selection = (typeof o.selection === 'object' && o.selection !== null ? o.selection : { current: null, past: [], future: [] }) as SavedSelection;
  return { version: STATE_VERSION, imageKey: o.imageKey, tool, view, opacity, outline: typeof o.outline === 'boolean' ? o.outline : true, hidden, selection };
}

/**
 * Which formats the format menu starts with: the user's last choice, kept in
 * the extension's global state, while `fastsam.export.formats` is what it was
 * when they chose. Changing the setting afterwards means "start from these
 * now", so the setting wins until the next choice.
 *
 * No 'vscode' import: `FormatMemento` is the part of vscode.Memento used.
 */
import { type ExportFormatId, isExportFormatId, normalizeFormats } from '../core/export/format-names';
import type { FormatPickRequest } from './prompts';

export const LAST_FORMATS_KEY = 'fastsam.export.lastFormats';

export interface FormatMemento {
  get(key: string): unknown;
  update(key: string, value: unknown): Thenable<void>;
}

interface Remembered {
  formats: ExportFormatId[];
  /** fastsam.export.formats when they were chosen. */
  setting: ExportFormatId[];
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function isFormatList(value: unknown): value is ExportFormatId[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string' && isExportFormatId(v));
}

/** The formats to check in the menu: the last choice, unless the setting changed since (or nothing was chosen yet). */
export function preselectedFormats(memento: FormatMemento, setting: readonly ExportFormatId[]): ExportFormatId[] {
  const stored = memento.get(LAST_FORMATS_KEY) as Partial<Remembered> | undefined;
  if (stored && isFormatList(stored.formats) && stored.formats.length > 0 && isFormatList(stored.setting) && sameList(normalizeFormats(stored.setting), normalizeFormats(setting))) {
    return normalizeFormats(stored.formats);
  }
  return normalizeFormats(setting);
}

export async function rememberFormats(memento: FormatMemento, formats: readonly ExportFormatId[], setting: readonly ExportFormatId[]): Promise<void> {
  const value: Remembered = { formats: normalizeFormats(formats), setting: normalizeFormats(setting) };
  await memento.update(LAST_FORMATS_KEY, value);
}

/**
 * Asks for the formats (`pick` shows the menu) starting from preselectedFormats,
 * and remembers a choice; undefined when dismissed or nothing was checked.
 */
export async function chooseFormats(
  pick: (request: FormatPickRequest) => Promise<ExportFormatId[] | undefined>,
  memento: FormatMemento,
  setting: readonly ExportFormatId[],
  request: Omit<FormatPickRequest, 'preselected'>,
): Promise<ExportFormatId[] | undefined> {
  const picked = await pick({ ...request, preselected: preselectedFormats(memento, setting) });
  const formats = normalizeFormats(picked ?? []);
  if (formats.length === 0) return undefined;
  await rememberFormats(memento, formats, setting);
  return formats;
}

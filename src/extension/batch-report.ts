/**
 * The words of Export Masks…: its progress line and its summary. No 'vscode'
 * import, so the unit tests check them.
 */
import type { BatchProgress } from '../core/export/batch';
import { plural } from '../shared/counts';
import type { BatchSummaryReport } from './worker/messages';

/** "about 12 s left", "about 3 min left". */
export function formatRemaining(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 90 ? `about ${s} s left` : `about ${Math.round(s / 60)} min left`;
}

/** The progress notification's line: "n of N — file — about M s left". */
export function progressMessage(p: BatchProgress, name: (image: string) => string): string {
  const parts = [`${p.done} of ${p.total}`];
  if (p.image !== undefined) parts.push(name(p.image));
  if (p.remainingMs !== undefined && p.done < p.total) parts.push(formatRemaining(p.remainingMs));
  return parts.join(' — ');
}

/** "Exported 48 images (2 skipped, 1 failed)", or what stopped the batch. */
export function summaryMessage(s: BatchSummaryReport): string {
  const counts = `(${s.skipped} skipped, ${s.failed.length} failed)`;
  if (s.stopped?.reason === 'cancelled') {
    return `Export cancelled: ${plural(s.written, 'image')} exported ${counts}, ${s.remaining} not reached. Run it again to continue where it stopped.`;
  }
  if (s.stopped?.reason === 'fatal') return `Export stopped after ${plural(s.written, 'image')} ${counts}: ${s.stopped.message}`;
  const dataset = s.dataset?.status === 'not-written' ? `. The COCO dataset file was not written: ${s.dataset.message ?? 'see the log'}` : '';
  return `Exported ${plural(s.written, 'image')} ${counts}${dataset}`;
}


/**
 * The status line under the stage: engine progress with Cancel, the model and
 * execution provider, the last run's stage timings and mask count, and on the
 * right what is under the cursor. Also owns the thin indeterminate progress bar
 * that main.ts places along the top edge of the stage, as VS Code's editors do.
 */
import type { EnginePhase, StageTimingsMessage } from '../../shared/protocol';
import { formatInt, plural } from '../../shared/counts';
import { formatArea, formatMs, formatScore } from '../format';
import { h, setHidden, setText } from './dom';
import { icon } from './icons';

export interface StatusBarState {
  readonly phase: EnginePhase;
  readonly model: string | null;
  readonly executionProvider: string | null;
  /** Host detail (what is loading, an error). */
  readonly message: string | undefined;
  readonly timings: StageTimingsMessage | null;
  readonly cached: boolean;
  readonly maskCount: number | null;
  readonly hover: { readonly id: number; readonly score: number; readonly area: number } | null;
  readonly cursor: { readonly x: number; readonly y: number } | null;
  readonly image: { readonly name: string; readonly width: number; readonly height: number } | null;
}

const BUSY: Partial<Record<EnginePhase, string>> = { 'loading-model': 'Loading model…', segmenting: 'Segmenting…' };

/** "decode 14 · preprocess 21 · inference 187 · postprocess 38 · total 274 ms": the unit once, to fit a status line. */
export function timingsText(t: StageTimingsMessage, cached: boolean): string {
  const ms = (n: number) => String(Math.round(n));
  const parts = [`decode ${ms(t.decode)}`, `preprocess ${ms(t.preprocess)}`, `inference ${ms(t.inference)}`, `postprocess ${ms(t.postprocess)}`];
  return `${parts.join(' · ')} · total ${formatMs(t.total)}${cached ? ' (cached)' : ''}`;
}

export class StatusBar {
  readonly element: HTMLElement;
  readonly progressBar: HTMLDivElement;
  private readonly busy: HTMLSpanElement;
  private readonly busyText: HTMLSpanElement;
  private readonly cancel: HTMLButtonElement;
  private readonly engine: HTMLSpanElement;
  private readonly timings: HTMLSpanElement;
  private readonly masks: HTMLSpanElement;
  private readonly problem: HTMLSpanElement;
  private readonly hover: HTMLSpanElement;
  private readonly cursor: HTMLSpanElement;
  private readonly image: HTMLSpanElement;

  constructor(onCancel: () => void) {
    this.progressBar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Working', hidden: true }, [h('div', { class: 'progress-bit' })]);
    this.busyText = h('span', { class: 'busy-text' });
    this.cancel = h('button', { type: 'button', class: 'link-button', 'aria-label': 'Cancel segmentation' }, [icon('stop'), h('span', {}, ['Cancel'])]);
    this.cancel.addEventListener('click', onCancel);
    this.busy = h('span', { class: 'status-item busy', hidden: true }, [h('span', { class: 'spinner', 'aria-hidden': 'true' }), this.busyText, this.cancel]);
    this.problem = h('span', { class: 'status-item problem', hidden: true });
    this.engine = h('span', { class: 'status-item engine' });
    this.timings = h('span', { class: 'status-item timings' });
    this.masks = h('span', { class: 'status-item mask-count' });
    this.hover = h('span', { class: 'status-item hover-info' });
    this.cursor = h('span', { class: 'status-item cursor-info' });
    this.image = h('span', { class: 'status-item image-info' });
    this.element = h('footer', { class: 'statusline', 'aria-label': 'Segmentation status' }, [
      h('div', { class: 'status-left' }, [this.busy, this.problem, this.engine, this.timings, this.masks]),
      h('div', { class: 'status-right' }, [this.hover, this.cursor, this.image]),
    ]);
  }

  update(s: StatusBarState): void {
    const busy = BUSY[s.phase];
    setHidden(this.busy, !busy);
    setHidden(this.progressBar, !busy);
    if (busy) setText(this.busyText, s.message && s.phase === 'loading-model' ? `${busy} ${s.message}` : busy);

    const problem = s.phase === 'error' ? `Error: ${s.message ?? 'segmentation failed'}` : s.phase === 'cancelled' ? 'Cancelled' : '';
    setHidden(this.problem, !problem);
    setText(this.problem, problem);
    this.problem.classList.toggle('is-error', s.phase === 'error');

    const engine = s.model ? [s.model, s.executionProvider].filter(Boolean).join(' · ') : 'No model';
    setText(this.engine, engine);
    this.engine.title = s.model ? `Model ${s.model}${s.executionProvider ? `, execution provider ${s.executionProvider}` : ''}` : 'No segmentation model is configured';

    setHidden(this.timings, !s.timings || !!busy);
    if (s.timings) {
      setText(this.timings, timingsText(s.timings, s.cached));
      const t = s.timings;
      this.timings.title = `Last run${s.cached ? ', answered from the cache' : ''}: decode ${formatMs(t.decode)}, preprocess ${formatMs(t.preprocess)}, inference ${formatMs(t.inference)}, postprocess ${formatMs(t.postprocess)}, total ${formatMs(t.total)}`;
    }
    setHidden(this.masks, s.maskCount === null || !!busy);
    if (s.maskCount !== null) setText(this.masks, plural(s.maskCount, 'mask'));

    setHidden(this.hover, !s.hover);
    if (s.hover) setText(this.hover, `Mask ${s.hover.id} · ${formatScore(s.hover.score)} · ${formatArea(s.hover.area)}`);
    setHidden(this.cursor, !s.cursor);
    if (s.cursor) setText(this.cursor, `${formatInt(Math.floor(s.cursor.x))}, ${formatInt(Math.floor(s.cursor.y))}`);
    setHidden(this.image, !s.image);
    if (s.image) setText(this.image, `${s.image.width} × ${s.image.height}`);
    if (s.image) this.image.title = s.image.name;
  }
}

/**
 * Transient notices over the stage: the export result, for a few seconds. Shown
 * visually only; main.ts says the same through the live region.
 */
import { h, setHidden, setText } from './dom';
import { icon } from './icons';

export class Notice {
  readonly element: HTMLDivElement;
  private readonly text: HTMLSpanElement;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.text = h('span', { class: 'notice-text' });
    const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss' }, [icon('close')]);
    close.addEventListener('click', () => this.hide());
    this.element = h('div', { class: 'notice', hidden: true }, [this.text, close]);
  }

  /** Errors stay longer than successes: they are read, not glanced at. */
  show(text: string, kind: 'info' | 'error', title?: string): void {
    clearTimeout(this.timer);
    setText(this.text, text);
    this.text.title = title ?? text;
    this.element.classList.toggle('is-error', kind === 'error');
    setHidden(this.element, false);
    this.timer = setTimeout(() => this.hide(), kind === 'error' ? 10_000 : 5_000);
  }

  hide(): void {
    clearTimeout(this.timer);
    setHidden(this.element, true);
  }
}

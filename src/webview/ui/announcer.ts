/** A polite live region: what changed, in words, for screen readers. */
import { h } from './dom';

export class Announcer {
  readonly element: HTMLDivElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastText = '';

  constructor() {
    this.element = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  }

  /**
   * Says `text`. The region is emptied first and filled a moment later, so that
   * the same words twice in a row ("Selected mask 3…" after an undo and redo)
   * are read twice.
   */
  say(text: string): void {
    clearTimeout(this.timer);
    this.lastText = text;
    this.element.textContent = '';
    this.timer = setTimeout(() => {
      this.element.textContent = text;
    }, 60);
  }

  /** The last announcement (for tests and the harness). */
  get last(): string {
    return this.lastText;
  }
}

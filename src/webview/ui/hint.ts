/** The one-line hint in the middle of an empty stage: what to do first, or what is happening. */
import { h, setHidden, setText } from './dom';

export class StageHint {
  readonly element: HTMLDivElement;

  constructor() {
    this.element = h('div', { class: 'stage-hint', hidden: true });
  }

  update(text: string | null): void {
    setHidden(this.element, !text);
    if (text) setText(this.element, text);
  }
}

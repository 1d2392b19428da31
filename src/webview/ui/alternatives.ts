/**
 * The chooser over the stage for the prompt's ranked alternatives ("1 of 3",
 * with the alternative's area): SAM-style whole / part / sub-part answers, or a
 * text query's ranking (with the text score, how sure CLIP is).
 */
import { formatInt } from '../../shared/counts';
import { formatArea, formatScore } from '../format';
import { h, setHidden, setText } from './dom';
import { icon } from './icons';

export interface AlternativesState {
  readonly source: 'points' | 'box' | 'text';
  readonly index: number;
  readonly count: number;
  readonly area: number;
  /** The chosen alternative's text score (0–1), for a text query. */
  readonly score?: number;
}

export class AlternativesChooser {
  readonly element: HTMLDivElement;
  private readonly label: HTMLSpanElement;
  private readonly area: HTMLSpanElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;

  constructor(step: (delta: 1 | -1) => void) {
    this.prev = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Previous alternative', title: 'Previous alternative (Shift+Tab)' }, [icon('chevronLeft')]);
    this.next = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Next alternative', title: 'Next alternative (Tab)' }, [icon('chevronRight')]);
    this.prev.addEventListener('click', () => step(-1));
    this.next.addEventListener('click', () => step(1));
    this.label = h('span', { class: 'alt-label' });
    this.area = h('span', { class: 'alt-area' });
    this.element = h('div', { class: 'alternatives', role: 'group', 'aria-label': 'Alternatives', hidden: true }, [
      this.prev,
      h('span', { class: 'alt-text' }, [this.label, this.area]),
      this.next,
    ]);
  }

  update(s: AlternativesState | null): void {
    setHidden(this.element, !s);
    if (!s) return;
    setText(this.label, s.count === 0 ? 'No mask fits' : `${s.index + 1} of ${s.count}`);
    const score = s.score !== undefined ? `text score ${formatScore(s.score)}` : '';
    setText(this.area, s.count === 0 ? '' : score ? `${score} · ${formatArea(s.area)}` : formatArea(s.area));
    this.area.title = `${formatInt(s.area)} pixels`;
    this.element.setAttribute('aria-label', `Alternatives for the ${s.source === 'box' ? 'box' : s.source === 'text' ? 'text' : 'points'}`);
    this.prev.disabled = s.count < 2;
    this.next.disabled = s.count < 2;
  }
}

/**
 * The toolbar's text prompt: "Describe an object…", Enter asks the host to rank
 * the masks by the text with CLIP. The field itself shows what the query is
 * doing (loading CLIP, searching), since that can take seconds the first time.
 */
import { h, setHidden, setText } from './dom';

export interface TextQueryActions {
  /** Enter with some text: run the query. */
  submit(text: string): void;
  /** Esc in the field: back to the canvas. */
  leave(): void;
  /** Arrow keys in the field step through the text's alternatives (Tab keeps moving focus). */
  step(delta: 1 | -1): void;
}

export interface TextQueryState {
  /** Masks exist to rank: Everything has run. */
  readonly available: boolean;
  /** What the running query is doing, or null when none runs. */
  readonly progress: string | null;
}

const PLACEHOLDER = 'Describe an object…';
const UNAVAILABLE = 'Run Everything (E) first to search by text';

export class TextQueryField {
  readonly element: HTMLFormElement;
  readonly input: HTMLInputElement;
  private readonly progress: HTMLSpanElement;
  private readonly progressText: HTMLSpanElement;
  private state: TextQueryState = { available: false, progress: null };

  constructor(actions: TextQueryActions) {
    this.input = h('input', {
      type: 'search',
      id: 'text-query',
      class: 'text-query-input',
      placeholder: UNAVAILABLE,
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-keyshortcuts': 'T',
      title: 'Describe an object and press Enter to select it (T)',
    });
    this.progressText = h('span', { class: 'text-query-progress-text' });
    this.progress = h('span', { class: 'text-query-progress', hidden: true }, [h('span', { class: 'spinner', 'aria-hidden': 'true' }), this.progressText]);
    const label = h('label', { for: 'text-query', class: 'visually-hidden' }, ['Describe an object to select it']);
    this.element = h('form', { class: 'text-query', role: 'search', 'aria-label': 'Text prompt' }, [label, this.input, this.progress]);
    this.element.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (text === '' || !this.state.available || this.state.progress !== null) return;
      actions.submit(text);
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        // Esc here leaves the field; it must not also clear the selection (the editor's Esc).
        e.preventDefault();
        e.stopPropagation();
        actions.leave();
      } else if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        actions.step(e.key === 'ArrowDown' ? 1 : -1);
      }
    });
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  update(s: TextQueryState): void {
    this.state = s;
    // Disabling would drop focus and make T do nothing; read-only keeps the field reachable while it says why it waits.
    this.input.readOnly = !s.available || s.progress !== null;
    this.input.placeholder = s.available ? PLACEHOLDER : UNAVAILABLE;
    this.input.setAttribute('aria-description', s.available ? 'Press Enter to select the best match; arrow keys step through the next best' : UNAVAILABLE);
    this.element.classList.toggle('is-busy', s.progress !== null);
    this.element.classList.toggle('is-unavailable', !s.available);
    this.element.setAttribute('aria-busy', String(s.progress !== null));
    setHidden(this.progress, s.progress === null);
    setText(this.progressText, s.progress ?? '');
  }
}

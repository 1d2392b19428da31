/** The panel shown over the stage when no model is available: what happened, and the ways forward. */
import { h, setHidden, setText } from './dom';
import { icon } from './icons';

export interface ModelMissingActions {
  chooseModel(): void;
  downloadModel(): void;
  showLog(): void;
}

export class ModelMissingPanel {
  readonly element: HTMLElement;
  private readonly message: HTMLParagraphElement;
  private readonly download: HTMLButtonElement;
  private readonly choose: HTMLButtonElement;

  constructor(actions: ModelMissingActions) {
    this.message = h('p', { class: 'panel-message', id: 'model-missing-message' });
    this.choose = h('button', { type: 'button', class: 'button primary' }, ['Choose model file…']);
    this.choose.addEventListener('click', actions.chooseModel);
    this.download = h('button', { type: 'button', class: 'button secondary' }, ['Download']);
    this.download.setAttribute('aria-label', 'Download the model');
    this.download.addEventListener('click', actions.downloadModel);
    const log = h('button', { type: 'button', class: 'link-button' }, ['Show log']);
    log.addEventListener('click', actions.showLog);
    this.element = h(
      'section',
      { class: 'model-missing', role: 'region', 'aria-labelledby': 'model-missing-title', 'aria-describedby': 'model-missing-message', hidden: true },
      [
        h('div', { class: 'panel-card' }, [
          h('div', { class: 'panel-icon' }, [icon('warning')]),
          h('h2', { id: 'model-missing-title' }, ['No segmentation model']),
          this.message,
          h('p', { class: 'panel-hint' }, ['FastSAM needs its ONNX model file (for example FastSAM-s.onnx) to find objects in the image. The image itself is shown without it.']),
          h('div', { class: 'panel-actions' }, [this.choose, this.download, log]),
        ]),
      ],
    );
  }

  get visible(): boolean {
    return !this.element.hidden;
  }

  show(message: string, canDownload: boolean): void {
    const wasHidden = this.element.hidden;
    setText(this.message, message);
    setHidden(this.download, !canDownload);
    setHidden(this.element, false);
    // Moving focus to the first action makes the panel's way forward one keypress away.
    if (wasHidden) this.choose.focus({ preventScroll: true });
  }

  hide(): void {
    setHidden(this.element, true);
  }
}

/**
 * The side panel: the selected masks (swatch, score, area, visibility, remove),
 * the display options (opacity, outline) and the export button.
 *
 * Rows are kept per mask id and reused across updates, so a focused button stays
 * focused when the list changes around it.
 */
import { cssColor, maskColor } from '../colors';
import { formatInt } from '../../shared/counts';
import { formatArea, formatScore } from '../format';
import type { SelectionSource } from '../selection-state';
import { h, setHidden, setText } from './dom';
import { icon } from './icons';

export interface SidePanelActions {
  toggleVisible(id: number): void;
  remove(id: number): void;
  /** The pointer or focus is on a row: highlight that mask on the stage (null: none). */
  highlight(id: number | null): void;
  opacity(value: number): void;
  outline(on: boolean): void;
  exportSelection(): void;
}

export interface SidePanelItem {
  readonly id: number;
  readonly source: SelectionSource;
  readonly score: number;
  readonly area: number;
  readonly visible: boolean;
}

export interface SidePanelState {
  readonly items: readonly SidePanelItem[];
  readonly opacity: number;
  readonly outline: boolean;
  readonly hasMasks: boolean;
  readonly exporting: boolean;
}

interface Row {
  li: HTMLLIElement;
  visible: HTMLButtonElement;
  meta: HTMLSpanElement;
  source: HTMLSpanElement;
}

/** Where a mask came from, when not from a click (the common case needs no label). */
const SOURCE_LABEL: Record<SelectionSource, string> = { click: '', points: 'points', box: 'box', text: 'text' };

export class SidePanel {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly count: HTMLSpanElement;
  private readonly empty: HTMLParagraphElement;
  private readonly opacityInput: HTMLInputElement;
  private readonly opacityValue: HTMLOutputElement;
  private readonly outlineInput: HTMLInputElement;
  private readonly exportButton: HTMLButtonElement;
  private readonly rows = new Map<number, Row>();

  constructor(private readonly actions: SidePanelActions) {
    this.count = h('span', { class: 'badge', 'aria-hidden': 'true' }, ['0']);
    this.list = h('ul', { class: 'mask-list', 'aria-label': 'Selected masks' });
    this.empty = h('p', { class: 'empty-note' });
    this.list.addEventListener('mouseleave', () => actions.highlight(null));

    this.opacityInput = h('input', { type: 'range', id: 'opacity', min: '0', max: '100', step: '5', value: '55', 'aria-describedby': 'opacity-value' });
    this.opacityValue = h('output', { id: 'opacity-value', for: 'opacity', class: 'range-value' }, ['55%']);
    this.opacityInput.addEventListener('input', () => actions.opacity(Number(this.opacityInput.value) / 100));
    this.outlineInput = h('input', { type: 'checkbox', id: 'outline' });
    this.outlineInput.addEventListener('change', () => actions.outline(this.outlineInput.checked));

    this.exportButton = h('button', { type: 'button', class: 'button primary export-button' }, [icon('export'), h('span', {}, ['Export selection…'])]);
    this.exportButton.addEventListener('click', () => actions.exportSelection());

    this.element = h('aside', { class: 'side', 'aria-label': 'Selection and display' }, [
      h('section', { class: 'side-section selection-section', 'aria-labelledby': 'selection-heading' }, [
        h('div', { class: 'side-heading' }, [h('h2', { id: 'selection-heading' }, ['Selection']), this.count]),
        this.list,
        this.empty,
      ]),
      h('section', { class: 'side-section display-section', 'aria-labelledby': 'display-heading' }, [
        h('div', { class: 'side-heading' }, [h('h2', { id: 'display-heading' }, ['Display'])]),
        h('div', { class: 'field' }, [h('label', { for: 'opacity' }, ['Opacity']), this.opacityInput, this.opacityValue]),
        h('div', { class: 'field checkbox-field' }, [this.outlineInput, h('label', { for: 'outline' }, ['Outline masks'])]),
      ]),
      h('div', { class: 'side-footer' }, [this.exportButton]),
    ]);
  }

  update(s: SidePanelState): void {
    const n = s.items.length;
    setText(this.count, formatInt(n));
    this.count.classList.toggle('is-zero', n === 0);
    setHidden(this.empty, n > 0);
    setHidden(this.list, n === 0);
    setText(
      this.empty,
      s.hasMasks ? 'Nothing selected. Click a mask, add points with the Point tool, or drag a box with the Box tool.' : 'No masks yet. Choose Everything (E) to segment the image.',
    );

    // Reuse rows by id; remove the ones that left; append in selection order.
    const wanted = new Set(s.items.map((i) => i.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        const hadFocus = row.li.contains(document.activeElement);
        row.li.remove();
        this.rows.delete(id);
        // Focus would fall to <body>; the list (or the panel) is the nearest sensible place.
        if (hadFocus) (this.list.querySelector<HTMLButtonElement>('button') ?? this.exportButton).focus();
      }
    }
    s.items.forEach((item, index) => {
      let row = this.rows.get(item.id);
      if (!row) {
        row = this.createRow(item.id);
        this.rows.set(item.id, row);
      }
      if (this.list.children[index] !== row.li) this.list.insertBefore(row.li, this.list.children[index] ?? null);
      row.visible.setAttribute('aria-pressed', String(item.visible));
      row.visible.replaceChildren(icon(item.visible ? 'eye' : 'eyeClosed'));
      row.visible.title = item.visible ? `Hide mask ${item.id}` : `Show mask ${item.id}`;
      row.li.classList.toggle('is-hidden', !item.visible);
      setText(row.meta, `score ${formatScore(item.score)} · ${formatArea(item.area)}`);
      row.meta.title = `Score ${formatScore(item.score)}, ${formatInt(item.area)} pixels`;
      setText(row.source, SOURCE_LABEL[item.source]);
      setHidden(row.source, item.source === 'click');
      row.li.setAttribute('aria-label', `Mask ${item.id}${item.source === 'click' ? '' : `, from the ${SOURCE_LABEL[item.source]}`}, score ${formatScore(item.score)}, ${formatInt(item.area)} pixels${item.visible ? '' : ', hidden'}`);
    });

    const opacityText = String(Math.round(s.opacity * 100));
    if (this.opacityInput.value !== opacityText && document.activeElement !== this.opacityInput) this.opacityInput.value = opacityText;
    setText(this.opacityValue, `${Math.round(s.opacity * 100)}%`);
    this.outlineInput.checked = s.outline;
    this.exportButton.disabled = n === 0 || s.exporting;
    this.exportButton.title = n === 0 ? 'Select masks to export them' : `Export the union of ${n === 1 ? 'the selected mask' : `${formatInt(n)} selected masks`} as a PNG mask`;
  }

  private createRow(id: number): Row {
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.backgroundColor = cssColor(maskColor(id));
    const meta = h('span', { class: 'mask-meta' });
    const source = h('span', { class: 'mask-source' });
    const visible = h('button', { type: 'button', class: 'icon-button', 'aria-label': `Show mask ${id}`, 'aria-pressed': 'true' });
    visible.addEventListener('click', () => this.actions.toggleVisible(id));
    const remove = h('button', { type: 'button', class: 'icon-button', 'aria-label': `Remove mask ${id} from the selection`, title: 'Remove from selection' }, [icon('close')]);
    remove.addEventListener('click', () => this.actions.remove(id));
    const li = h('li', { class: 'mask-row', 'data-mask-id': String(id) }, [
      swatch,
      h('span', { class: 'mask-text' }, [h('span', { class: 'mask-name' }, [`Mask ${id}`]), source]),
      meta,
      h('span', { class: 'row-actions' }, [visible, remove]),
    ]);
    li.setAttribute('aria-label', `Mask ${id}`);
    li.addEventListener('mouseenter', () => this.actions.highlight(id));
    li.addEventListener('focusin', () => this.actions.highlight(id));
    li.addEventListener('focusout', () => this.actions.highlight(null));
    return { li, visible, meta, source };
  }
}

/**
 * The editor's toolbar: tools, history, zoom. One tab stop with arrow-key
 * movement between buttons (the ARIA toolbar pattern), so keyboard users reach
 * the canvas without tabbing through twelve buttons.
 */
import { SHORTCUTS, type Tool } from '../keyboard';
import { formatZoom } from '../format';
import { h, setText } from './dom';
import { icon, type IconName } from './icons';

export interface ToolbarActions {
  tool(tool: Tool): void;
  undo(): void;
  redo(): void;
  clear(): void;
  zoomIn(): void;
  zoomOut(): void;
  fit(): void;
  actualSize(): void;
}

export interface ToolbarState {
  readonly tool: Tool;
  readonly canUndo: boolean;
  readonly canRedo: boolean;
  readonly canClear: boolean;
  readonly zoom: number;
  readonly hasImage: boolean;
}

const TOOL_INFO: Record<Tool, { label: string; icon: IconName; help: string }> = {
  everything: { label: 'Everything', icon: 'everything', help: 'Segment everything and click masks to select them' },
  point: { label: 'Point', icon: 'point', help: 'Click to add object points; right-click or Alt+click for background points' },
  box: { label: 'Box', icon: 'box', help: 'Drag a box around an object' },
};

function iconButton(name: IconName, label: string, shortcut: string | undefined, onClick: () => void, text?: string): HTMLButtonElement {
  const b = h('button', { type: 'button', class: text ? 'tb-button has-label' : 'tb-button', 'aria-label': label, title: shortcut ? `${label} (${displayShortcut(shortcut)})` : label }, [
    icon(name),
    text ? h('span', { class: 'tb-label' }, [text]) : null,
  ]);
  if (shortcut) b.setAttribute('aria-keyshortcuts', ariaShortcut(shortcut));
  b.addEventListener('click', onClick);
  return b;
}

/** aria-keyshortcuts spells keys as KeyboardEvent.key does, with "+" as the separator. */
function ariaShortcut(s: string): string {
  if (s === '+') return 'Plus';
  if (s === '−') return 'Minus';
  return s.replace('Ctrl', IS_MAC ? 'Meta' : 'Control').replace('Esc', 'Escape');
}

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.userAgent);

/** Tooltip spelling: ⌘Z on macOS, Ctrl+Z elsewhere. */
function displayShortcut(s: string): string {
  return IS_MAC ? s.replace('Ctrl+Shift+', '⇧⌘').replace('Ctrl+', '⌘') : s;
}

export class Toolbar {
  readonly element: HTMLDivElement;
  private readonly toolButtons: Record<Tool, HTMLButtonElement>;
  private readonly undoButton: HTMLButtonElement;
  private readonly redoButton: HTMLButtonElement;
  private readonly clearButton: HTMLButtonElement;
  private readonly zoomButtons: HTMLButtonElement[];
  private readonly zoomLabel: HTMLSpanElement;
  /** The button that holds the toolbar's single tab stop. */
  private current: HTMLButtonElement;

  /** `search`: the text prompt, placed after the tools (it is one more way to select). */
  constructor(actions: ToolbarActions, search?: HTMLElement) {
    const tool = (t: Tool) => {
      const info = TOOL_INFO[t];
      const b = iconButton(info.icon, info.label, SHORTCUTS[t], () => actions.tool(t), info.label);
      b.classList.add('tool');
      b.setAttribute('aria-pressed', 'false');
      b.setAttribute('aria-description', info.help);
      return b;
    };
    this.toolButtons = { everything: tool('everything'), point: tool('point'), box: tool('box') };
    this.undoButton = iconButton('undo', 'Undo', SHORTCUTS.undo, actions.undo);
    this.redoButton = iconButton('redo', 'Redo', SHORTCUTS.redo, actions.redo);
    this.clearButton = iconButton('clear', 'Clear selection and prompts', SHORTCUTS.clear, actions.clear);
    const zoomOut = iconButton('zoomOut', 'Zoom out', SHORTCUTS.zoomOut, actions.zoomOut);
    const zoomIn = iconButton('zoomIn', 'Zoom in', SHORTCUTS.zoomIn, actions.zoomIn);
    const fit = iconButton('fit', 'Zoom to fit', SHORTCUTS.fit, actions.fit, 'Fit');
    const actual = h('button', { type: 'button', class: 'tb-button has-label text-only', 'aria-label': 'Actual size (100%)', title: `Actual size (${SHORTCUTS.actualSize})`, 'aria-keyshortcuts': '1' }, [
      h('span', { class: 'tb-label' }, ['100%']),
    ]);
    actual.addEventListener('click', actions.actualSize);
    this.zoomButtons = [zoomOut, zoomIn, fit, actual];
    this.zoomLabel = h('span', { class: 'zoom-level', 'aria-live': 'off', title: 'Zoom' }, ['100%']);

    const group = (label: string, children: Node[]) => h('div', { class: 'tb-group', role: 'group', 'aria-label': label }, children);
    const sep = () => h('div', { class: 'tb-separator', role: 'separator', 'aria-orientation': 'vertical' });
    this.element = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Segmentation tools', 'aria-orientation': 'horizontal' }, [
      group('Tools', [this.toolButtons.everything, this.toolButtons.point, this.toolButtons.box]),
      sep(),
      ...(search ? [search, sep()] : []),
      group('History', [this.undoButton, this.redoButton, this.clearButton]),
      sep(),
      group('Zoom', [zoomOut, this.zoomLabel, zoomIn, fit, actual]),
    ]);
    this.current = this.toolButtons.everything;
    this.element.addEventListener('keydown', (e) => this.onKeyDown(e));
    this.element.addEventListener('focusin', (e) => {
      if (e.target instanceof HTMLButtonElement) this.setCurrent(e.target);
    });
    this.rove();
  }

  private buttons(): HTMLButtonElement[] {
    return [...this.element.querySelectorAll('button')].filter((b) => !b.disabled);
  }

  private setCurrent(b: HTMLButtonElement): void {
    this.current = b;
    this.rove();
  }

  /** Exactly one enabled button is tabbable. */
  private rove(): void {
    const enabled = this.buttons();
    if (!enabled.includes(this.current)) this.current = enabled[0] ?? this.current;
    for (const b of this.element.querySelectorAll('button')) b.tabIndex = b === this.current ? 0 : -1;
  }

  private onKeyDown(e: KeyboardEvent): void {
    const list = this.buttons();
    const i = list.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % list.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + list.length) % list.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = list.length - 1;
    if (next < 0) return;
    e.preventDefault();
    this.setCurrent(list[next]!);
    list[next]!.focus();
  }

  update(s: ToolbarState): void {
    for (const [t, b] of Object.entries(this.toolButtons) as [Tool, HTMLButtonElement][]) {
      const on = t === s.tool;
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('is-active', on);
    }
    this.undoButton.disabled = !s.canUndo;
    this.redoButton.disabled = !s.canRedo;
    this.clearButton.disabled = !s.canClear;
    for (const b of this.zoomButtons) b.disabled = !s.hasImage;
    setText(this.zoomLabel, s.hasImage ? formatZoom(s.zoom) : '—');
    this.rove();
  }
}

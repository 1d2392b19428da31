/**
 * The editor's keyboard shortcuts as a pure mapping from key events to commands
 * (no DOM), so the bindings are unit-tested and listed in one place.
 */
export type Tool = 'everything' | 'point' | 'box';

export const TOOLS: readonly Tool[] = ['everything', 'point', 'box'];

export type Command =
  | { type: 'tool'; tool: Tool }
  | { type: 'zoomIn' }
  | { type: 'zoomOut' }
  | { type: 'fit' }
  | { type: 'actualSize' }
  | { type: 'clear' }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'alternative'; delta: 1 | -1 }
  /** Into the toolbar's text prompt. */
  | { type: 'focusText' }
  /** Pan by a fraction of the view (arrow keys on the stage, for keyboard users). */
  | { type: 'pan'; dx: number; dy: number };

export interface KeyLike {
  readonly key: string;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly shiftKey: boolean;
  readonly altKey: boolean;
}

export interface KeyContext {
  /** Focus is in a text field, where letters and Ctrl+Z belong to the field. */
  readonly typing: boolean;
  /**
   * Tab steps through alternatives only while the stage has focus and there are
   * alternatives; everywhere else it moves focus, so keyboard users are never trapped.
   */
  readonly stageFocused: boolean;
  readonly hasAlternatives: boolean;
}

/** The shortcut hints shown in tooltips. */
export const SHORTCUTS: Readonly<Record<Tool | 'undo' | 'redo' | 'clear' | 'fit' | 'actualSize' | 'zoomIn' | 'zoomOut' | 'text', string>> = {
  everything: 'E',
  point: 'P',
  box: 'B',
  undo: 'Ctrl+Z',
  redo: 'Ctrl+Shift+Z',
  clear: 'Esc',
  fit: '0',
  actualSize: '1',
  zoomIn: '+',
  zoomOut: '−',
  text: 'T',
};

/** Arrow key → pan direction, in steps of PAN_STEP of the view (Shift: four steps). */
const ARROWS: Readonly<Record<string, readonly [number, number]>> = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

export function commandForKey(e: KeyLike, ctx: KeyContext): Command | null {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && !e.altKey) {
    if (ctx.typing) return null;
    if (key === 'z') return e.shiftKey ? { type: 'redo' } : { type: 'undo' };
    if (key === 'y' && !e.shiftKey) return { type: 'redo' };
    return null;
  }
  if (e.key === 'Tab' && !mod && !e.altKey) {
    if (!ctx.stageFocused || !ctx.hasAlternatives) return null;
    return { type: 'alternative', delta: e.shiftKey ? -1 : 1 };
  }
  if (ctx.typing || e.altKey || mod) return null;
  // Arrows belong to the focused control (slider, toolbar) except on the stage.
  const arrow = ARROWS[e.key];
  if (arrow) return ctx.stageFocused ? { type: 'pan', dx: arrow[0] * (e.shiftKey ? 4 : 1), dy: arrow[1] * (e.shiftKey ? 4 : 1) } : null;
  switch (key) {
    case 'e':
      return e.shiftKey ? null : { type: 'tool', tool: 'everything' };
    case 'p':
      return e.shiftKey ? null : { type: 'tool', tool: 'point' };
    case 'b':
      return e.shiftKey ? null : { type: 'tool', tool: 'box' };
    case 't':
      return e.shiftKey ? null : { type: 'focusText' };
    // "+" is Shift+"=" on most layouts; both zoom in, as in VS Code's image preview.
    case '+':
    case '=':
      return { type: 'zoomIn' };
    case '-':
    case '_':
      return { type: 'zoomOut' };
    case '0':
      return { type: 'fit' };
    case '1':
      return { type: 'actualSize' };
    case 'Escape':
      return { type: 'clear' };
    default:
      return null;
  }
}

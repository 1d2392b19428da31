/**
 * The segmentation editor: wires host messages, the selection state, the view,
 * the stage and the UI components together. Holds the editor's state; every
 * piece of logic worth testing lives in the pure modules it calls.
 */
import { selectEverything } from '../core/prompts/select';
import { baseName, fileNameList } from '../shared/file-names';
import type { HostToWebview, InitMessage, SegmentationMessage, StageTimingsMessage, EnginePhase, TextResultMessage } from '../shared/protocol';
import { formatInt, plural } from '../shared/counts';
import { formatScore } from './format';
import type { Host } from './host';
import { ImagePyramid } from './image-pyramid';
import { type Command, commandForKey, type Tool } from './keyboard';
import { MaskBitmapCache, type MaskLayer, type OverlayColors, StageRenderer } from './mask-renderer';
import { DEFAULT_OPACITY, imageKey, parsePersisted, type PersistedState, STATE_VERSION } from './persisted-state';
import { SelectionState, toBoxMask } from './selection-state';
import { type ClickInfo, Stage } from './stage';
import { AlternativesChooser } from './ui/alternatives';
import { Announcer } from './ui/announcer';
import { h } from './ui/dom';
import { StageHint } from './ui/hint';
import { ModelMissingPanel } from './ui/model-missing';
import { Notice } from './ui/notice';
import { SidePanel } from './ui/side-panel';
import { StatusBar } from './ui/status-bar';
import { TextQueryField } from './ui/text-query';
import { Toolbar } from './ui/toolbar';
import {
  actualSizeView,
  clampPan,
  fitView,
  imagePointInside,
  type Point,
  sameView,
  type Size,
  type View,
  ZOOM_STEP,
  zoomAround,
  zoomLimits,
} from './viewport';

interface ImageInfo {
  uri: string;
  name: string;
  width: number;
  height: number;
  source: ImagePyramid | null;
  failed: boolean;
}

type Dirty = 'base' | 'overlay' | 'ui' | 'status';

/** Everything mode shows unselected masks fainter than selected ones, so the selection stands out. */
const EVERYTHING_DIM = 0.6;
/** Hover bitmaps are made only in idle periods at least this long. */
const MIN_IDLE_FOR_PREPARATION_MS = 8;
/** The hovered mask is drawn this much more opaque than the rest. */
const HOVER_BOOST = 0.25;
/** Fill opacity of the hover preview with the Point and Box tools (its bold outline carries it). */
const HOVER_PREVIEW = 0.3;
/** setState is a message to the host; batching a pan's 60 updates a second into one is plenty. */
const PERSIST_DELAY_MS = 150;
/** If the host never answers an export, the button comes back after this long. */
const EXPORT_TIMEOUT_MS = 60_000;

const TOOL_ANNOUNCEMENT: Record<Tool, string> = {
  everything: 'Everything tool: click masks to select them, Shift-click to toggle.',
  point: 'Point tool: click to add an object point, right-click or Alt-click for a background point.',
  box: 'Box tool: drag a box around an object.',
};

export class Editor {
  private readonly selection = new SelectionState();
  private readonly cache = new MaskBitmapCache();
  private readonly stage: Stage;
  private readonly renderer: StageRenderer;
  private readonly toolbar: Toolbar;
  private readonly side: SidePanel;
  private readonly status: StatusBar;
  private readonly modelMissing: ModelMissingPanel;
  private readonly alternatives: AlternativesChooser;
  private readonly notice: Notice;
  private readonly hint: StageHint;
  private readonly textField: TextQueryField;
  private readonly announcer = new Announcer();
  /** The text query waiting for its answer (answers to older ones are dropped), and what it is doing. */
  private textQuery: { requestId: number; query: string; progress: string } | null = null;
  private nextTextRequest = 1;

  private image: ImageInfo | null = null;
  private imageToken = 0;
  private view: View = { zoom: 1, panX: 0, panY: 0 };
  /** The view follows the panel's size until the user zooms or pans. */
  private fitted = true;
  private viewport: Size = { width: 0, height: 0 };
  private tool: Tool = 'everything';
  private opacity = DEFAULT_OPACITY;
  private outline = true;
  private readonly hidden = new Set<number>();
  /** Mask ids, largest first: the order in which Everything mode paints (small masks end up on top). */
  private paintOrder: number[] = [];
  /** Counts segmentation results, to tell the renderer when its flattened layer is stale. */
  private masksVersion = 0;
  /** The host's name for the masks shown (`SegmentationMessage.resultId`), sent with their ids. */
  private resultId = 0;

  private phase: EnginePhase = 'idle';
  private model: string | null = null;
  private executionProvider: string | null = null;
  private statusMessage: string | undefined;
  /** The model named when the host said it is missing (a status naming another one ends that). */
  private modelWhenMissing: string | null = null;
  private lastRun: { timings: StageTimingsMessage; cached: boolean; count: number } | null = null;
  private segmentRequested = false;
  private exportTimer: ReturnType<typeof setTimeout> | undefined;
  private exporting = false;

  private hoverPoint: Point | null = null;
  private hoverId = -1;
  /**
   * After a click or a key changed the selection, the hover highlight waits for the
   * pointer to move: it previews what a click would do, and that click is done.
   */
  private hoverSuppressed = false;
  /** A mask highlighted from the side list (wins over the pointer's). */
  private listHighlight: number | null = null;
  private drag: [number, number, number, number] | null = null;
  private overlayColors: OverlayColors = { foreground: '#3fb950', background: '#f85149', box: '#0090f1', contrast: 'rgba(0, 0, 0, 0.7)' };

  private readonly dirty = new Set<Dirty>();
  private frame = 0;
  /** The pending idle callback that prepares hover bitmaps, or 0. */
  private hoverPreparation = 0;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private saved: PersistedState | null;
  private readonly help: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly host: Host,
  ) {
    this.saved = parsePersisted(host.getState());

    this.stage = new Stage({
      view: () => this.view,
      zoomLimits: () => this.limits(),
      tool: () => this.tool,
      changeView: (v) => this.setView(v, false),
      hover: (p, moved) => this.onHover(p, moved),
      click: (c) => this.onClick(c),
      boxDrag: (box, done) => this.onBoxDrag(box, done),
      resized: (css, device) => this.onResize(css, device),
    });
    this.renderer = new StageRenderer(this.stage.baseCanvas, this.stage.overlayCanvas, this.cache, (id) => this.selection.mask(id));
    this.textField = new TextQueryField({
      submit: (text) => this.runTextQuery(text),
      leave: () => this.stage.element.focus(),
      step: (delta) => {
        if (this.selection.activePick?.source === 'text') this.run({ type: 'alternative', delta });
      },
    });
    this.toolbar = new Toolbar({
      tool: (t) => this.setTool(t, true),
      undo: () => this.run({ type: 'undo' }),
      redo: () => this.run({ type: 'redo' }),
      clear: () => this.run({ type: 'clear' }),
      zoomIn: () => this.run({ type: 'zoomIn' }),
      zoomOut: () => this.run({ type: 'zoomOut' }),
      fit: () => this.run({ type: 'fit' }),
      actualSize: () => this.run({ type: 'actualSize' }),
    }, this.textField.element);
    this.side = new SidePanel({
      toggleVisible: (id) => this.toggleVisible(id),
      remove: (id) => this.changeSelection(() => this.selection.removeMask(id)),
      highlight: (id) => {
        this.listHighlight = id;
        this.invalidate('overlay');
      },
      opacity: (v) => {
        this.opacity = v;
        this.invalidate('base', 'overlay', 'ui');
        this.persistSoon();
      },
      outline: (on) => {
        this.outline = on;
        this.invalidate('base', 'ui');
        this.persistSoon();
      },
      exportSelection: () => this.exportSelection(),
    });
    this.status = new StatusBar(() => this.host.post({ type: 'cancel' }));
    this.modelMissing = new ModelMissingPanel({
      chooseModel: () => this.host.post({ type: 'chooseModel' }),
      downloadModel: () => this.host.post({ type: 'downloadModel' }),
      showLog: () => this.host.post({ type: 'showLog' }),
    });
    this.alternatives = new AlternativesChooser((d) => this.run({ type: 'alternative', delta: d }));
    this.notice = new Notice();
    this.hint = new StageHint();
    this.help = h('p', { id: 'stage-help', class: 'visually-hidden' }, [
      'Tools: E Everything, P Point, B Box. Click a mask to select it; Shift-click toggles. ' +
        'Point tool: click for an object point, right-click or Alt-click for a background point; Tab and Shift+Tab step through alternatives. ' +
        'Box tool: drag a box. T goes to the text prompt: describe an object and press Enter to select it, arrow keys step through the next best matches, Escape returns here. Plus and minus zoom, 0 fits, 1 is 100%; arrow keys, or dragging with Space held or the middle button, pan. ' +
        'Escape clears; Ctrl+Z undoes, Ctrl+Shift+Z redoes.',
    ]);
    this.stage.element.setAttribute('aria-describedby', 'stage-help');

    root.classList.add('editor');
    root.replaceChildren(
      this.toolbar.element,
      h('div', { class: 'workspace' }, [
        h('main', { class: 'stage-wrap', 'aria-label': 'Image' }, [
          this.stage.element,
          this.status.progressBar,
          this.hint.element,
          this.alternatives.element,
          this.notice.element,
          this.modelMissing.element,
        ]),
        this.side.element,
      ]),
      this.status.element,
      this.announcer.element,
      this.help,
    );

    this.listenKeys();
    this.readThemeColors();
    // VS Code swaps the body's theme classes and CSS variables in place when the theme changes.
    new MutationObserver(() => {
      this.readThemeColors();
      this.invalidate('overlay');
    }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
    host.onMessage((m) => this.onMessage(m));
    window.addEventListener('pagehide', () => this.persistNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.persistNow();
    });
    this.invalidate('ui', 'status');
    host.post({ type: 'ready' });
  }

  // ---- host messages ---------------------------------------------------------

  private onMessage(m: HostToWebview): void {
    switch (m.type) {
      case 'init':
        return this.onInit(m);
      case 'status':
        this.phase = m.phase;
        this.model = m.model;
        this.executionProvider = m.executionProvider;
        this.statusMessage = m.message;
        // The panel goes when the engine gets going, or when another model is configured
        // (the host reports "idle" with the model's name also when its file is missing).
        if (m.phase === 'loading-model' || m.phase === 'segmenting' || m.phase === 'ready' || (m.model !== null && m.model !== this.modelWhenMissing)) {
          this.modelMissing.hide();
        }
        if (m.phase === 'error') {
          this.segmentRequested = false;
          this.announcer.say(`Segmentation failed: ${m.message ?? 'unknown error'}`);
        } else if (m.phase === 'cancelled') {
          this.segmentRequested = false;
          this.announcer.say('Segmentation cancelled');
        } else if (m.phase === 'segmenting') {
          this.announcer.say('Segmenting…');
        }
        this.invalidate('ui', 'status');
        return;
      case 'modelMissing':
        this.segmentRequested = false;
        this.modelWhenMissing = this.model;
        this.modelMissing.show(m.message, m.canDownload);
        this.announcer.say(`No segmentation model. ${m.message}`);
        this.invalidate('ui', 'status');
        return;
      case 'segmentation':
        return this.onSegmentation(m);
      case 'exportDone':
        this.exporting = false;
        clearTimeout(this.exportTimer);
        if (m.ok) {
          const paths = m.paths ?? [];
          if (paths.length === 1) {
            this.notice.show(`Exported to ${baseName(paths[0]!)}`, 'info', paths[0]);
            this.announcer.say(`Exported to ${paths[0]}`);
          } else {
            const text = `Exported ${paths.length} files: ${fileNameList(paths)}`;
            this.notice.show(text, 'info', paths.join('\n'));
            this.announcer.say(text);
          }
        } else {
          // The host's message is written for the user; it is shown as it is.
          const text = m.message ?? (m.cancelled ? 'Export cancelled.' : 'Export failed.');
          this.notice.show(text, m.cancelled ? 'info' : 'error');
          this.announcer.say(text);
        }
        this.invalidate('ui');
        return;
      case 'textProgress':
        if (this.textQuery?.requestId !== m.requestId) return;
        this.textQuery.progress = m.message;
        this.invalidate('ui');
        return;
      case 'textResult':
        return this.onTextResult(m);
      case 'imageChanged': {
        if (!this.image) return;
        this.textQuery = null;
        const hadMasks = this.selection.hasMasks || this.segmentRequested;
        const sizeChanged = m.width !== this.image.width || m.height !== this.image.height;
        this.image = { ...this.image, uri: m.imageUri, width: m.width, height: m.height, source: this.image.source, failed: false };
        this.dropMasks();
        this.selection.reset();
        this.selection.setImageSize(m.width, m.height);
        this.hidden.clear();
        if (sizeChanged) this.fitted = true;
        this.loadImage(m.imageUri);
        this.announcer.say('The image changed on disk and was reloaded.');
        this.afterLayoutChange();
        this.persistSoon();
        this.segmentRequested = false;
        if (hadMasks) this.requestSegment();
        return;
      }
    }
  }

  private onInit(m: InitMessage): void {
    const sameImage = this.image !== null && imageKey({ fileName: this.image.name, width: this.image.width, height: this.image.height }) === imageKey(m);
    this.image = { uri: m.imageUri, name: m.fileName, width: m.width, height: m.height, source: sameImage ? this.image!.source : null, failed: false };
    this.loadImage(m.imageUri);
    if (!sameImage) {
      this.dropMasks();
      this.selection.reset();
      this.hidden.clear();
      this.fitted = true;
    }
    this.selection.setImageSize(m.width, m.height);
    const saved = this.saved;
    this.saved = null;
    if (saved && saved.imageKey === imageKey(m)) {
      this.tool = saved.tool;
      this.opacity = saved.opacity;
      this.outline = saved.outline;
      this.hidden.clear();
      saved.hidden.forEach((id) => this.hidden.add(id));
      this.selection.restore(saved.selection);
      if (saved.view) {
        this.view = saved.view;
        this.fitted = false;
      }
    }
    this.afterLayoutChange();
  }

  private onSegmentation(m: SegmentationMessage): void {
    if (!this.image) return;
    if (m.width !== this.image.width || m.height !== this.image.height) {
      // A result for another size belongs to an image that has since changed; the host will send the right one.
      return;
    }
    this.cache.clear();
    this.renderer.reset();
    this.masksVersion++;
    this.selection.setMasks(m.masks, m.width, m.height);
    this.resultId = m.resultId;
    const selectable = m.masks.map((w) => ({ mask: toBoxMask(w, m.width, m.height), score: w.score }));
    this.paintOrder = selectEverything(selectable).map((pick) => m.masks[pick[0]!]!.id);
    this.lastRun = { timings: m.timings, cached: m.cached, count: m.masks.length };
    this.modelMissing.hide();
    const requested = this.segmentRequested;
    this.segmentRequested = false;
    // Ids of hidden masks that no longer exist are forgotten.
    for (const id of [...this.hidden]) if (!this.selection.mask(id)) this.hidden.delete(id);
    const after = this.selection.selectedIds;
    if (requested) this.announcer.say(`Found ${plural(m.masks.length, 'mask')}${m.cached ? ' (cached)' : ''}.`);
    // The selection carries over to the new result by id, or is restored after a reload; the
    // host is told which, under the result's id (it starts a new result with none, and keeps
    // its own through a reload, which a webview without its saved state would not show).
    this.host.post({ type: 'selectionChanged', maskIds: after, resultId: this.resultId });
    this.hoverId = this.hoverPoint ? this.selection.maskAt(this.hoverPoint.x, this.hoverPoint.y) : -1;
    this.invalidate('base', 'overlay', 'ui', 'status');
  }

  // ---- text prompt ---------------------------------------------------------------

  private runTextQuery(text: string): void {
    if (!this.selection.hasMasks) {
      this.announcer.say('Run Everything first: the text prompt chooses among its masks.');
      return;
    }
    const requestId = this.nextTextRequest++;
    this.textQuery = { requestId, query: text, progress: 'Searching…' };
    this.host.post({ type: 'textQuery', text, requestId });
    this.announcer.say(`Searching for ${text}…`);
    this.invalidate('ui');
  }

  private onTextResult(m: TextResultMessage): void {
    const pending = this.textQuery;
    if (pending?.requestId !== m.requestId) return;
    this.textQuery = null;
    this.invalidate('ui');
    if (m.error !== undefined) {
      // The host's message is written for the user (a missing CLIP model says which and what to do).
      this.notice.show(m.error, 'error');
      this.announcer.say(`Text search failed: ${m.error}`);
      return;
    }
    const applied = this.changeSelection(
      () => this.selection.setText(pending.query, m.ranked),
      () => {
        const pick = this.selection.activePick;
        const id = pick?.candidates[pick.choice];
        if (id === undefined) return null;
        const more = pick!.candidates.length > 1 ? `; ${pick!.candidates.length - 1} more with the arrow keys or Tab on the canvas` : '';
        return `“${pending.query}”: mask ${id}, text score ${formatScore(this.selection.textScore(id) ?? 0)}${more}`;
      },
    );
    if (!applied) {
      const text = m.ranked.length === 0 ? `No mask is large enough to match “${pending.query}”.` : `“${pending.query}” selects what is already selected.`;
      this.notice.show(text, 'info');
      this.announcer.say(text);
    }
  }

  private dropMasks(): void {
    this.cache.clear();
    this.renderer.reset();
    this.masksVersion++;
    this.paintOrder = [];
    this.lastRun = null;
    this.hoverId = -1;
    this.listHighlight = null;
  }

  private loadImage(uri: string): void {
    const token = ++this.imageToken;
    const img = new Image();
    img.decoding = 'async';
    img.src = uri;
    img
      .decode()
      // An ImageBitmap is decoded once, up front, with the EXIF orientation applied,
      // so that panning never waits on a lazy decode of a 12-megapixel photo.
      .then(() => createImageBitmap(img, { imageOrientation: 'from-image' }).catch(() => img as CanvasImageSource))
      .then((source) => {
        if (token !== this.imageToken || !this.image) return;
        this.image.source?.dispose();
        this.image.source = new ImagePyramid(source, this.image.width, this.image.height, () => this.invalidate('base'));
        this.image.failed = false;
        this.invalidate('base', 'ui');
      })
      .catch(() => {
        if (token !== this.imageToken || !this.image) return;
        this.image.failed = true;
        this.announcer.say(`Could not load the image ${this.image.name}.`);
        this.invalidate('ui');
      });
  }

  // ---- segmentation requests --------------------------------------------------

  private get busy(): boolean {
    return this.phase === 'loading-model' || this.phase === 'segmenting';
  }

  /** Asks the host for the "everything" result unless it is here or on its way. */
  private requestSegment(): void {
    if (!this.image || this.selection.hasMasks || this.segmentRequested || this.busy) return;
    this.segmentRequested = true;
    this.host.post({ type: 'segment' });
    this.invalidate('ui');
  }

  private setTool(tool: Tool, announce: boolean): void {
    const changed = tool !== this.tool;
    this.tool = tool;
    // Every tool answers from the "everything" masks, so choosing one is the moment to compute them.
    this.requestSegment();
    if (changed) {
      this.drag = null;
      if (announce) this.announcer.say(TOOL_ANNOUNCEMENT[tool]);
      this.invalidate('base', 'overlay', 'ui');
      this.persistSoon();
    }
  }

  private exportSelection(): void {
    const ids = this.selection.selectedIds;
    if (ids.length === 0 || this.exporting) return;
    this.exporting = true;
    this.host.post({ type: 'export', scope: 'selection', maskIds: ids, resultId: this.resultId });
    this.announcer.say(`Exporting ${plural(ids.length, 'mask')}…`);
    clearTimeout(this.exportTimer);
    this.exportTimer = setTimeout(() => {
      this.exporting = false;
      this.invalidate('ui');
    }, EXPORT_TIMEOUT_MS);
    this.invalidate('ui');
  }

  // ---- selection ---------------------------------------------------------------

  /** Applies a selection change; announces it, tells the host, redraws and persists when something changed. */
  private changeSelection(change: () => boolean, describe?: () => string | null): boolean {
    const before = this.selection.selectedIds;
    if (!change()) return false;
    this.hoverSuppressed = true;
    const after = this.selection.selectedIds;
    const text = describe?.() ?? this.describeChange(before, after);
    if (text) this.announcer.say(text);
    for (const id of [...this.hidden]) if (!after.includes(id)) this.hidden.delete(id);
    if (!sameIds(before, after)) this.host.post({ type: 'selectionChanged', maskIds: after, resultId: this.resultId });
    this.invalidate('base', 'overlay', 'ui');
    this.persistSoon();
    return true;
  }

  private describeChange(before: readonly number[], after: readonly number[]): string | null {
    const added = after.filter((id) => !before.includes(id));
    const removed = before.filter((id) => !after.includes(id));
    const area = (id: number) => plural(this.selection.mask(id)?.area ?? 0, 'pixel');
    if (after.length === 0 && removed.length > 0) return 'Selection cleared';
    if (added.length === 1 && removed.length === 0) return `Selected mask ${added[0]}, ${area(added[0]!)}`;
    if (removed.length === 1 && added.length === 0) return `Removed mask ${removed[0]}; ${plural(after.length, 'mask')} selected`;
    if (added.length === 1 && removed.length === 1) return `Selected mask ${added[0]}, ${area(added[0]!)}, instead of mask ${removed[0]}`;
    if (added.length > 0 || removed.length > 0) return `${plural(after.length, 'mask')} selected`;
    // The prompt changed but selects the same masks (say, a background point off the object).
    const pick = this.selection.activePick;
    if (pick && pick.candidates.length === 0) return 'No mask fits these points';
    return null;
  }

  private toggleVisible(id: number): void {
    if (this.hidden.has(id)) this.hidden.delete(id);
    else this.hidden.add(id);
    this.announcer.say(`Mask ${id} ${this.hidden.has(id) ? 'hidden' : 'shown'}`);
    this.invalidate('base', 'ui');
    this.persistSoon();
  }

  private onClick(c: ClickInfo): void {
    if (!this.image || !imagePointInside(c.point, this.image)) return;
    // Points sit at pixel centres: what the engine tests is the pixel, and that is what the dot shows.
    const point = { x: Math.floor(c.point.x) + 0.5, y: Math.floor(c.point.y) + 0.5 };
    if (!this.selection.hasMasks) {
      // Prompts given before the masks arrive are kept and answered when they do.
      if (this.tool === 'point') this.changeSelection(() => this.selection.addPoint({ ...point, label: c.secondary ? 0 : 1 }), () => (c.secondary ? 'Background point added' : 'Point added'));
      this.requestSegment();
      return;
    }
    const id = this.selection.maskAt(point.x, point.y);
    if (c.shift) {
      this.changeSelection(() => this.selection.toggleMask(id));
      return;
    }
    if (this.tool === 'point') {
      this.changeSelection(() => this.selection.addPoint({ ...point, label: c.secondary ? 0 : 1 }));
    } else if (!c.secondary) {
      this.changeSelection(() => this.selection.click(id, false));
    }
  }

  private onBoxDrag(box: [number, number, number, number] | null, done: boolean): void {
    this.drag = done ? null : box;
    if (done && box) {
      const applied = this.changeSelection(() => this.selection.setBox(box));
      if (!applied && !this.selection.hasMasks) this.announcer.say('Box set');
      this.requestSegment();
    }
    this.invalidate('overlay');
  }

  private onHover(p: Point | null, moved: boolean): void {
    if (moved && this.hoverSuppressed) {
      this.hoverSuppressed = false;
      this.invalidate('overlay');
    }
    this.hoverPoint = p && this.image && imagePointInside(p, this.image) ? p : null;
    const id = this.hoverPoint && this.selection.hasMasks && !this.drag ? this.selection.maskAt(this.hoverPoint.x, this.hoverPoint.y) : -1;
    if (id !== this.hoverId) {
      this.hoverId = id;
      this.invalidate('overlay');
    }
    this.invalidate('status');
  }

  // ---- commands ------------------------------------------------------------------

  private run(cmd: Command): void {
    switch (cmd.type) {
      case 'tool':
        return this.setTool(cmd.tool, true);
      case 'undo':
        if (!this.changeSelection(() => this.selection.undo(), () => this.undoText('Undo'))) this.announcer.say('Nothing to undo');
        return;
      case 'redo':
        if (!this.changeSelection(() => this.selection.redo(), () => this.undoText('Redo'))) this.announcer.say('Nothing to redo');
        return;
      case 'clear':
        this.drag = null;
        this.changeSelection(() => this.selection.clear(), () => 'Selection, points and box cleared');
        this.invalidate('overlay');
        return;
      case 'focusText':
        this.textField.focus();
        if (!this.selection.hasMasks) this.announcer.say('Run Everything first: the text prompt chooses among its masks.');
        return;
      case 'alternative': {
        this.changeSelection(
          () => this.selection.stepAlternative(cmd.delta),
          () => {
            const pick = this.selection.activePick;
            if (!pick) return null;
            const id = pick.candidates[pick.choice]!;
            const score = pick.source === 'text' ? `, text score ${formatScore(this.selection.textScore(id) ?? 0)}` : '';
            return `Alternative ${pick.choice + 1} of ${pick.candidates.length}: mask ${id}, ${plural(this.selection.mask(id)?.area ?? 0, 'pixel')}${score}`;
          },
        );
        return;
      }
      case 'zoomIn':
      case 'zoomOut': {
        if (!this.image) return;
        const at = this.stage.pointer ?? { x: this.viewport.width / 2, y: this.viewport.height / 2 };
        const factor = cmd.type === 'zoomIn' ? ZOOM_STEP : 1 / ZOOM_STEP;
        this.setView(zoomAround(this.view, at.x, at.y, this.view.zoom * factor, this.limits()), false);
        return;
      }
      case 'pan': {
        if (!this.image) return;
        // One step is a tenth of the view; the arrow moves the view, so the image goes the other way.
        const step = Math.max(this.viewport.width, this.viewport.height) / 10;
        this.setView({ ...this.view, panX: this.view.panX + cmd.dx * step, panY: this.view.panY + cmd.dy * step }, false);
        return;
      }
      case 'fit':
        if (!this.image) return;
        this.fitted = true;
        this.setView(fitView(this.image, this.viewport), true);
        return;
      case 'actualSize':
        if (!this.image) return;
        this.setView(actualSizeView(this.view, this.image, this.viewport), false);
        return;
    }
  }

  private undoText(what: 'Undo' | 'Redo'): string {
    const ids = this.selection.selectedIds;
    return `${what}: ${ids.length === 0 ? 'nothing selected' : `${plural(ids.length, 'mask')} selected (${ids.map((id) => `mask ${id}`).join(', ')})`}`;
  }

  private listenKeys(): void {
    document.addEventListener('keydown', (e) => {
      const target = e.target as HTMLElement | null;
      if (e.key === ' ' && !isControl(target)) {
        // Space pans while held, as in image editors; the page must not scroll.
        e.preventDefault();
        if (!e.repeat) this.stage.setSpaceHeld(true);
        return;
      }
      const pick = this.selection.activePick;
      const cmd = commandForKey(e, {
        typing: isTextField(target),
        stageFocused: target === this.stage.element,
        hasAlternatives: !!pick && pick.candidates.length > 1,
      });
      if (!cmd) return;
      e.preventDefault();
      this.run(cmd);
    });
    document.addEventListener('keyup', (e) => {
      if (e.key === ' ') this.stage.setSpaceHeld(false);
    });
    window.addEventListener('blur', () => this.stage.setSpaceHeld(false));
  }

  // ---- view --------------------------------------------------------------------

  private limits() {
    return zoomLimits(this.image ?? { width: 1, height: 1 }, this.viewport);
  }

  private setView(v: View, fitted: boolean): void {
    const next = this.image ? clampPan(v, this.image, this.viewport) : v;
    this.fitted = fitted;
    if (sameView(next, this.view)) return;
    this.view = next;
    // The pointer stays put while the image moves under it: the hovered mask may change.
    if (this.stage.pointer) this.onHover({ x: (this.stage.pointer.x - next.panX) / next.zoom, y: (this.stage.pointer.y - next.panY) / next.zoom }, false);
    this.invalidate('base', 'overlay', 'ui');
    this.persistSoon();
  }

  private onResize(css: Size, device: Size): void {
    this.viewport = css;
    this.renderer.resize(css, device);
    this.afterLayoutChange();
  }

  private afterLayoutChange(): void {
    if (this.image && this.viewport.width > 0 && this.viewport.height > 0) {
      this.view = this.fitted ? fitView(this.image, this.viewport) : clampPan(this.view, this.image, this.viewport);
    }
    this.invalidate('base', 'overlay', 'ui', 'status');
  }

  private readThemeColors(): void {
    const css = getComputedStyle(document.body);
    const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    this.overlayColors = {
      foreground: v('--vscode-charts-green', '#3fb950'),
      background: v('--vscode-charts-red', '#f85149'),
      box: v('--vscode-focusBorder', '#0090f1'),
      contrast: 'rgba(0, 0, 0, 0.65)',
    };
  }

  // ---- drawing -------------------------------------------------------------------

  private invalidate(...what: Dirty[]): void {
    for (const w of what) this.dirty.add(w);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    const dirty = new Set(this.dirty);
    this.dirty.clear();
    if (dirty.has('ui')) this.updateUi();
    if (dirty.has('ui') || dirty.has('status')) this.updateStatus();
    if (dirty.has('base')) {
      const complete = this.renderer.drawBase({
        view: this.view,
        image: this.image?.source ?? null,
        imageSize: this.image ?? { width: 0, height: 0 },
        layers: this.layers(),
      });
      // Masks that did not fit this frame's rendering budget come in the next frames.
      if (!complete) this.invalidate('base');
      else this.prepareHoverWhenIdle();
      this.stage.element.dataset.renderPending = complete ? '0' : '1';
    }
    if (dirty.has('overlay')) {
      const hovered = this.listHighlight ?? (this.hoverId >= 0 && !this.hoverSuppressed ? this.hoverId : null);
      // In Everything mode the hovered mask stands out from the others; with Point and Box it previews a click, lightly.
      const alpha = this.tool === 'everything' || this.listHighlight !== null ? Math.min(1, this.opacity + HOVER_BOOST) : Math.min(this.opacity, HOVER_PREVIEW);
      this.renderer.drawOverlay({
        view: this.view,
        hover: hovered !== null && this.image?.source ? { id: hovered, alpha } : null,
        points: this.selection.points,
        box: this.selection.box,
        drag: this.drag,
        colors: this.overlayColors,
      });
      this.stage.element.dataset.hoveredMask = String(this.hoverId);
    }
    // Counters for the browser harness (test/webview): what rendering work happened.
    this.stage.element.dataset.bitmapsRendered = String(this.cache.renderCount);
    this.stage.element.dataset.masksFlattened = String(this.renderer.flattenCount);
  }

  /**
   * Once the view is drawn, the bitmaps a hover would draw are made while the browser
   * is idle, a slice at a time, for the view as it is then: the first hover of a mask
   * then costs a cached draw, not a rasterisation in the frame the user waits for.
   */
  private prepareHoverWhenIdle(): void {
    if (this.hoverPreparation || !this.selection.hasMasks) return;
    this.stage.element.dataset.hoverPrepared = '0';
    this.hoverPreparation = requestIdleCallback((idle) => {
      this.hoverPreparation = 0;
      // Only in a real idle period: a tile takes a few milliseconds to make.
      if (idle.timeRemaining() < MIN_IDLE_FOR_PREPARATION_MS) return this.prepareHoverWhenIdle();
      // Painted masks first (the top ones are the likeliest under the cursor), then the rest hover can reach.
      const ids = [...this.paintOrder.slice().reverse(), ...this.selection.masks.map((m) => m.id)];
      const done = this.renderer.prepareHover(this.view, ids, performance.now() + idle.timeRemaining());
      this.stage.element.dataset.bitmapsRendered = String(this.cache.renderCount);
      if (done) this.stage.element.dataset.hoverPrepared = '1';
      else this.prepareHoverWhenIdle();
    });
  }

  private layers(): MaskLayer[] {
    if (!this.selection.hasMasks) return [];
    const selected = new Set(this.selection.selectedIds);
    const layers: MaskLayer[] = [];
    if (this.tool === 'everything') {
      // All masks, selected ones included: the selection is drawn again on top, so this
      // layer does not change with the selection and stays flattened while the user clicks.
      layers.push({ ids: this.paintOrder, alpha: this.opacity * EVERYTHING_DIM, outline: this.outline, flattenKey: `everything-${this.masksVersion}` });
    }
    const visibleSelected = this.paintOrder.filter((id) => selected.has(id) && !this.hidden.has(id));
    // Against all the other masks, the selection is told apart by a bold outline even when outlines are off.
    layers.push({ ids: visibleSelected, alpha: this.opacity, outline: this.outline || this.tool === 'everything', thickOutline: true });
    return layers;
  }

  private updateUi(): void {
    const sel = this.selection;
    const selected = sel.selected;
    this.toolbar.update({
      tool: this.tool,
      canUndo: sel.canUndo,
      canRedo: sel.canRedo,
      canClear: selected.length > 0 || sel.points.length > 0 || sel.box !== null,
      zoom: this.view.zoom,
      hasImage: !!this.image,
    });
    this.side.update({
      items: selected.map((s) => {
        const m = sel.mask(s.id)!;
        return { id: s.id, source: s.source, score: m.score, area: m.area, visible: !this.hidden.has(s.id) };
      }),
      opacity: this.opacity,
      outline: this.outline,
      hasMasks: sel.hasMasks,
      exporting: this.exporting,
    });
    const pick = sel.activePick;
    const chosen = pick ? pick.candidates[pick.choice] : undefined;
    const textScore = pick?.source === 'text' && chosen !== undefined ? sel.textScore(chosen) : undefined;
    this.alternatives.update(
      pick && sel.hasMasks
        ? { source: pick.source, index: pick.choice, count: pick.candidates.length, area: chosen !== undefined ? (sel.mask(chosen)?.area ?? 0) : 0, ...(textScore !== undefined ? { score: textScore } : {}) }
        : null,
    );
    this.textField.update({ available: sel.hasMasks, progress: this.textQuery?.progress ?? null });
    this.hint.update(this.hintText());
    for (const t of ['everything', 'point', 'box'] as const) this.stage.element.classList.toggle(`tool-${t}`, this.tool === t);
    this.stage.setLabels(this.stageLabel(), this.pictureLabel());
  }

  private updateStatus(): void {
    const hovered = this.hoverId >= 0 ? this.selection.mask(this.hoverId) : undefined;
    this.status.update({
      phase: this.phase,
      model: this.model,
      executionProvider: this.executionProvider,
      message: this.statusMessage,
      timings: this.lastRun?.timings ?? null,
      cached: this.lastRun?.cached ?? false,
      maskCount: this.lastRun?.count ?? null,
      hover: hovered ? { id: hovered.id, score: hovered.score, area: hovered.area } : null,
      cursor: this.hoverPoint,
      image: this.image ? { name: this.image.name, width: this.image.width, height: this.image.height } : null,
    });
    this.stage.element.classList.toggle('over-mask', this.hoverId >= 0);
  }

  private hintText(): string | null {
    if (!this.image) return 'Waiting for the image…';
    if (this.image.failed) return `Could not load ${this.image.name}.`;
    if (!this.image.source) return 'Loading image…';
    if (this.modelMissing.visible || this.selection.hasMasks || this.busy || this.segmentRequested) return null;
    if (this.tool === 'everything') return 'Press E or choose Everything to find every object in the image.';
    return this.tool === 'point' ? 'Click an object to select it.' : 'Drag a box around an object.';
  }

  private stageLabel(): string {
    const tool = this.tool === 'everything' ? 'Everything' : this.tool === 'point' ? 'Point' : 'Box';
    return `Segmentation canvas, ${tool} tool`;
  }

  private pictureLabel(): string {
    if (!this.image) return 'Image';
    const parts = [`${this.image.name}, ${this.image.width} by ${this.image.height} pixels`];
    if (this.selection.hasMasks) parts.push(`${plural(this.selection.masks.length, 'mask')}, ${formatInt(this.selection.selectedIds.length)} selected`);
    return parts.join('. ');
  }

  // ---- persistence -----------------------------------------------------------------

  private persistSoon(): void {
    clearTimeout(this.persistTimer);
    this.persistTimer = setTimeout(() => this.persistNow(), PERSIST_DELAY_MS);
  }

  private persistNow(): void {
    clearTimeout(this.persistTimer);
    if (!this.image) return;
    const state: PersistedState = {
      version: STATE_VERSION,
      imageKey: imageKey({ fileName: this.image.name, width: this.image.width, height: this.image.height }),
      tool: this.tool,
      view: this.fitted ? null : this.view,
      opacity: this.opacity,
      outline: this.outline,
      hidden: [...this.hidden],
      selection: this.selection.save(),
    };
    this.host.setState(state);
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Focusable controls where Space means "press", not "pan". */
function isControl(el: HTMLElement | null): boolean {
  return !!el && (el.matches('button, input, select, textarea, a[href], [contenteditable="true"]') || el.isContentEditable);
}

function isTextField(el: HTMLElement | null): boolean {
  if (!el) return false;
  if (el instanceof HTMLTextAreaElement || el.isContentEditable) return true;
  return el instanceof HTMLInputElement && !['range', 'checkbox', 'radio', 'button', 'submit'].includes(el.type);
}

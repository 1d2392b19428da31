/**
 * A stand-in for the extension host, for opening the editor's webview in a plain
 * browser: defines `acquireVsCodeApi`, sets the theme the way VS Code does (body
 * classes and --vscode-* variables), and answers the webview's messages with a
 * generated image and its masks. Loaded by harness.html before dist/webview.js.
 *
 * URL parameters: theme=dark|light, scenario=shapes|missing|stress, delay=<ms>
 * before a segmentation result arrives.
 *
 * Everything the webview sends is recorded in `window.__fakeHost.sent` for
 * test/webview/run-harness.ts to check.
 */
import type { HostToWebview, WebviewToHost } from '../../src/shared/protocol';
import { type Scene, shapesScene, stressScene } from './scene';

const params = new URLSearchParams(location.search);
const theme = params.get('theme') ?? 'dark';
const scenario = params.get('scenario') ?? 'shapes';
const initialDelay = Number(params.get('delay') ?? 600);
const STATE_KEY = `fake-host-state:${scenario}`;
const SEGMENTED_KEY = `fake-host-segmented:${scenario}`;

const THEMES: Record<string, { kind: string; vars: Record<string, string> }> = {
  dark: {
    kind: 'vscode-dark',
    vars: {
      'font-family': 'system-ui, "Segoe WPC", "Segoe UI", sans-serif',
      'font-size': '13px',
      'font-weight': 'normal',
      'editor-background': '#1f1f1f',
      'editor-foreground': '#cccccc',
      foreground: '#cccccc',
      descriptionForeground: '#9d9d9d',
      errorForeground: '#f85149',
      focusBorder: '#0078d4',
      'icon-foreground': '#cccccc',
      'button-background': '#0078d4',
      'button-foreground': '#ffffff',
      'button-hoverBackground': '#026ec1',
      'button-border': '#ffffff12',
      'button-secondaryBackground': '#313131',
      'button-secondaryForeground': '#cccccc',
      'button-secondaryHoverBackground': '#3c3c3c',
      'toolbar-hoverBackground': '#5a5d5e50',
      'toolbar-activeBackground': '#63666750',
      'inputOption-activeBackground': '#2489db82',
      'inputOption-activeBorder': '#2488db',
      'inputOption-activeForeground': '#ffffff',
      'panel-border': '#2b2b2b',
      'sideBar-background': '#181818',
      'sideBar-foreground': '#cccccc',
      'sideBarTitle-foreground': '#cccccc',
      'list-hoverBackground': '#2a2d2e',
      'badge-background': '#616161',
      'badge-foreground': '#f8f8f8',
      'progressBar-background': '#0078d4',
      'editorWidget-background': '#202020',
      'editorWidget-foreground': '#cccccc',
      'editorWidget-border': '#454545',
      'widget-shadow': '#0000005c',
      'notifications-background': '#1f1f1f',
      'notifications-foreground': '#cccccc',
      'notifications-border': '#2b2b2b',
      'notificationsInfoIcon-foreground': '#3794ff',
      'notificationsErrorIcon-foreground': '#f14c4c',
      'editorWarning-foreground': '#cca700',
      'textLink-foreground': '#4daafc',
      'textLink-activeForeground': '#4daafc',
      'scrollbarSlider-background': '#79797966',
      'checkbox-background': '#313131',
      'checkbox-border': '#3c3c3c',
      'charts-green': '#89d185',
      'charts-red': '#f14c4c',
    },
  },
  light: {
    kind: 'vscode-light',
    vars: {
      'font-family': 'system-ui, "Segoe WPC", "Segoe UI", sans-serif',
      'font-size': '13px',
      'font-weight': 'normal',
      'editor-background': '#ffffff',
      'editor-foreground': '#3b3b3b',
      foreground: '#3b3b3b',
      descriptionForeground: '#717171',
      errorForeground: '#f85149',
      focusBorder: '#005fb8',
      'icon-foreground': '#3b3b3b',
      'button-background': '#005fb8',
      'button-foreground': '#ffffff',
      'button-hoverBackground': '#0258a8',
      'button-border': '#0000001a',
      'button-secondaryBackground': '#e5e5e5',
      'button-secondaryForeground': '#3b3b3b',
      'button-secondaryHoverBackground': '#cccccc',
      'toolbar-hoverBackground': '#b8b8b850',
      'toolbar-activeBackground': '#a6a6a650',
      'inputOption-activeBackground': '#bed6ed',
      'inputOption-activeBorder': '#005fb8',
      'inputOption-activeForeground': '#000000',
      'panel-border': '#e5e5e5',
      'sideBar-background': '#f8f8f8',
      'sideBar-foreground': '#3b3b3b',
      'sideBarTitle-foreground': '#3b3b3b',
      'list-hoverBackground': '#f2f2f2',
      'badge-background': '#cccccc',
      'badge-foreground': '#3b3b3b',
      'progressBar-background': '#005fb8',
      'editorWidget-background': '#f8f8f8',
      'editorWidget-foreground': '#3b3b3b',
      'editorWidget-border': '#c8c8c8',
      'widget-shadow': '#00000029',
      'notifications-background': '#ffffff',
      'notifications-foreground': '#3b3b3b',
      'notifications-border': '#e5e5e5',
      'notificationsInfoIcon-foreground': '#005fb8',
      'notificationsErrorIcon-foreground': '#e51400',
      'editorWarning-foreground': '#bf8803',
      'textLink-foreground': '#005fb8',
      'textLink-activeForeground': '#005fb8',
      'scrollbarSlider-background': '#64646466',
      'checkbox-background': '#f8f8f8',
      'checkbox-border': '#cecece',
      'charts-green': '#388a34',
      'charts-red': '#e51400',
    },
  },
};

function applyTheme(): void {
  const t = THEMES[theme] ?? THEMES.dark!;
  // As VS Code does: a theme class on <body>, the variables on <html> (set through the CSSOM, which the CSP allows).
  document.body.classList.add(t.kind);
  document.body.dataset.vscodeThemeKind = t.kind;
  for (const [name, value] of Object.entries(t.vars)) document.documentElement.style.setProperty(`--vscode-${name}`, value);
}

interface Recorded {
  sent: WebviewToHost[];
  received: HostToWebview['type'][];
  cspViolations: string[];
  scene: Pick<Scene, 'width' | 'height' | 'ids' | 'probes'> | null;
  /** Sends a message to the webview, as the host would (for ad-hoc checks from the test). */
  send(message: HostToWebview): void;
  /** When the last segmentation message was posted (performance.now()). */
  segmentationDeliveredAt: number;
  /** Milliseconds between `segment` and its result; the test may change it. */
  delay: number;
  /** The generated image's blob URL, once made. */
  imageUri: string;
  /** Segmentation results sent so far: the last one's `resultId`, as the extension's editor numbers them. */
  resultsSent: number;
}

declare global {
  interface Window {
    acquireVsCodeApi: () => { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };
    __fakeHost: Recorded;
    /** The stress scenario of run-harness.ts times hover with it. */
    __hoverTiming: { handled: number[] };
  }
}

const recorded: Recorded = {
  sent: [],
  received: [],
  cspViolations: [],
  scene: null,
  send: (m) => toWebview(m),
  segmentationDeliveredAt: 0,
  delay: initialDelay,
  imageUri: '',
  resultsSent: 0,
};
window.__fakeHost = recorded;
document.addEventListener('securitypolicyviolation', (e) => recorded.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || e.sample}`));

function toWebview(message: HostToWebview): void {
  recorded.received.push(message.type);
  // The same structured clone VS Code uses: typed arrays arrive as typed arrays.
  window.postMessage(message, '*');
}

let scenePromise: Promise<{ scene: Scene; uri: string }> | null = null;

function scene(): Promise<{ scene: Scene; uri: string }> {
  scenePromise ??= (async () => {
    const s = scenario === 'stress' ? stressScene() : shapesScene();
    recorded.scene = { width: s.width, height: s.height, ids: s.ids, probes: s.probes };
    const canvas = new OffscreenCanvas(s.width, s.height);
    canvas.getContext('2d')!.putImageData(new ImageData(s.rgba as Uint8ClampedArray<ArrayBuffer>, s.width, s.height), 0, 0);
    const blob = await canvas.convertToBlob({ type: scenario === 'stress' ? 'image/jpeg' : 'image/png', quality: 0.9 });
    recorded.imageUri = URL.createObjectURL(blob);
    return { scene: s, uri: recorded.imageUri };
  })();
  return scenePromise;
}

const MODEL = 'FastSAM-s.onnx';
const PROVIDER = 'cpu';
let segmentTimer: ReturnType<typeof setTimeout> | undefined;
let modelChosen = scenario !== 'missing';

function segmentationMessage(s: Scene, cached: boolean): HostToWebview {
  return {
    type: 'segmentation',
    resultId: ++recorded.resultsSent,
    width: s.width,
    height: s.height,
    masks: s.masks,
    timings: cached ? { decode: 0, preprocess: 0, inference: 0, postprocess: 0, total: 3 } : { decode: 14, preprocess: 21, inference: 187, postprocess: 38, total: 274 },
    cached,
    imageSize: 1024,
  };
}

async function handle(m: WebviewToHost): Promise<void> {
  const { scene: s, uri } = await scene();
  switch (m.type) {
    case 'ready':
      toWebview({ type: 'init', imageUri: uri, fileName: scenario === 'stress' ? 'stress-12mp.jpg' : 'still-life.png', width: s.width, height: s.height, orientation: 1 });
      if (!modelChosen) {
        toWebview({ type: 'status', phase: 'idle', model: null, executionProvider: null });
        toWebview({
          type: 'modelMissing',
          message: 'The model file "FastSAM-s.onnx" was not found in the fastsam.modelPath setting or the models folder.',
          canDownload: true,
        });
        return;
      }
      toWebview({ type: 'status', phase: 'ready', model: MODEL, executionProvider: PROVIDER });
      // The host re-sends the masks on `ready` when it has them (the tab was hidden and shown).
      if (sessionStorage.getItem(SEGMENTED_KEY)) {
        toWebview(segmentationMessage(s, true));
        recorded.segmentationDeliveredAt = performance.now();
      }
      return;
    case 'segment':
      if (!modelChosen) {
        toWebview({ type: 'modelMissing', message: 'No model is configured.', canDownload: true });
        return;
      }
      toWebview({ type: 'status', phase: 'segmenting', model: MODEL, executionProvider: PROVIDER });
      clearTimeout(segmentTimer);
      segmentTimer = setTimeout(() => {
        sessionStorage.setItem(SEGMENTED_KEY, '1');
        toWebview(segmentationMessage(s, false));
        recorded.segmentationDeliveredAt = performance.now();
        toWebview({ type: 'status', phase: 'ready', model: MODEL, executionProvider: PROVIDER });
      }, recorded.delay);
      return;
    case 'cancel':
      clearTimeout(segmentTimer);
      toWebview({ type: 'status', phase: 'cancelled', model: MODEL, executionProvider: PROVIDER });
      return;
    case 'export':
      setTimeout(() => toWebview({ type: 'exportDone', ok: true, paths: ['/home/user/pictures/still-life.mask.png'] }), 150);
      return;
    case 'chooseModel':
      modelChosen = true;
      toWebview({ type: 'status', phase: 'loading-model', model: MODEL, executionProvider: null, message: MODEL });
      setTimeout(() => toWebview({ type: 'status', phase: 'ready', model: MODEL, executionProvider: PROVIDER }), 300);
      return;
    case 'textQuery':
      answerText(s, m.text, m.requestId);
      return;
    case 'downloadModel':
    case 'showLog':
    case 'selectionChanged':
      return;
  }
}

/** How long a fake text query takes: long enough for the test to see its progress in the field. */
const TEXT_DELAY_MS = 400;

/**
 * A stand-in for CLIP: masks whose scene name is a word of the text rank first,
 * then names starting with one (cup → cup, cupBody), then the rest; the scores
 * sum to 1, as CLIP's softmax does. A text with "offline" fails as the core does
 * without a network.
 */
function answerText(s: Scene, text: string, requestId: number): void {
  toWebview({ type: 'textProgress', requestId, message: 'Loading CLIP…' });
  setTimeout(() => {
    if (/offline/i.test(text)) {
      toWebview({
        type: 'textResult',
        requestId,
        ranked: [],
        error: 'CLIP model "Xenova/clip-vit-base-patch32" is not in the cache and downloads are off: set fastsam.clipModel to a local folder',
      });
      return;
    }
    const words = text.toLowerCase().split(/\W+/).filter(Boolean);
    const rank = (name: string) => (words.includes(name.toLowerCase()) ? 0 : words.some((w) => name.toLowerCase().startsWith(w)) ? 1 : 2);
    const names = Object.keys(s.ids).sort((a, b) => rank(a) - rank(b) || s.ids[a]! - s.ids[b]!);
    const raw = names.map((n) => [0.7, 0.2, 0.1 / names.length][rank(n)]!);
    const total = raw.reduce((a, b) => a + b, 0);
    toWebview({ type: 'textResult', requestId, ranked: names.map((n, i) => ({ id: s.ids[n]!, score: raw[i]! / total })) });
  }, TEXT_DELAY_MS);
}

let acquired = false;
window.acquireVsCodeApi = () => {
  // VS Code allows one call per page; a second one is a bug in the webview.
  if (acquired) throw new Error('acquireVsCodeApi may only be called once');
  acquired = true;
  return {
    postMessage(message: unknown) {
      // A structured clone, like the real boundary: the webview must not rely on sharing objects.
      const m = structuredClone(message) as WebviewToHost;
      recorded.sent.push(m);
      void handle(m);
    },
    getState: () => {
      const raw = sessionStorage.getItem(STATE_KEY);
      return raw ? JSON.parse(raw) : undefined;
    },
    setState: (state: unknown) => sessionStorage.setItem(STATE_KEY, JSON.stringify(state)),
  };
};

applyTheme();
// Start generating the image now; `ready` arrives a moment later.
void scene();

/**
 * Messages between the extension host (src/extension) and the segmentation
 * editor's webview (src/webview). Both sides import these types; nothing else
 * crosses the boundary. Typed arrays travel as they are (VS Code transfers them
 * without JSON encoding).
 *
 * Division of labour: the host decodes nothing for display and runs the model
 * (in a worker); the webview shows the image from its URI, draws masks, and
 * answers hover, click and box prompts itself with src/core/prompts — pure
 * functions over the masks — so they cost no round trip.
 */

/** A mask as it crosses to the webview: the engine's BoxMask plus its detection data. */
export interface WireMask {
  id: number;
  score: number;
  /** [x1, y1, x2, y2] in image pixels. */
  box: [number, number, number, number];
  area: number;
  left: number;
  top: number;
  width: number;
  height: number;
  /** Row-major bits, ceil(width / 32) words per row (see src/core/masks/box-mask.ts). */
  bits: Uint32Array;
}

export interface StageTimingsMessage {
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
  /** Wall time from request to result on the host, including the worker round trip. */
  total: number;
}

export type EnginePhase = 'idle' | 'loading-model' | 'segmenting' | 'ready' | 'error' | 'cancelled';

/** Export targets offered in the editor; issue-specific formats add to this list. */
export type ExportScope = 'selection' | 'everything';

// ---- host → webview -------------------------------------------------------

export interface InitMessage {
  type: 'init';
  /** Webview URI of the image file (the webview loads it itself). */
  imageUri: string;
  fileName: string;
  /** Size as displayed (EXIF orientation applied); the coordinate system of every mask and prompt. */
  width: number;
  height: number;
  /** Whether the image needs an EXIF rotation the browser will apply (`image-orientation: from-image`). */
  orientation: number;
}

export interface StatusMessage {
  type: 'status';
  phase: EnginePhase;
  /** Model display name (file name), or null when none is configured. */
  model: string | null;
  executionProvider: string | null;
  /** Human-readable detail: what is loading, an error message. */
  message?: string;
}

export interface ModelMissingMessage {
  type: 'modelMissing';
  message: string;
  /** Whether "Download" can be offered (a downloadable model is known). */
  canDownload: boolean;
}

export interface SegmentationMessage {
  type: 'segmentation';
  /**
   * Names this result in its editor (1, 2, … as results replace each other). Requests that
   * name masks by id carry it, so that the host can tell ids meant for a result it has
   * since replaced (the image changed, the settings changed) from ids of the one it shows.
   */
  resultId: number;
  width: number;
  height: number;
  /** Descending score; `id` is the index. */
  masks: WireMask[];
  timings: StageTimingsMessage;
  /** True when the result came from the cache (no inference ran). */
  cached: boolean;
  imageSize: number;
}

export interface ExportDoneMessage {
  type: 'exportDone';
  ok: boolean;
  /** The files written, when ok: the mask alone, or one per format chosen. */
  paths?: string[];
  message?: string;
  /** With ok: false, the user cancelled (a dialog): shown as a notice, not as an error. */
  cancelled?: boolean;
}

/** The image file changed on disk: the webview reloads it and drops its masks. */
export interface ImageChangedMessage {
  type: 'imageChanged';
  imageUri: string;
  width: number;
  height: number;
  orientation: number;
}

/** A mask ranked by a text query: `score` is CLIP's softmax over the image's masks (the scores sum to 1). */
export interface TextRankedMask {
  id: number;
  score: number;
}

/**
 * The answer to a `textQuery`: every candidate mask, best first (masks too small
 * for CLIP are not ranked). With `error`, the query failed and `ranked` is empty;
 * the message is written for the user.
 */
export interface TextResultMessage {
  type: 'textResult';
  requestId: number;
  ranked: TextRankedMask[];
  error?: string;
}

/** Progress of a running text query (loading CLIP, embedding the masks, searching), shown in the text field. */
export interface TextProgressMessage {
  type: 'textProgress';
  requestId: number;
  message: string;
}

export type HostToWebview =
  | InitMessage
  | StatusMessage
  | ModelMissingMessage
  | SegmentationMessage
  | ExportDoneMessage
  | ImageChangedMessage
  | TextResultMessage
  | TextProgressMessage;

// ---- webview → host -------------------------------------------------------

export interface ReadyMessage {
  type: 'ready';
}

/** Run "everything" (the host answers from its cache when it can). */
export interface SegmentRequest {
  type: 'segment';
}

export interface CancelRequest {
  type: 'cancel';
}

/** Export the union of these masks (by id) as `<stem>.mask.png`, or everything. */
export interface ExportRequest {
  type: 'export';
  scope: ExportScope;
  maskIds: number[];
  /** The result the ids belong to (`SegmentationMessage.resultId`). */
  resultId: number;
}

export interface ChooseModelRequest {
  type: 'chooseModel';
}

export interface DownloadModelRequest {
  type: 'downloadModel';
}

export interface ShowLogRequest {
  type: 'showLog';
}

/**
 * Sent whenever the selection changes, so that commands run from the palette
 * ("Export Selection") act on what the user sees.
 */
export interface SelectionChangedMessage {
  type: 'selectionChanged';
  maskIds: number[];
  /** The result the ids belong to (`SegmentationMessage.resultId`). */
  resultId: number;
}

/**
 * Ranks the shown segmentation's masks by a text ("the red cup") with CLIP.
 * Only sent once the masks are there; `requestId` is the webview's, echoed in the answer.
 */
export interface TextQueryRequest {
  type: 'textQuery';
  text: string;
  requestId: number;
}

export type WebviewToHost =
  | TextQueryRequest
  | ReadyMessage
  | SegmentRequest
  | CancelRequest
  | ExportRequest
  | ChooseModelRequest
  | DownloadModelRequest
  | ShowLogRequest
  | SelectionChangedMessage;

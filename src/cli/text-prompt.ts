/**
 * `fastsam segment --text`: choosing masks with a CLIP text prompt. The CLIP
 * model is loaded once for all images; each image's mask crops are embedded
 * once and the text compared with all of them.
 */
import { TextPrompter } from '../core/clip/text-prompt';
import type { SegmentationResult } from '../core/engine';
import type { MaskJson, ResultJson } from '../core/export/result-json';
import type { Logger } from '../core/logger';
import { MAX_ALTERNATIVES, type Pick } from '../core/prompts/select';
import { parseNumberOption, UsageError } from './args';

export interface TextPromptArgs {
  text: string;
  /** Hub id or local folder; the default CLIP model when absent. */
  clipModel?: string;
  allAbove?: number;
}

export const TEXT_OPTIONS_USAGE = `  --text <TEXT>           select the mask that best matches TEXT with CLIP (e.g. "the red cup")
  --clip-model <ID|DIR>   CLIP model: Hugging Face id or local folder (default Xenova/clip-vit-base-patch32;
                          downloaded once; HF_HUB_OFFLINE=1 forbids downloads)
  --all-above <F>         with --text, select every mask whose text score is at least F (0 < F <= 1)`;

/** The --text options, or undefined without --text; rejects combinations that cannot apply. */
export function parseTextArgs(values: {
  text?: string;
  'clip-model'?: string;
  'all-above'?: string;
  point?: string[];
  box?: string[];
  format?: string[];
}): TextPromptArgs | undefined {
  if (values.text === undefined) {
    for (const flag of ['clip-model', 'all-above'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --text`);
    }
    return undefined;
  }
  if (values.text.trim() === '') throw new UsageError('--text must not be empty');
  if (values.point || values.box) throw new UsageError('--text cannot be combined with --point or --box');
  if (values.format) throw new UsageError('--text cannot be combined with --format');
  return {
    text: values.text,
    clipModel: values['clip-model'],
    allAbove: parseNumberOption('all-above', values['all-above'], (n) => n > 0 && n <= 1, 'above 0 and at most 1'),
  };
}

/** Loads the CLIP model; a missing or broken model rejects with a one-line ClipModelError. */
export function loadTextPrompter(args: TextPromptArgs, logger: Logger): Promise<TextPrompter> {
  return TextPrompter.load({
    model: args.clipModel,
    // The Hugging Face convention for "never download" (huggingface_hub reads it too).
    allowRemote: !['1', 'true', 'yes'].includes((process.env.HF_HUB_OFFLINE ?? '').toLowerCase()),
    localFolderHint: 'pass a local folder with --clip-model',
    logger,
    onProgress: (p) => {
      if (p.status === 'download') logger.info(`CLIP: reading ${p.file}`);
    },
  });
}

export interface TextSelection {
  /** The selected masks, the last followed by the best other masks as alternatives, as `resultToJson` orders them. */
  picks: Pick[];
  /** Text score by mask id, for every mask big enough to be a candidate. */
  scores: Map<number, number>;
}

export async function selectByText(prompter: TextPrompter, result: SegmentationResult, image: string, args: TextPromptArgs): Promise<TextSelection> {
  const embeddings = await prompter.embedMasks(result, image);
  const answer = await prompter.queryText(embeddings, args.text, { allAbove: args.allAbove });
  const { selected, ranked } = answer;
  const scores = new Map(ranked.map((r) => [result.masks[r.index]!.id, r.score]));
  if (selected.length === 0) return { picks: [], scores };
  const alternatives = ranked.filter((r) => !selected.includes(r.index)).slice(0, MAX_ALTERNATIVES).map((r) => r.index);
  const picks = selected.map((i) => [i]);
  picks[picks.length - 1]!.push(...alternatives);
  return { picks, scores };
}

/** `--json` output of a text prompt: candidate masks carry their text score. */
export interface TextResultJson extends ResultJson {
  masks: (MaskJson & { text_score?: number })[];
}

/** The JSON with each listed mask's `text_score` (4 significant digits: losing matches score far below 0.0001). */
export function withTextScores(json: ResultJson, scores: ReadonlyMap<number, number>): TextResultJson {
  return {
    ...json,
    masks: json.masks.map((m) => {
      const score = scores.get(m.id);
      return score === undefined ? m : { ...m, text_score: Number(score.toPrecision(4)) };
    }),
  };
}

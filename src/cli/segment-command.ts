/**
 * `fastsam segment`: one engine, loaded once, for every image on the command line.
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { FastSamEngine } from '../core/engine';
import { PromptError, UserFacingError } from '../core/errors';
import { indexMapPng, selectionMaskPng } from '../core/export/mask-images';
import { resultToJson } from '../core/export/result-json';
import { describeWriteError, writeFilesAtomic } from '../core/io/atomic-write';
import type { Logger } from '../core/logger';
import type { ExecutionProviderChoice } from '../core/model/segmentation-model';
import { type BoxPrompt, isEmptyPrompt, type PointPrompt, type Prompt, selectMasks } from '../core/prompts/select';

export interface SegmentCommandOptions {
  images: string[];
  model: string;
  imageSize?: number;
  confidence?: number;
  iou?: number;
  points: PointPrompt[];
  boxes: BoxPrompt[];
  outDir?: string;
  json: boolean;
  overwrite: boolean;
  executionProvider: ExecutionProviderChoice;
}

export interface CommandIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  logger: Logger;
}

/** The output files for one image, or null when nothing is to be written. */
function outputFiles(options: SegmentCommandOptions, image: string): { mask: string; index: string; json: string } | null {
  if (!options.outDir) return null;
  const stem = path.join(options.outDir, path.basename(image, path.extname(image)));
  return { mask: `${stem}.mask.png`, index: `${stem}.masks.png`, json: `${stem}.masks.json` };
}

/** Returns the process exit code: 0 when every image succeeded, 1 otherwise. */
export async function runSegment(options: SegmentCommandOptions, io: CommandIo): Promise<number> {
  const prompt: Prompt = { points: options.points, boxes: options.boxes };
  const engine = await FastSamEngine.create({ modelPath: options.model, executionProvider: options.executionProvider, logger: io.logger });
  if (options.outDir) {
    try {
      await fs.mkdir(options.outDir, { recursive: true });
    } catch (e) {
      throw describeWriteError(e, options.outDir);
    }
  }
  let failures = 0;
  try {
    for (const image of options.images) {
      try {
        await segmentOne(engine, image, prompt, options, io);
      } catch (e) {
        if (!(e instanceof UserFacingError)) throw e;
        failures++;
        // Prompt errors don't know the image; image errors already name it.
        io.stderr(`fastsam: ${e instanceof PromptError ? `${image}: ` : ''}${e.message}`);
      }
    }
  } finally {
    await engine.dispose();
  }
  return failures === 0 ? 0 : 1;
}

async function segmentOne(engine: FastSamEngine, image: string, prompt: Prompt, options: SegmentCommandOptions, io: CommandIo): Promise<void> {
  const start = performance.now();
  const result = await engine.segment(image, { imageSize: options.imageSize, confidence: options.confidence, iou: options.iou });
  const promptStart = performance.now();
  const picks = selectMasks(result.masks, prompt, result.width, result.height);
  const promptMs = performance.now() - promptStart;
  const everything = isEmptyPrompt(prompt);
  if (!everything && picks.every((p) => p.length === 0)) {
    throw new UserFacingError(`${image}: no mask matches the prompt`);
  }

  const json = resultToJson(image, result, picks, { ...result.timings, prompt: promptMs, total: performance.now() - start });

  const files = outputFiles(options, image);
  if (files) {
    // Index map value i + 1 is json.masks[i]: both follow the picks' order.
    const chosen = picks.filter((p) => p.length > 0).map((p) => result.masks[p[0]!]!.mask);
    const { width, height } = result;
    await writeFilesAtomic(
      everything
        ? [
            { path: files.index, data: indexMapPng(chosen, width, height) },
            { path: files.json, data: JSON.stringify(json) + '\n' },
          ]
        : [{ path: files.mask, data: selectionMaskPng(chosen, width, height) }],
      { overwrite: options.overwrite },
    );
  }
  if (options.json) {
    io.stdout(JSON.stringify(json));
  } else {
    const selected = json.masks.filter((m) => m.selected).length;
    const what = everything ? `${selected} masks` : `${selected} selected, ${json.masks.length - selected} alternatives`;
    io.stdout(`${image}: ${result.width}×${result.height}, ${what}, ${json.timings_ms.total.toFixed(0)} ms (${engine.executionProvider})`);
  }
}

/**
 * Text prompts in the engine worker: one CLIP model (loaded on the first query,
 * again when the `fastsam.clipModel` setting or its cache changes) and the mask
 * embeddings of recent results, so that a second query on an image costs only
 * the text encoder. Loaded lazily: @huggingface/transformers is imported by
 * src/core/clip only when a query arrives.
 */
import type { ImageEmbeddings } from '../../core/clip/text-prompt';
import { TextPrompter } from '../../core/clip/text-prompt';
import { throwIfCancelled } from '../../core/errors';
import { openImage } from '../../core/image/decode';
import type { Logger } from '../../core/logger';
import type { ClipSpec, TextQueryJob, WorkerClipCounters } from './messages';

/**
 * Embeddings kept: each is masks × 512 floats (300 masks ≈ 600 KB), so a few
 * open editors' worth costs little while switching between them stays instant.
 */
export const EMBEDDINGS_KEPT = 8;

export interface ClipHostOptions {
  logger: Logger;
  progress(id: number, message: string): void;
}

function sameSpec(a: ClipSpec, b: ClipSpec): boolean {
  return a.model === b.model && a.cacheDir === b.cacheDir && a.allowRemote === b.allowRemote;
}

export class ClipHost {
  private held: { spec: ClipSpec; prompter: TextPrompter } | undefined;
  /** Runs of the CLIP models already let go, so the counters stay cumulative over reloads. */
  private retired: Omit<WorkerClipCounters, 'loads'> = { visionRuns: 0, imagesEmbedded: 0, textRuns: 0, textCacheHits: 0 };
  private loads = 0;
  /** By result key and CLIP model, least recently used first. */
  private readonly embeddings = new Map<string, ImageEmbeddings>();
  /** The request a load's progress is reported to (the load's callback outlives no request, but is bound once). */
  private progressTarget = 0;

  constructor(private readonly options: ClipHostOptions) {}

  get counters(): WorkerClipCounters {
    const live = this.held?.prompter.counters;
    const r = this.retired;
    return {
      loads: this.loads,
      visionRuns: r.visionRuns + (live?.visionRuns ?? 0),
      imagesEmbedded: r.imagesEmbedded + (live?.imagesEmbedded ?? 0),
      textRuns: r.textRuns + (live?.textRuns ?? 0),
      textCacheHits: r.textCacheHits + (live?.textCacheHits ?? 0),
    };
  }

  /** The job's masks ranked by its text, best first (positions in `job.result.masks`). */
  async query(job: TextQueryJob, signal: AbortSignal): Promise<{ index: number; score: number }[]> {
    const prompter = await this.prompterFor(job.clip, job.id);
    throwIfCancelled(signal);
    const embeddingsKey = JSON.stringify([job.key, job.clip.model]);
    let embeddings = this.embeddings.get(embeddingsKey);
    if (embeddings) {
      this.embeddings.delete(embeddingsKey);
    } else {
      this.options.progress(job.id, `Embedding ${job.result.masks.length} masks…`);
      const image = await openImage(Buffer.from(job.image.buffer, job.image.byteOffset, job.image.byteLength), { name: job.name });
      embeddings = await prompter.embedMasks(job.result, image, { signal });
      const t = embeddings.timings;
      this.options.logger.info(
        `${job.name}: CLIP embedded ${embeddings.maskIndices.length} of ${job.result.masks.length} masks in ${(t.decode + t.crop + t.vision).toFixed(0)} ms (vision ${t.vision.toFixed(0)})`,
      );
    }
    this.embeddings.set(embeddingsKey, embeddings);
    while (this.embeddings.size > EMBEDDINGS_KEPT) this.embeddings.delete(this.embeddings.keys().next().value!);
    this.options.progress(job.id, 'Searching…');
    const answer = await prompter.queryText(embeddings, job.text);
    return answer.ranked.map((r) => ({ index: r.index, score: r.score }));
  }

  async dispose(): Promise<void> {
    await this.release();
  }

  private async prompterFor(spec: ClipSpec, id: number): Promise<TextPrompter> {
    this.progressTarget = id;
    if (this.held && sameSpec(this.held.spec, spec)) return this.held.prompter;
    await this.release();
    this.options.progress(id, 'Loading CLIP…');
    // A failed load is not kept: the next query tries again (the user may have fixed the folder or gone online).
    const prompter = await TextPrompter.load({
      model: spec.model,
      cacheDir: spec.cacheDir,
      allowRemote: spec.allowRemote,
      localFolderHint: 'set fastsam.clipModel to a local folder',
      logger: this.options.logger,
      onProgress: (p) => {
        // Files read from a folder or the cache report 100% at once: only a download in progress is worth showing.
        if (p.status === 'progress' && p.file && p.progress !== undefined && p.progress < 100 && p.total) {
          this.options.progress(this.progressTarget, `Loading CLIP… ${p.file} ${Math.floor(p.progress)}%`);
        }
      },
    });
    this.loads++;
    this.held = { spec, prompter };
    return prompter;
  }

  private async release(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    const c = held.prompter.counters;
    this.retired = {
      visionRuns: this.retired.visionRuns + c.visionRuns,
      imagesEmbedded: this.retired.imagesEmbedded + c.imagesEmbedded,
      textRuns: this.retired.textRuns + c.textRuns,
      textCacheHits: this.retired.textCacheHits + c.textCacheHits,
    };
    // Embeddings of another model cannot be queried with the new one.
    this.embeddings.clear();
    await held.prompter.dispose();
  }
}

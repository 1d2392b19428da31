/**
 * A worker thread hosting a TextPrompter, as the extension's engine worker will:
 * segmentation results and image bytes come in, embeddings and query answers go
 * out, all by structured clone. Started by test/unit/clip-text-prompt.test.ts.
 */
import { parentPort } from 'node:worker_threads';
import { type ImageEmbeddings, TextPrompter } from '../../src/core/clip/text-prompt';
import type { SegmentationResult } from '../../src/core/engine';

export type ToWorker =
  | { type: 'load'; model: string }
  | { type: 'embed'; result: SegmentationResult; image: Uint8Array }
  | { type: 'query'; embeddings: ImageEmbeddings; text: string };

let prompter: TextPrompter | undefined;
const port = parentPort!;

port.on('message', (message: ToWorker) => {
  void (async () => {
    try {
      switch (message.type) {
        case 'load':
          prompter = await TextPrompter.load({ model: message.model });
          port.postMessage({ type: 'loaded' });
          break;
        case 'embed':
          port.postMessage({ type: 'embedded', embeddings: await prompter!.embedMasks(message.result, Buffer.from(message.image)) });
          break;
        case 'query':
          port.postMessage({ type: 'answer', answer: await prompter!.queryText(message.embeddings, message.text), counters: prompter!.counters });
          break;
      }
    } catch (err) {
      port.postMessage({ type: 'error', message: String(err) });
    }
  })();
});

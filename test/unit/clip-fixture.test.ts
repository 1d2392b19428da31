/**
 * The clip-palette fixture against its documented semantics
 * (models/fixtures/README.md): its tokenizer as transformers.js loads it, and
 * its two ONNX models run directly with onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with { 'resolution-mode': 'import' };

import { buildClipPaletteFixture, CLIP_MEAN, CLIP_STD, clipVocabulary, FILLER_WORDS } from '../../scripts/fixtures/clip-fixture';
import { clipFixturePath } from '../helpers/clip-fixture';
import { palette } from '../helpers/fixture-model';

const K = palette.colors.length;
const fixture = buildClipPaletteFixture();
const vocabulary = clipVocabulary(palette);
let tokenizer: PreTrainedTokenizer;
let text: ort.InferenceSession;
let vision: ort.InferenceSession;

before(async () => {
  const { AutoTokenizer } = await import('@huggingface/transformers');
  tokenizer = await AutoTokenizer.from_pretrained(await clipFixturePath(), { local_files_only: true });
  text = await ort.InferenceSession.create(fixture.get('onnx/text_model.onnx') as Uint8Array);
  vision = await ort.InferenceSession.create(fixture.get('onnx/vision_model.onnx') as Uint8Array);
});

function ids(s: string): number[] {
  return (tokenizer(s).input_ids.tolist() as bigint[][])[0]!.map(Number);
}

async function embedTexts(texts: string[]): Promise<number[][]> {
  const batch = tokenizer(texts, { padding: true, truncation: true });
  const feed = (t: { data: BigInt64Array; dims: number[] }) => new ort.Tensor('int64', t.data, t.dims);
  const out = await text.run({ input_ids: feed(batch.input_ids), attention_mask: feed(batch.attention_mask) });
  const data = out.text_embeds!.data as Float32Array;
  assert.deepEqual(out.text_embeds!.dims, [texts.length, K]);
  return texts.map((_, r) => [...data.subarray(r * K, (r + 1) * K)]);
}

/** A CLIP-normalized [n, 3, side, side] batch where image i paints pixel (x, y) with paint(i, x, y) (0..255 RGB). */
function pixels(n: number, side: number, paint: (i: number, x: number, y: number) => readonly number[]): ort.Tensor {
  const data = new Float32Array(n * 3 * side * side);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const rgb = paint(i, x, y);
        for (let c = 0; c < 3; c++) data[((i * 3 + c) * side + y) * side + x] = (rgb[c]! / 255 - CLIP_MEAN[c]!) / CLIP_STD[c]!;
      }
    }
  }
  return new ort.Tensor('float32', data, [n, 3, side, side]);
}

async function embedImages(batch: ort.Tensor): Promise<number[][]> {
  const out = await vision.run({ pixel_values: batch });
  const data = out.image_embeds!.data as Float32Array;
  return Array.from({ length: batch.dims[0]! }, (_, r) => [...data.subarray(r * K, (r + 1) * K)]);
}

const argmax = (v: number[]) => v.indexOf(Math.max(...v));
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);

describe('clip-palette tokenizer', () => {
  it('encodes every known word as one token between <|startoftext|> and <|endoftext|>', () => {
    const start = vocabulary.vocab.get('<|startoftext|>')!;
    const end = vocabulary.vocab.get('<|endoftext|>')!;
    for (const word of vocabulary.words) {
      assert.deepEqual(ids(word), [start, vocabulary.vocab.get(`${word}</w>`)!, end], word);
    }
    for (const word of ['the', 'one', 'a', 'shape']) assert.ok((FILLER_WORDS as readonly string[]).includes(word));
  });

  it('lower-cases, splits punctuation, and spells unknown words with single characters', () => {
    const token = (t: string) => vocabulary.vocab.get(t)!;
    assert.deepEqual(ids('The  DARK green one.').slice(1, -1), [token('the</w>'), token('dark</w>'), token('green</w>'), token('one</w>'), token('.</w>')]);
    assert.deepEqual(ids('cat').slice(1, -1), [token('c'), token('a'), token('t</w>')]);
  });

  it('is deterministic: building twice gives the same bytes', () => {
    const again = buildClipPaletteFixture();
    for (const [file, data] of fixture) assert.deepEqual(again.get(file), data, file);
  });
});

describe('clip-palette text model', () => {
  it('puts each color name on its own palette axis, with and without filler words', async () => {
    const texts = palette.names.flatMap((n) => [n, `the ${n} one`, `A ${n} shape!`]);
    const embeds = await embedTexts(texts);
    texts.forEach((t, i) => {
      const k = Math.floor(i / 3);
      assert.equal(argmax(embeds[i]!), k, `"${t}" → ${palette.names[argmax(embeds[i]!)]}`);
      // Cosine with the color's axis, what selection compares: well above every other axis.
      const norm = Math.hypot(...embeds[i]!);
      for (let j = 0; j < K; j++) if (j !== k) assert.ok(embeds[i]![k]! / norm - embeds[i]![j]! / norm > 0.4, `"${t}": ${palette.names[j]} too close`);
    });
  });

  it('reads modifiers: "dark" alone names nothing, the bare hue prefers the plain color, "gray" is either gray', async () => {
    const [dark, green, gray, grey, none] = await embedTexts(['dark', 'green', 'gray', 'grey', 'a photo of the thing']);
    assert.deepEqual(dark, new Array(K).fill(0));
    assert.deepEqual(none, new Array(K).fill(0));
    const k = (name: string) => palette.names.indexOf(name);
    close(green![k('green')]!, 1, 'green on green');
    close(green![k('dark green')]!, 1 / 3, 'green on dark green');
    close(gray![k('dark gray')]!, 1 / 3, 'gray on dark gray');
    close(gray![k('light gray')]!, 1 / 3, 'gray on light gray');
    assert.deepEqual(grey, gray, '"grey" is "gray"');
    const [pair] = await embedTexts(['dark green and red']);
    close(pair![k('dark green')]!, 1, 'a modified name as strong as a plain one');
    close(pair![k('red')]!, 1, 'red in a pair');
  });

  it('ignores padding: the same text alone or in a padded batch', async () => {
    const [alone] = await embedTexts(['red']);
    const [padded] = await embedTexts(['red', 'a dark green shape of the one']);
    assert.deepEqual(padded, alone);
  });
});

describe('clip-palette vision model', () => {
  it('gives the fraction of the image in each palette color', async () => {
    const side = 32;
    const white = [255, 255, 255];
    const embeds = await embedImages(
      pixels(K + 2, side, (i, x) => {
        if (i < K) return palette.colors[i]!; // solid color i
        if (i === K) return x < side / 4 ? palette.colors[0]! : x < side / 2 ? palette.colors[2]! : white; // ¼ red, ¼ blue
        return white;
      }),
    );
    for (let k = 0; k < K; k++) {
      close(embeds[k]![k]!, 1, `${palette.names[k]} on its axis`);
      for (let j = 0; j < K; j++) if (j !== k) assert.ok(embeds[k]![j]! < 1e-4, `${palette.names[k]} on ${palette.names[j]}`);
    }
    close(embeds[K]![0]!, 0.25, 'quarter red');
    close(embeds[K]![2]!, 0.25, 'quarter blue');
    assert.ok(Math.max(...embeds[K + 1]!) < 1e-4, 'white is no palette color');
  });

  it('matches within the palette tolerance and not 10 beyond it', async () => {
    const t = palette.tolerance;
    const red = palette.colors[0]!;
    const shifted = (d: number) => [red[0] - d, red[1], red[2]];
    const [inside, outside] = await embedImages(pixels(2, 8, (i) => shifted(i === 0 ? t - 10 : t + 10)));
    assert.ok(inside![0]! > 0.95, `${t - 10} away: ${inside![0]}`);
    assert.ok(outside![0]! < 0.02, `${t + 10} away: ${outside![0]}`);
  });
});

/**
 * A worker thread of WorkerPool: letterbox chunks and mask assembly, reading the
 * large inputs from shared memory and taking pieces of the job from its shared
 * counter, as the engine's thread does. Letterbox rows go into the shared output;
 * each mask's bits are transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { letterboxRows } from '../image/preprocess';
import { MaskAssembler } from '../postprocess/assemble-masks';
import { chunkRows, takeClaims } from './claims';
import type { AssembledMask, AssemblyRequest, LetterboxRequest, PoolReply, PoolRequest } from './worker-pool';

const port = parentPort;
if (!port) throw new Error('pool-worker runs as a worker thread');

function assemble(request: AssemblyRequest, transfer: ArrayBuffer[]): PoolReply {
  const { geometry, protos, coefficients, boxes, order, counter } = request;
  const assembler = new MaskAssembler(geometry, {
    data: new Float32Array(protos.buffer, 0, protos.length),
    channels: protos.channels,
    height: protos.height,
    width: protos.width,
  });
  const masks: AssembledMask[] = [];
  const done = takeClaims(counter, order.length, (claim) => {
    const i = order[claim]!;
    const m = assembler.assemble(
      coefficients.subarray(i * protos.channels, (i + 1) * protos.channels),
      [boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!],
    );
    masks.push({ left: m.left, top: m.top, width: m.width, height: m.height, bits: m.bits, area: m.area });
    transfer.push(m.bits.buffer as ArrayBuffer);
  }).map((claim) => order[claim]!);
  return { ok: true, done, masks };
}

function letterbox(request: LetterboxRequest): PoolReply {
  const { rgb, letterbox: lb, output, chunkRows: rows, chunks, counter } = request;
  const tensor = new Float32Array(output, 0, 3 * lb.size * lb.size);
  const source = { data: new Uint8Array(rgb.buffer, 0, rgb.width * rgb.height * 3), width: rgb.width, height: rgb.height };
  const done = takeClaims(counter, chunks, (chunk) => letterboxRows(source, lb, tensor, ...chunkRows(chunk, rows, lb.newHeight)));
  return { ok: true, done };
}

port.on('message', (request: PoolRequest) => {
  let reply: PoolReply;
  const transfer: ArrayBuffer[] = [];
  try {
    reply = request.kind === 'masks' ? assemble(request, transfer) : letterbox(request);
  } catch (e) {
    reply = { ok: false, error: (e as Error).stack ?? String(e) };
    transfer.length = 0;
  }
  port.postMessage(reply, transfer);
});

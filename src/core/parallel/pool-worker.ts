/**
 * A worker thread of WorkerPool: letterbox rows and mask assembly, reading the
 * large inputs from shared memory. Letterbox rows go into the shared output;
 * each mask's bits are transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { letterboxRows } from '../image/preprocess';
import { MaskAssembler } from '../postprocess/assemble-masks';
import type { AssembledMask, AssemblyRequest, LetterboxRequest, PoolReply, PoolRequest } from './worker-pool';

const port = parentPort;
if (!port) throw new Error('pool-worker runs as a worker thread');

function assemble(request: AssemblyRequest, transfer: ArrayBuffer[]): AssembledMask[] {
  const { geometry, protos, coefficients, boxes } = request;
  const assembler = new MaskAssembler(geometry, {
    data: new Float32Array(protos.buffer, 0, protos.length),
    channels: protos.channels,
    height: protos.height,
    width: protos.width,
  });
  const masks: AssembledMask[] = [];
  for (let i = 0; i < boxes.length / 4; i++) {
    const m = assembler.assemble(
      coefficients.subarray(i * protos.channels, (i + 1) * protos.channels),
      [boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!],
    );
    masks.push({ left: m.left, top: m.top, width: m.width, height: m.height, bits: m.bits, area: m.area });
    transfer.push(m.bits.buffer as ArrayBuffer);
  }
  return masks;
}

function letterbox(request: LetterboxRequest): void {
  const { rgb, letterbox: lb, output, from, to } = request;
  const tensor = new Float32Array(output, 0, 3 * lb.size * lb.size);
  letterboxRows({ data: new Uint8Array(rgb.buffer, 0, rgb.width * rgb.height * 3), width: rgb.width, height: rgb.height }, lb, tensor, from, to);
}

port.on('message', (request: PoolRequest) => {
  let reply: PoolReply;
  const transfer: ArrayBuffer[] = [];
  try {
    if (request.kind === 'masks') reply = { ok: true, masks: assemble(request, transfer) };
    else {
      letterbox(request);
      reply = { ok: true };
    }
  } catch (e) {
    reply = { ok: false, error: (e as Error).stack ?? String(e) };
    transfer.length = 0;
  }
  port.postMessage(reply, transfer);
});

/**
 * A worker thread of MaskAssemblyPool: assembles the masks it is sent, reading the
 * image's prototypes from shared memory, and transfers each mask's bits back.
 */
import { parentPort } from 'node:worker_threads';
import { MaskAssembler } from './assemble-masks';
import type { AssembledMask, AssemblyReply, AssemblyRequest } from './mask-assembly-pool';

const port = parentPort;
if (!port) throw new Error('mask-assembly-worker runs as a worker thread');

port.on('message', (request: AssemblyRequest) => {
  let reply: AssemblyReply;
  const transfer: ArrayBuffer[] = [];
  try {
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
    reply = { ok: true, masks };
  } catch (e) {
    reply = { ok: false, error: (e as Error).stack ?? String(e) };
    transfer.length = 0;
  }
  port.postMessage(reply, transfer);
});

/**
 * A worker thread of WorkerPool: mask assembly, reading the prototypes from
 * the pool's shared kernel memory and taking masks from the job's shared counter, as the
 * engine's thread does. Each mask's bits are transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { MaskAssembler } from '../postprocess/assemble-masks';
import { Kernels } from '../wasm/kernels';
import { takeClaims } from './claims';
import type { AssembledMask, AssemblyRequest, PoolReply } from './worker-pool';

const port = parentPort;
if (!port) throw new Error('pool-worker runs as a worker thread');

function assemble(request: AssemblyRequest, transfer: ArrayBuffer[]): PoolReply {
  const { geometry, protos, coefficients, boxes, order, counter } = request;
  const { memory, ...placed } = protos;
  // An instance of the kernels of this thread's own, over the pool's memory.
  const assembler = new MaskAssembler(geometry, { ...placed, kernels: new Kernels(memory) });
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

port.on('message', (request: AssemblyRequest) => {
  let reply: PoolReply;
  const transfer: ArrayBuffer[] = [];
  try {
    reply = assemble(request, transfer);
  } catch (e) {
    reply = { ok: false, error: (e as Error).stack ?? String(e) };
    transfer.length = 0;
  }
  port.postMessage(reply, transfer);
});

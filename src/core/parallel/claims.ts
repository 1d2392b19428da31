/**
 * How the threads of one pool job share its work: each takes the next piece from
 * a counter in shared memory until none is left (Atomics make every piece go to
 * exactly one thread). Used alike by the engine's thread and the workers.
 */

/** Takes pieces from `counter[0]` until `count` are taken, doing each; returns the pieces this thread did. */
export function takeClaims(counter: Int32Array, count: number, work: (piece: number) => void): number[] {
  const taken: number[] = [];
  for (let piece = Atomics.add(counter, 0, 1); piece < count; piece = Atomics.add(counter, 0, 1)) {
    work(piece);
    taken.push(piece);
  }
  return taken;
}


/**
 * What a probed model reads: one token sequence per example, with the
 * position id and a slot name of every token. A method lays its examples out
 * into these (ICoT-SI's: methods/icot/probes/sequences.ts); slot names line up
 * the same position across examples and checkpoints, so a probe is fitted per
 * layer × slot (grid.ts).
 */

export interface ProbeSequence {
  ids: number[];
  /** Position id of each token. */
  positions: number[];
  /** Slot name of each token. */
  slots: string[];
}

/** The longest sequence's length; a loop, since Math.max(...xs) overflows the stack on large data. */
export function longestOf(sequences: Iterable<ProbeSequence>): number {
  let n = 0;
  for (const s of sequences) n = Math.max(n, s.ids.length);
  return n;
}

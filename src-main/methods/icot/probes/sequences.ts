/**
 * What a probed ICoT model reads: an example laid out as training lays it out
 * (`input EOS cot EOS #### answer EOS`, ../layout.ts), with the CoT tokens the
 * curriculum had removed at that point taken out (and, for runs that kept
 * positions, the later tokens at their original positions).
 *
 * Every position gets a slot name that survives removal, so heatmaps of
 * different checkpoints line up: `input.i`, `eos.0`, `cot.j` (j counts the
 * CoT tokens of the full chain, so `cot.5` stays `cot.5` when `cot.0..2` are
 * gone), `eos.1`, `answer.k` (`answer.0` is `####`), `eos.2`. A hand-typed
 * input without `||` is read as an input alone: `input.i`, `eos.0`.
 */
import type { ProbeSequence } from '../../../engine/probes/sequences.ts';
import type { SeqTokenizer } from '../../../engine/tokenizers/seq-tokenizer.ts';
import type { CotExample } from '../../shared/examples.ts';
import { removeCot } from '../curriculum.ts';
import { encodeExample, encodePrompt } from '../layout.ts';

export interface Removal {
  /** CoT tokens removed (Infinity = all). */
  count: number;
  side: 'left' | 'right';
  /** Tokens after the removed span keep their original position ids. */
  keepPosition: boolean;
}

export const NO_REMOVAL: Removal = { count: 0, side: 'left', keepPosition: false };

/** Slot names of a full layout: input.i, eos.0, cot.j, eos.1, answer.k, eos.2. */
function fullSlots(first: number, second: number, third: number): string[] {
  const slots: string[] = [];
  for (let t = 0; t <= third; t++) {
    if (t < first) slots.push(`input.${t}`);
    else if (t === first) slots.push('eos.0');
    else if (t < second) slots.push(`cot.${t - first - 1}`);
    else if (t === second) slots.push('eos.1');
    else if (t < third) slots.push(`answer.${t - second - 1}`);
    else slots.push('eos.2');
  }
  return slots;
}

/** The sequence of one example as the model saw it with `removal` in force. */
export function probeSequence(tok: SeqTokenizer, ex: CotExample, removal: Removal = NO_REMOVAL): ProbeSequence {
  const laid = encodeExample(tok, ex);
  const [first, second, third] = laid.eos;
  const slots = fullSlots(first, second, third);
  if (removal.count <= 0) return { ids: laid.ids, positions: laid.ids.map((_, i) => i), slots };
  const r = removeCot(laid, removal.count, removal.side);
  const [from, to] = r.removed;
  const kept = slots.filter((_, t) => t < from || t >= to);
  return { ids: r.ids, positions: removal.keepPosition ? r.positions : r.ids.map((_, i) => i), slots: kept };
}

/** A hand-typed input: a whole example when it has `||` and `####`, else a prompt (`input EOS`). */
export function typedSequence(tok: SeqTokenizer, text: string, parse: (line: string) => CotExample): { sequence: ProbeSequence; example: CotExample } {
  if (text.includes('||')) {
    const example = parse(text);
    return { sequence: probeSequence(tok, example), example };
  }
  const ids = encodePrompt(tok, text);
  return {
    sequence: { ids, positions: ids.map((_, i) => i), slots: ids.map((_, i) => (i === ids.length - 1 ? 'eos.0' : `input.${i}`)) },
    example: { input: text, cot: '', answer: '' },
  };
}

/** The union of several examples' slots, in reading order (input, eos.0, cot, eos.1, answer, eos.2). */
export function slotOrder(slotLists: Iterable<string[]>): string[] {
  const seen = new Set<string>();
  for (const list of slotLists) for (const s of list) seen.add(s);
  const rank = (s: string): [number, number] => {
    const [seg, idx] = s.split('.');
    const i = Number(idx);
    if (seg === 'input') return [0, i];
    if (seg === 'eos') return [i === 0 ? 1 : i === 1 ? 3 : 5, 0];
    if (seg === 'cot') return [2, i];
    if (seg === 'answer') return [4, i];
    return [6, i];
  };
  return [...seen].sort((a, b) => {
    const [x, i] = rank(a);
    const [y, j] = rank(b);
    return x - y || i - j;
  });
}

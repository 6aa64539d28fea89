/**
 * How an ICoT example becomes tokens, as the paper's code lays it out
 * (`src/data.py`): the text is
 *
 *   ' ' + input + ' ' + EOS + ' ' + cot + ' ' + EOS + ' #### ' + answer + ' ' + EOS
 *
 * i.e. `input EOS cot EOS #### answer EOS`, with EOS serving as the separator
 * too. Labels are −100 (no loss) at every position before the first EOS; the
 * first EOS keeps its label (the paper's `labels[:sep_idx-1] = -100` with
 * sep_idx = first EOS + 1). The text is encoded piece by piece between the
 * EOS tokens, which is what a Hugging Face tokenizer does when it splits on
 * the special token first: with GPT-2 each piece starts with a space (so
 * ' 7' is one token) and the space before each EOS is a token of its own,
 * exactly as the paper's models saw it. The compact tokenizer ignores the
 * spaces.
 */
import { compactTokenizerForTexts } from '../../engine/tokenizers/compact.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { CotExample } from '../shared/examples.ts';

export interface EncodedExample {
  ids: number[];
  labels: number[];
  /** Index of the 1st, 2nd and 3rd EOS in ids. */
  eos: [number, number, number];
}

export const IGNORE_INDEX = -100;

/** CoT tokens of a laid-out example: those strictly between its first and second EOS. */
export function cotLength(e: EncodedExample): number {
  return e.eos[1] - e.eos[0] - 1;
}

/** `input EOS cot EOS #### answer EOS`, labels −100 before the first EOS. */
export function encodeExample(tok: SeqTokenizer, ex: CotExample): EncodedExample {
  const input = tok.encode(` ${ex.input} `);
  const cot = tok.encode(` ${ex.cot} `);
  const answer = tok.encode(` #### ${ex.answer} `);
  const ids = [...input, tok.eosId, ...cot, tok.eosId, ...answer, tok.eosId];
  const first = input.length;
  const second = first + 1 + cot.length;
  const third = second + 1 + answer.length;
  const labels = ids.map((id, t) => (t < first ? IGNORE_INDEX : id));
  return { ids, labels, eos: [first, second, third] };
}

/** What generation starts from: `input EOS`. */
export function encodePrompt(tok: SeqTokenizer, input: string): number[] {
  return [...tok.encode(` ${input} `), tok.eosId];
}

/**
 * Reads what the model generated after the prompt: the CoT up to the first
 * EOS, then the answer segment up to the second EOS (or the end, if
 * generation stopped early). The answer is the paper's `extract_answer`: the
 * text after '####', trimmed, commas removed; null when there is no first
 * EOS or the answer segment has no '####'.
 */
export function parseGenerated(tok: SeqTokenizer, generatedIds: number[]): { cot: string; answer: string | null } {
  const first = generatedIds.indexOf(tok.eosId);
  if (first < 0) return { cot: tok.decode(generatedIds).trim(), answer: null };
  const cot = tok.decode(generatedIds.slice(0, first)).trim();
  const second = generatedIds.indexOf(tok.eosId, first + 1);
  const segment = tok.decode(generatedIds.slice(first + 1, second < 0 ? generatedIds.length : second));
  const at = segment.indexOf('####');
  if (at < 0) return { cot, answer: null };
  return { cot, answer: segment.slice(at + 4).trim().replaceAll(',', '') };
}

/** The compact tokenizer (engine/tokenizers/compact.ts) knowing every symbol of `examples`' inputs, CoTs and answers. */
export function compactTokenizerFor(examples: Iterable<CotExample>): SeqTokenizer {
  return compactTokenizerForTexts(textsOf(examples));
}

function* textsOf(examples: Iterable<CotExample>): Generator<string> {
  for (const ex of examples) yield* [ex.input, ex.cot, ex.answer];
}

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
import type { TextTokenizer } from '../../engine/tokenizer.ts';
import type { IcotExample } from './format.ts';

export { compactTokenizerFor, compactTokenizerFromSpec, multTokenizer } from './compact-tokenizer.ts';

export interface SeqTokenizer {
  readonly kind: 'compact' | 'gpt2';
  readonly eosId: number;
  readonly padId: number;
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Serialisable description to store with a run. */
  spec(): unknown;
}

export interface EncodedExample {
  ids: number[];
  labels: number[];
  /** Index of the 1st, 2nd and 3rd EOS in ids. */
  eos: [number, number, number];
}

export const IGNORE_INDEX = -100;

/** `input EOS cot EOS #### answer EOS`, labels −100 before the first EOS. */
export function encodeExample(tok: SeqTokenizer, ex: IcotExample): EncodedExample {
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

export const GPT2_EOS = '<|endoftext|>';

/**
 * A Hugging Face GPT-2 tokenizer as a SeqTokenizer. EOS is '<|endoftext|>';
 * padding also uses it (its labels are −100), as the paper's collate does.
 */
export function gpt2Tokenizer(tok: TextTokenizer): SeqTokenizer {
  const eosId = tok.tokenToId(GPT2_EOS) ?? tok.eosTokenId;
  if (eosId === undefined) throw new Error(`${tok.source}: the tokenizer has no '${GPT2_EOS}' token and names no eos_token; ICoT needs one as EOS`);
  const vocabSize = tok.vocabSize;
  return {
    kind: 'gpt2',
    eosId,
    padId: eosId,
    vocabSize,
    encode: (text) => tok.encode(text),
    decode: (ids) => tok.decode(ids),
    spec: () => ({ kind: 'gpt2', source: tok.source, eosId, vocabSize }),
  };
}

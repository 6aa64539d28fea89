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
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTokenizer, type TextTokenizer } from '../../engine/tokenizer.ts';
import { wordTokenizerFromSpec } from '../finetune-cot/word-tokenizer.ts';
import { compactTokenizerFromSpec } from './compact-tokenizer.ts';
import type { IcotExample } from './format.ts';

export { compactTokenizerFor, compactTokenizerFromSpec, multTokenizer } from './compact-tokenizer.ts';

export interface SeqTokenizer {
  /** words: a Fine-tune-CoT student's word tokenizer (../finetune-cot/word-tokenizer.ts), so such a student can go on with ICoT-SI. */
  readonly kind: 'compact' | 'gpt2' | 'words';
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

/** CoT tokens of a laid-out example: those strictly between its first and second EOS. */
export function cotLength(e: EncodedExample): number {
  return e.eos[1] - e.eos[0] - 1;
}

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

/** Where a model folder trained by Stepwise keeps its tokenizer's description. */
export const TOKENIZER_SPEC_FILE = 'stepwise-tokenizer.json';

/**
 * A tokenizer from the description a run stores (`spec()`: compact symbols, or a GPT-2
 * tokenizer by its source folder); `hf` is used for GPT-2 when the caller has it loaded.
 * `where` names the file the description came from, for errors.
 */
export function tokenizerFromSpec(spec: unknown, where: string, hf: TextTokenizer | null = null): SeqTokenizer {
  const kind = (spec as { kind?: unknown } | null)?.kind;
  try {
    if (kind === 'compact') return compactTokenizerFromSpec(spec);
    if (kind === 'words') return wordTokenizerFromSpec(spec) as SeqTokenizer;
    if (kind === 'gpt2') {
      if (hf) return gpt2Tokenizer(hf);
      // e.g. "/models/gpt2/tokenizer.json" or "/models/gpt2/vocab.json + merges.txt"
      const source = String((spec as { source?: unknown }).source ?? '');
      return gpt2Tokenizer(loadTokenizer(path.dirname(source.split(' + ')[0])));
    }
  } catch (err) {
    throw new Error(`${where}: cannot rebuild the tokenizer: ${(err as Error).message}`);
  }
  throw new Error(`${where}: unknown tokenizer kind ${JSON.stringify(kind)} (expected compact, gpt2 or words)`);
}

/**
 * The tokenizer of a model folder: its Stepwise description (`stepwise-tokenizer.json`), else
 * the folder's own Hugging Face tokenizer (`hf`, from loadGpt2Folder).
 */
export function folderTokenizer(dir: string, hf: TextTokenizer | null): SeqTokenizer {
  const specFile = path.join(dir, TOKENIZER_SPEC_FILE);
  if (existsSync(specFile)) {
    let spec: unknown;
    try {
      spec = JSON.parse(readFileSync(specFile, 'utf8'));
    } catch (err) {
      throw new Error(`${specFile}: not valid JSON (${(err as Error).message})`);
    }
    return tokenizerFromSpec(spec, specFile, hf);
  }
  if (hf) return gpt2Tokenizer(hf);
  throw new Error(`${dir} has no tokenizer: expected ${TOKENIZER_SPEC_FILE}, tokenizer.json, or vocab.json with merges.txt`);
}

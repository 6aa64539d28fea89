/**
 * A Hugging Face folder's tokenizer (hf.ts) as a SeqTokenizer: EOS is
 * '<|endoftext|>', else the folder's eos_token; padding also uses it (its
 * labels are −100), as the ICoT paper's collate does. Stored as kind 'gpt2',
 * the first family that used it; Llama-family folders' tokenizers go through
 * it too.
 */
import type { TextTokenizer } from './hf.ts';
import type { SeqTokenizer } from './seq-tokenizer.ts';

export const GPT2_EOS = '<|endoftext|>';

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

/**
 * What a sequence layout encodes with: text ↔ token ids, the ids of EOS and
 * padding, and a description to store with a run so the same tokenizer can
 * be rebuilt (spec.ts). Three kinds: the compact tokenizer of symbols
 * (compact.ts), the word tokenizer (word.ts) and a Hugging Face folder's
 * tokenizer (gpt2.ts).
 */

export interface SeqTokenizer {
  /** words: the word tokenizer (word.ts) of a Fine-tune-CoT student trained from scratch, so such a student can go on with ICoT-SI. */
  readonly kind: 'compact' | 'gpt2' | 'words';
  readonly eosId: number;
  readonly padId: number;
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Serialisable description to store with a run. */
  spec(): unknown;
}

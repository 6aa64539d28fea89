/**
 * Scoring a Coconut model as the paper does: the model gets `input EOS <bot>`,
 * runs its n continuous thoughts (or reads n `<pause>` tokens), gets `<eot>`,
 * and decodes greedily until its second EOS; it is right when the text after
 * `####` equals the gold answer. Speed is examples per second of generation
 * time (the thoughts' passes included), at the given batch size.
 */
import { LatentGenerator } from '../../engine/latent-generate.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { PredictionRow } from '../../engine/trainer.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import type { CotExample } from '../shared/examples.ts';
import { promptOf, parseGenerated, tokenizeExample, type Markers, type Thoughts } from './layout.ts';

export interface CoconutEvalOptions {
  thoughts: Thoughts;
  /** Thoughts (or pause tokens) between <bot> and <eot>. */
  n: number;
  maxNewTokens: number;
  batchSize: number;
  /** Called after each chunk with the examples done so far. */
  onProgress?: (done: number, total: number) => void;
}

export async function evaluateCoconut(gen: LatentGenerator, tok: SeqTokenizer, m: Markers, examples: CotExample[], opts: CoconutEvalOptions): Promise<EvalResult> {
  const predictions: PredictionRow[] = [];
  let correct = 0;
  let stepTokens = 0;
  let generationMs = 0;
  const pause = opts.thoughts === 'pause';
  for (let start = 0; start < examples.length; start += opts.batchSize) {
    const chunk = examples.slice(start, start + opts.batchSize);
    const prompts = chunk.map((ex) => {
      const p = promptOf(tok, m, tokenizeExample(tok, ex));
      return pause ? [...p, ...new Array<number>(opts.n).fill(m.thought), m.eot] : p;
    });
    const out = await gen.generate(prompts, {
      thoughts: pause ? 0 : opts.n, suffix: pause ? [] : [m.eot], maxNewTokens: opts.maxNewTokens, eosTokenId: tok.eosId, eosCount: 2, padTokenId: tok.padId,
    });
    generationMs += out.totalMs;
    out.rows.forEach((row, k) => {
      const ex = chunk[k];
      const parsed = parseGenerated(tok, row.tokens);
      const ok = parsed.answer !== null && parsed.answer === ex.answer.trim().replaceAll(',', '');
      if (ok) correct++;
      stepTokens += parsed.stepTokens;
      predictions.push({ index: start + k, input: ex.input, target: ex.answer, generated: tok.decode(row.tokens), correct: ok, answer: parsed.answer, cotTokens: parsed.stepTokens });
    });
    opts.onProgress?.(Math.min(start + opts.batchSize, examples.length), examples.length);
  }
  const total = predictions.length;
  return {
    accuracy: total ? correct / total : 0, correct, total, meanCotTokens: total ? stepTokens / total : 0,
    examplesPerS: generationMs > 0 ? total / (generationMs / 1e3) : 0, generationMs, predictions,
  };
}

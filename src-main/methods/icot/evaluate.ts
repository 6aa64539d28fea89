/**
 * Evaluation as in the ICoT-SI paper: the model gets `input EOS`, decodes
 * greedily until its second EOS (the one closing the answer), and is right when
 * the text after `####` equals the gold answer, commas stripped. Speed is
 * measured as the paper measures it: examples per second at batch size 1,
 * counting only generation time; batched throughput is reported too.
 */
import type { Generator } from '../../engine/generate.ts';
import type { ModelArch } from '../../engine/models/family.ts';
import type { PredictionRow } from '../../engine/trainer.ts';
import type { PositionJump } from './curriculum.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import type { CotExample } from '../shared/examples.ts';
import { encodePrompt, parseGenerated } from './layout.ts';

export interface EvalOptions {
  /** Decoding budget after the prompt (CoT + answer + two EOS). */
  maxNewTokens: number;
  /** Rows decoded together (1 = the paper's speed protocol). */
  batchSize: number;
  /** Per example: where positions jump past the removed CoT (kept positions; default none). See keptPositionJump. */
  positionJump?: (ex: CotExample) => PositionJump;
  /** Called after each chunk with the examples done so far. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export const normalizeAnswer = (s: string): string => s.trim().replace(/,/g, '');

export async function evaluate(gen: Generator<ModelArch>, tok: SeqTokenizer, examples: CotExample[], opts: EvalOptions): Promise<EvalResult> {
  const predictions: PredictionRow[] = [];
  let correct = 0;
  let cotTokens = 0;
  let generationMs = 0;
  for (let start = 0; start < examples.length; start += opts.batchSize) {
    if (opts.signal?.aborted) break;
    const chunk = examples.slice(start, start + opts.batchSize);
    const jumps = opts.positionJump ? chunk.map(opts.positionJump) : undefined;
    const out = await gen.generate(chunk.map((ex) => encodePrompt(tok, ex.input)), {
      maxNewTokens: opts.maxNewTokens, temperature: 0, eosTokenId: tok.eosId, eosCount: 2, padTokenId: tok.padId,
      positionSkip: jumps?.map((j) => j.by),
      positionSkipAfter: jumps?.map((j) => j.after),
    });
    generationMs += out.timings.totalMs;
    out.rows.forEach((row, k) => {
      const ex = chunk[k];
      const parsed = parseGenerated(tok, row.tokens);
      const firstEos = row.tokens.indexOf(tok.eosId);
      const cot = firstEos < 0 ? row.tokens.length : firstEos;
      const ok = parsed.answer !== null && normalizeAnswer(parsed.answer) === normalizeAnswer(ex.answer);
      if (ok) correct++;
      cotTokens += cot;
      predictions.push({
        index: start + k, input: ex.input, target: ex.answer, generated: tok.decode(row.tokens), correct: ok,
        answer: parsed.answer, cotTokens: cot,
      });
    });
    opts.onProgress?.(Math.min(start + opts.batchSize, examples.length), examples.length);
  }
  const total = predictions.length;
  return {
    accuracy: total ? correct / total : 0, correct, total, meanCotTokens: total ? cotTokens / total : 0,
    examplesPerS: generationMs > 0 ? total / (generationMs / 1e3) : 0, generationMs, predictions,
  };
}

/**
 * Evaluation as in Fine-tune-CoT: the student gets `{question} ###`, decodes
 * greedily until EOS, and is right when the answer read after `-->` (by the
 * task's answer rule) matches the gold one.
 */
import type { Generator } from '../../engine/generate.ts';
import type { ModelArch } from '../../engine/models/family.ts';
import type { SeqTokenizer } from '../../engine/tokenizers/seq-tokenizer.ts';
import type { PredictionRow } from '../../engine/trainer.ts';
import type { EvalResult } from '../shared/eval-result.ts';
import { sameAnswer, type AnswerType } from './answers.ts';
import { encodeStudentPrompt, parseCompletion, type StudentFormat } from './layout.ts';

export interface StudentEvalOptions {
  format: StudentFormat;
  answerType: AnswerType;
  maxNewTokens: number;
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** As ICoT's: meanCotTokens counts the tokens the student wrote before its answer mark (its rationale). */
export type StudentEvalResult = EvalResult;

export async function evaluateStudent(gen: Generator<ModelArch>, tok: SeqTokenizer, examples: { question: string; answer: string }[], opts: StudentEvalOptions): Promise<StudentEvalResult> {
  const predictions: PredictionRow[] = [];
  let correct = 0;
  let cotTokens = 0;
  let generationMs = 0;
  const room = gen.family.maxPositions;
  for (let start = 0; start < examples.length; start += opts.batchSize) {
    if (opts.signal?.aborted) break;
    const chunk = examples.slice(start, start + opts.batchSize);
    // A prompt longer than the context keeps its end (the separator), as a truncating tokenizer would not: say so in the row.
    const prompts = chunk.map((ex) => encodeStudentPrompt(tok, opts.format, ex.question).slice(-(room - 1)));
    const out = await gen.generate(prompts, { maxNewTokens: opts.maxNewTokens, temperature: 0, eosTokenId: tok.eosId, padTokenId: tok.padId });
    generationMs += out.timings.totalMs;
    out.rows.forEach((row, k) => {
      const ex = chunk[k];
      const ids = row.tokens.filter((t) => t !== tok.eosId);
      const text = tok.decode(ids);
      const parsed = parseCompletion(opts.format, text, opts.answerType, ex.question);
      const ok = sameAnswer(opts.answerType, parsed.answer, ex.answer, ex.question);
      if (ok) correct++;
      const mark = opts.format === 'vanilla' ? 0 : tok.encode(` ${parsed.rationale}`).length;
      cotTokens += mark;
      predictions.push({ index: start + k, input: ex.question, target: ex.answer, generated: text, correct: ok, answer: parsed.answer, cotTokens: mark });
    });
    opts.onProgress?.(Math.min(start + opts.batchSize, examples.length), examples.length);
  }
  const total = predictions.length;
  return {
    accuracy: total ? correct / total : 0, correct, total, meanCotTokens: total ? cotTokens / total : 0,
    examplesPerS: generationMs > 0 ? total / (generationMs / 1e3) : 0, generationMs, predictions,
  };
}

/**
 * What evaluating a model on a test set gives, for every method that asks it
 * to generate and reads the answer (ICoT-SI's evaluate, Fine-tune-CoT's
 * evaluateStudent): accuracy, how much chain of thought it wrote, its speed,
 * and one prediction per example for the store.
 */
import type { PredictionRow } from '../../engine/trainer.ts';

export interface EvalResult {
  accuracy: number;
  correct: number;
  total: number;
  /** Mean CoT tokens the model generated before its first EOS (0 = fully internalized); a Fine-tune-CoT student's, before its answer mark. */
  meanCotTokens: number;
  /** Examples per second of generation time, at options.batchSize. */
  examplesPerS: number;
  generationMs: number;
  predictions: PredictionRow[];
}

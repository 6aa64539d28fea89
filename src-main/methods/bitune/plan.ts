/**
 * What a Bitune or LoRA run trains, for the estimate before it runs (../shared/estimate.ts): its
 * adapters (or weight copies, for full fine-tuning) and mixing coefficients on a frozen base, with
 * one pass over the model per adapter set (Bitune reads the prompt twice).
 */
import type { RunPlan } from '../shared/estimate.ts';
import type { BituneRunConfig } from './recipe.ts';
import type { PreparedBitune } from './run.ts';

export function planBitune(prepared: unknown, config: BituneRunConfig): RunPlan {
  const p = prepared as PreparedBitune;
  let trainable = 0;
  for (const t of p.init.values()) trainable += t.data.length;
  let longest = 1;
  for (const pair of p.pairs) longest = Math.max(longest, pair.prompt.length + pair.answer.length);
  return {
    arch: p.family.arch,
    trainable,
    frozenBytes: config.runtime.baseDtype === 'float16' ? 2 : 4,
    batchSize: config.train.batchSize,
    seqLen: longest,
    examples: p.train.length,
    epochs: config.train.epochs,
    passes: p.adapters.length,
  };
}

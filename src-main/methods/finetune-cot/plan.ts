/** What a Fine-tune-CoT student's run trains, for the estimate before it runs (../shared/estimate.ts): the whole student. */
import { paramCount } from '../../engine/models/family.ts';
import type { RunPlan } from '../shared/estimate.ts';
import type { FtCotRunConfig } from './recipe.ts';
import type { prepare } from './run.ts';

export function planFtCot(prepared: unknown, config: FtCotRunConfig): RunPlan {
  const p = prepared as ReturnType<typeof prepare>;
  let longest = 1;
  for (const e of p.encoded) longest = Math.max(longest, e.ids.length);
  return { arch: p.arch, trainable: paramCount(p.arch), batchSize: config.train.batchSize, seqLen: longest, examples: p.train.length, epochs: config.train.epochs, passes: 1 };
}

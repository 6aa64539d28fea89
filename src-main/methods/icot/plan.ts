/** What an ICoT-SI run trains, for the estimate before it runs (../shared/estimate.ts): the whole model, on its longest layout. */
import { paramCount } from '../../engine/models/family.ts';
import type { RunPlan } from '../shared/estimate.ts';
import type { IcotRunConfig } from './recipe.ts';
import type { prepare } from './run.ts';

export function planIcot(prepared: unknown, config: IcotRunConfig): RunPlan {
  const p = prepared as ReturnType<typeof prepare>;
  return { arch: p.arch, trainable: paramCount(p.arch), batchSize: config.train.batchSize, seqLen: p.longest, examples: p.train.length, epochs: config.train.epochs, passes: 1 };
}

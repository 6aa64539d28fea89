/**
 * ICoT-SI as the lab lists it: Stepwise Internalization (Deng et al. 2024),
 * with its explicit-CoT and No-CoT baselines as recipes of the same config.
 */
import { defineMethod } from '../method.ts';
import { bestInLibrary, bestSummary } from '../shared/supervised-run.ts';
import { IcotRunConfigSchema, type IcotRunConfig } from './recipe.ts';
import { prepare, runIcot, type IcotOutcome } from './run.ts';
import { planIcot } from './plan.ts';

export const icotSi = defineMethod<IcotRunConfig, IcotOutcome>({
  id: 'icot-si',
  title: 'ICoT-SI',
  hint: 'Train with an explicit chain of thought, then remove its tokens a few per epoch until the model answers with none.',
  module: import.meta.url,
  schema: IcotRunConfigSchema,
  recognizes: (config) => typeof config.recipe === 'string',
  prepare,
  plan: planIcot,
  run: runIcot,
  library: (outcome, config) => bestInLibrary(outcome, config.recipe),
  summary: (outcome, config) => bestSummary(outcome, config.recipe === 'icot-si' ? 'no best model (the CoT was never fully removed)' : undefined),
  progressNote: (f) => (f.allCotRemoved === 1 ? 'CoT removed: all' : f.scheduledRemoval !== undefined ? `CoT removed ${f.scheduledRemoval}` : null),
  capabilities: { freshModel: true, libraryModel: true, families: ['gpt2', 'llama'], curriculum: true, adapters: false, predictions: true },
});

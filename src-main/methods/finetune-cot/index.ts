/**
 * Fine-tune-CoT as the lab lists it (Ho et al. 2023): a student fine-tuned on
 * a teacher's rationales that reach the right answer (or, vanilla, on the
 * answers alone).
 */
import { defineMethod } from '../method.ts';
import { bestInLibrary, bestSummary } from '../shared/supervised-run.ts';
import { FtCotRunConfigSchema, type FtCotRunConfig } from './recipe.ts';
import { prepare, runFtCot, type FtCotOutcome } from './run.ts';
import { planFtCot } from './plan.ts';

export const fineTuneCot = defineMethod<FtCotRunConfig, FtCotOutcome>({
  id: 'fine-tune-cot',
  title: 'Fine-tune-CoT',
  hint: "Fine-tune a small student on a teacher's zero-shot-CoT rationales that reach the right answer.",
  module: import.meta.url,
  schema: FtCotRunConfigSchema,
  recognizes: (config) => typeof config.format === 'string' && config.recipe === undefined,
  prepare,
  plan: planFtCot,
  run: runFtCot,
  library: (outcome, config) => bestInLibrary(outcome, config.format),
  summary: (outcome) => bestSummary(outcome),
  capabilities: { freshModel: true, libraryModel: true, families: ['gpt2', 'llama'], curriculum: false, adapters: false, predictions: true },
});

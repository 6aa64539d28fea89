/**
 * Coconut as the lab lists it: chain of continuous thought (Hao et al. 2024),
 * with the paper's pause-token control as `thoughts: "pause"` of the same
 * config. Explicit CoT and No CoT baselines are ICoT-SI's recipes.
 */
import { defineMethod } from '../method.ts';
import { bestInLibrary, bestSummary } from '../shared/supervised-run.ts';
import { CoconutRunConfigSchema, type CoconutRunConfig } from './recipe.ts';
import { prepare, runCoconut, type CoconutOutcome } from './run.ts';

export const coconut = defineMethod<CoconutRunConfig, CoconutOutcome>({
  id: 'coconut',
  title: 'Coconut',
  hint: 'Replace the chain of thought, one step per stage, by continuous thoughts: the last hidden state fed back as the next input.',
  module: import.meta.url,
  schema: CoconutRunConfigSchema,
  prepare,
  run: runCoconut,
  library: (outcome, config) => bestInLibrary(outcome, config.thoughts === 'pause' ? 'coconut-pause' : 'coconut'),
  summary: (outcome) => bestSummary(outcome, 'no best model (the run ended before its last stage)'),
  progressNote: (f) => (f.stage !== undefined ? `stage ${f.stage}, ${f.thoughts} thoughts` : null),
  capabilities: { freshModel: true, libraryModel: true, families: ['gpt2', 'llama'], curriculum: false, adapters: false, predictions: true },
});

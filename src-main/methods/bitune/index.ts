/**
 * Bitune (Kopiczko et al. 2024) and its LoRA baseline as the lab lists them:
 * one folder, one config, two methods that differ only in `method` (the LoRA
 * baseline reads the prompt once, causally, with one adapter set). Both take
 * the config's `peft` (LoRA, DoRA, IA3 or full fine-tuning); the merged
 * model's provenance and the run's summary name it.
 */
import { defineMethod, type LibraryEntry } from '../method.ts';
import { BituneRunConfigSchema, type BituneRunConfig } from './recipe.ts';
import { prepareBitune, runBitune, type BituneOutcome } from './run.ts';
import { planBitune } from './plan.ts';

/** A finished run's merged model (the base with the `default` adapter merged in) as the Library takes it. */
function mergedEntry(outcome: BituneOutcome): LibraryEntry | null {
  const m = outcome.merged;
  if (!m) return null;
  return {
    path: m.path, suffix: '(merged)', recipe: m.method, step: m.step,
    provenance: {
      base: m.base, adapters: m.adapters, adapterFormat: m.peft === 'full' ? 'model folders' : 'peft', peft: m.peft,
      merged: `${m.peft === 'full' ? 'the fully fine-tuned default copy of the model' : 'the default adapter merged into the base'}${m.method === 'lora' ? '' : " (Bitune's decoder: it reads the prompt causally, without the mixed cache)"}`,
    },
  };
}

const shared = {
  module: import.meta.url,
  schema: BituneRunConfigSchema,
  prepare: prepareBitune,
  plan: planBitune,
  run: runBitune,
  library: mergedEntry,
  summary: (outcome: BituneOutcome) => (outcome.merged ? `${outcome.merged.peft} ${outcome.merged.peft === 'full' ? 'fine-tuned copies' : 'adapters'} in ${outcome.merged.adapters}, merged model in ${outcome.merged.path}` : 'no merged model'),
  capabilities: { freshModel: true, libraryModel: true, families: ['gpt2', 'llama'], curriculum: false, adapters: true, predictions: true },
} as const;

export const bitune = defineMethod<BituneRunConfig, BituneOutcome>({
  ...shared,
  id: 'bitune',
  title: 'Bitune',
  hint: 'Read the prompt twice, causally and bidirectionally, with two adapter sets (LoRA, DoRA or IA3) or two copies of the model, and mix the two caches with learned coefficients.',
  recognizes: (config) => config.bitune !== undefined,
});

export const lora = defineMethod<BituneRunConfig, BituneOutcome>({
  ...shared,
  id: 'lora',
  title: 'LoRA',
  hint: "Adapters on a frozen base (LoRA, DoRA or IA3) or the whole model fine-tuned, read causally once: Bitune's baseline on the same data and budget.",
  recognizes: (config) => config.lora !== undefined && config.bitune === undefined,
});

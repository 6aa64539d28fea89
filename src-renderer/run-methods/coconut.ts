// Coconut as New run methods (src-main/methods/coconut/recipe.ts): continuous
// thoughts, and the paper's pause-token control on the same curriculum.
import type { JsonObject, JsonValue } from '../../src-main/contract/index.ts';
import { datasetProblem, freshModelConfig, readFreshShape, splitFile, TRAIN_DEFAULTS } from '../lib/run-config.ts';
import CoconutSettingsSection from './CoconutSettings.svelte';
import { defineRunFormMethod } from './types.ts';

export interface CoconutSettings {
  /** c: continuous thoughts per removed step. */
  thoughtsPerStep: number;
  epochsPerStage: number;
  /** Stage 0's epochs (explicit CoT with the markers). */
  cotEpochs: number;
  maxLatentStage: number;
  resetOptimizer: boolean;
}

/** The paper's GSM8K settings (args/gsm_coconut.yaml). */
export const COCONUT_DEFAULTS: CoconutSettings = { thoughtsPerStep: 2, epochsPerStage: 3, cotEpochs: 3, maxLatentStage: 3, resetOptimizer: true };

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

function entry(thoughts: 'continuous' | 'pause', label: string, hint: string) {
  return defineRunFormMethod<CoconutSettings>({
    id: thoughts === 'continuous' ? 'coconut' : 'coconut-pause',
    method: 'coconut',
    label,
    hint,
    trainable: true,
    freshModel: true,
    initialSettings: () => ({ ...COCONUT_DEFAULTS }),
    Settings: CoconutSettingsSection,
    // The paper: lr 1e-4, weight decay 0.01, batch 32; 3 epochs per stage after the CoT epochs.
    trainDefaults: { lr: 1e-4, epochs: 15 },
    buildConfig(common, s) {
      const data: JsonObject = { train: splitFile(common.dataset, 'train'), valid: splitFile(common.dataset, 'valid') };
      if (common.dataset.splitCounts.test! > 0) data.test = splitFile(common.dataset, 'test');
      return {
        method: 'coconut',
        thoughts,
        model: common.model ? { kind: 'folder', path: common.model.path } : freshModelConfig(common.fresh),
        data,
        train: { ...common.train },
        curriculum: { ...s },
        runtime: { provider: common.provider },
      };
    },
    readConfig(config) {
      if (config.method !== 'coconut' || (config.thoughts ?? 'continuous') !== thoughts) return null;
      const model = isObject(config.model) ? config.model : {};
      const data = isObject(config.data) ? config.data : {};
      const runtime = isObject(config.runtime) ? config.runtime : {};
      const cur = isObject(config.curriculum) ? config.curriculum : {};
      const trainIn = isObject(config.train) ? config.train : {};
      const train = { ...TRAIN_DEFAULTS };
      for (const key of Object.keys(train) as (keyof typeof train)[]) if (trainIn[key] !== undefined) (train as Record<string, unknown>)[key] = trainIn[key];
      const num = (v: JsonValue | undefined, d: number) => (typeof v === 'number' ? v : d);
      const at = typeof data.train === 'string' ? /^(datasets\/[^/]+)\//.exec(data.train) : null;
      const epochsPerStage = num(cur.epochsPerStage, COCONUT_DEFAULTS.epochsPerStage);
      return {
        common: {
          datasetPath: at ? at[1]! : null,
          modelPath: model.kind === 'folder' && typeof model.path === 'string' ? model.path : null,
          fresh: readFreshShape(model),
          train,
          provider: typeof runtime.provider === 'string' ? runtime.provider : 'cpu',
        },
        settings: {
          thoughtsPerStep: num(cur.thoughtsPerStep, COCONUT_DEFAULTS.thoughtsPerStep),
          epochsPerStage,
          cotEpochs: num(cur.cotEpochs, epochsPerStage),
          maxLatentStage: num(cur.maxLatentStage, COCONUT_DEFAULTS.maxLatentStage),
          resetOptimizer: typeof cur.resetOptimizer === 'boolean' ? cur.resetOptimizer : true,
        },
      };
    },
    datasetProblem,
  });
}

export const coconutEntry = entry('continuous', 'Coconut', 'Chain of continuous thought: one CoT step per stage is replaced by thoughts, the last hidden state fed back as the next input.');
export const coconutPauseEntry = entry('pause', 'Coconut pause tokens', 'The paper’s control: learned <pause> tokens in place of the continuous thoughts, on the same curriculum.');

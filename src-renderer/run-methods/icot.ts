// The ICoT trainer's three recipes as New run methods: Stepwise
// Internalization (with its curriculum section), explicit CoT, and No CoT.
import type { JsonObject } from '../../src-main/contract/index.ts';
import { buildIcotConfig, CURRICULUM_DEFAULTS, datasetProblem, readIcotConfig } from '../lib/run-config.ts';
import type { CurriculumSettings, Recipe } from '../lib/run-config.ts';
import IcotCurriculum from './IcotCurriculum.svelte';
import { readRunningSum, RUNNING_SUM_DEFAULTS, runningSumConfig, type RunningSumSettings } from './running-sum.ts';
import RunningSumSettingsSection from './RunningSumSettings.svelte';
import { defineRunFormMethod } from './types.ts';

function recipeEntry(recipe: Recipe, label: string, hint: string) {
  return defineRunFormMethod<CurriculumSettings>({
    id: recipe,
    method: 'icot-si',
    label,
    hint,
    trainable: true,
    freshModel: true,
    initialSettings: () => ({ ...CURRICULUM_DEFAULTS }),
    ...(recipe === 'icot-si' ? { Settings: IcotCurriculum } : {}),
    buildConfig: (common, curriculum) => buildIcotConfig(recipe, common, curriculum),
    readConfig(config: JsonObject) {
      const read = readIcotConfig(config);
      if (!read || read.recipe !== recipe) return null;
      const { curriculum, recipe: _, ...common } = read;
      return { common, settings: curriculum };
    },
    datasetProblem,
  });
}

export const icotSiEntry = recipeEntry(
  'icot-si',
  'ICoT-SI',
  'Stepwise Internalization: train with the chain of thought, then remove its tokens a few per epoch until the model answers directly.',
);
export const cotEntry = recipeEntry('cot', 'Explicit CoT', 'Learn to write the chain of thought, then the answer.');
/** No CoT, with its one option: the running-sum auxiliary loss. */
export const noCotEntry = defineRunFormMethod<RunningSumSettings>({
  id: 'nocot',
  method: 'icot-si',
  label: 'No CoT',
  hint: 'Answer directly, with no chain of thought: the baseline (optionally with the running-sum auxiliary loss).',
  trainable: true,
  freshModel: true,
  initialSettings: () => ({ ...RUNNING_SUM_DEFAULTS }),
  Settings: RunningSumSettingsSection,
  buildConfig(common, settings) {
    const config = buildIcotConfig('nocot', common, CURRICULUM_DEFAULTS);
    const runningSum = runningSumConfig(settings);
    return runningSum ? { ...config, runningSum } : config;
  },
  readConfig(config: JsonObject) {
    const read = readIcotConfig(config);
    if (!read || read.recipe !== 'nocot') return null;
    const { curriculum: _c, recipe: _r, ...common } = read;
    return { common, settings: readRunningSum(config.runningSum) };
  },
  datasetProblem,
});

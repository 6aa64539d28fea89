// Fine-tune-CoT students as New run methods (src-main/methods/finetune-cot/recipe.ts):
// Fine-tune-CoT on a teacher's rationales (` {rationale} --> {answer}`) and the
// vanilla fine-tuning baseline (` {answer}`), on a Fine-tune-CoT task dataset
// (train.jsonl, test.jsonl): the paper's task files, a generated task, or the
// kept rationales of a generation job.
import type { Dataset, JsonObject, JsonValue } from '../../src-main/contract/index.ts';
import { freshModelConfig, readFreshShape, TRAIN_DEFAULTS } from '../lib/run-config.ts';
import FtCotSettings from './FtCotSettings.svelte';
import { defineRunFormMethod } from './types.ts';

export type FtAnswerType = 'number' | 'choice' | 'yes-no' | 'text';

export interface FtStudentSettings {
  format: 'ft-cot' | 'vanilla';
  answerType: FtAnswerType;
  /** The task's name in the results table; empty: the dataset's name. */
  task: string;
  /** Rationales per question (D) the data has, for the results table. */
  samples: number;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The task a dataset holds, as the results table groups it: its name, less the suffix a generation
 * job's kept rationales get (`coin_flip: rationales of … , job 3` → `coin_flip`), so a student on a
 * teacher's rationales shares its task's row with the teacher.
 */
export function taskOfDataset(name: string): string {
  return name.replace(/: rationales of .*, job \d+$/, '');
}

/** The answer type the paper's task names imply; number otherwise (arithmetic). */
export function guessAnswerType(name: string): FtAnswerType {
  if (/coin/i.test(name)) return 'yes-no';
  if (/shuffled|tracking|date|object/i.test(name)) return 'choice';
  if (/letter/i.test(name)) return 'text';
  return 'number';
}

function entry(format: FtStudentSettings['format'], label: string, hint: string) {
  return defineRunFormMethod<FtStudentSettings>({
    id: format === 'ft-cot' ? 'fine-tune-cot' : 'ftcot-vanilla',
    method: 'fine-tune-cot',
    label,
    hint,
    trainable: true,
    freshModel: true,
    initialSettings: () => ({ format, answerType: 'number', task: '', samples: 1 }),
    Settings: FtCotSettings,
    // The paper fine-tunes GPT-2 for 20 epochs at lr 3e-4 with batch size 8; small fresh models like larger rates.
    trainDefaults: { epochs: 20, batchSize: 8, lr: 3e-4 },
    buildConfig(common, s) {
      const d = common.dataset;
      const data: JsonObject = { train: `${d.path}/train.jsonl` };
      if (d.splitCounts.valid! > 0) data.valid = `${d.path}/valid.jsonl`;
      if (d.splitCounts.test! > 0) data.test = `${d.path}/test.jsonl`;
      return {
        method: 'fine-tune-cot',
        format: s.format,
        answerType: s.answerType,
        task: s.task.trim() || taskOfDataset(d.name),
        ...(s.format === 'ft-cot' ? { rationales: { samples: s.samples } } : {}),
        model: common.model ? ({ kind: 'folder', path: common.model.path } as JsonObject) : freshModelConfig(common.fresh),
        data,
        train: { ...common.train },
        runtime: { provider: common.provider },
      };
    },
    readConfig(config) {
      if (config.format !== format || (config.method !== undefined && config.method !== 'fine-tune-cot')) return null;
      const model = isObject(config.model) ? config.model : {};
      const data = isObject(config.data) ? config.data : {};
      const runtime = isObject(config.runtime) ? config.runtime : {};
      const pick = <T extends object>(defaults: T, from: JsonObject): T => {
        const out = { ...defaults };
        for (const key of Object.keys(defaults) as (keyof T & string)[]) if (from[key] !== undefined) (out as Record<string, unknown>)[key] = from[key];
        return out;
      };
      const train = typeof data.train === 'string' ? /^(datasets\/[^/]+)\//.exec(data.train) : null;
      const rationales = isObject(config.rationales) ? config.rationales : {};
      return {
        common: {
          datasetPath: train ? train[1]! : null,
          modelPath: model.kind === 'folder' && typeof model.path === 'string' ? model.path : null,
          fresh: readFreshShape(model),
          train: pick(TRAIN_DEFAULTS, isObject(config.train) ? config.train : {}),
          provider: typeof runtime.provider === 'string' ? runtime.provider : 'cpu',
        },
        settings: {
          format,
          answerType: (['number', 'choice', 'yes-no', 'text'] as const).find((t) => t === config.answerType) ?? 'number',
          task: typeof config.task === 'string' ? config.task : '',
          samples: typeof rationales.samples === 'number' ? rationales.samples : 1,
        },
      };
    },
    datasetProblem: (dataset: Dataset) =>
      dataset.kind !== 'fine-tune-cot'
        ? `${dataset.name} is not a Fine-tune-CoT task (import or generate one on the Fine-tune-CoT page)`
        : dataset.splitCounts.train! > 0
          ? null
          : `${dataset.name} has no train split`,
  });
}

export const ftCotEntry = entry('ft-cot', 'Fine-tune-CoT', 'A student learns from a teacher’s rationales: “{question} ###” → “{rationale} --> {answer}”.');
export const ftVanillaEntry = entry('vanilla', 'Vanilla fine-tuning', 'The Fine-tune-CoT baseline: the student learns the answers alone, “{question} ###” → “{answer}”.');

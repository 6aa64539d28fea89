/**
 * A Fine-tune-CoT student run's configuration: one typed object, validated
 * once, stored with the run. Defaults follow the paper's small-student
 * settings where they apply (AdamW; the paper fine-tunes GPT-2 for 20 epochs
 * at lr 3e-4 with batch size 8; small fresh models here like larger rates).
 */
import { z } from 'zod';
import { evalFields, folderModel, freshModelFields, headsDivideDim, parseRunConfig, positiveInt, runtimeFields, trainFields } from '../run-config.ts';
import { ANSWER_TYPES } from './answers.ts';
import { STUDENT_FORMATS } from './layout.ts';

export const FtCotRunConfigSchema = z.strictObject({
  /** Optional: names the method for `stepwise train` (a config with `format` and no `recipe` is taken as Fine-tune-CoT's too). */
  method: z.literal('fine-tune-cot').optional(),
  /** ft-cot: ` {rationale} --> {answer}`; vanilla: ` {answer}`; zero-shot-cot: the teacher's protocol (to train a lab teacher). */
  format: z.enum(STUDENT_FORMATS),
  answerType: z.enum(ANSWER_TYPES),
  /** The task's name, for the results table (e.g. 'coin_flip'). */
  task: z.string().min(1).max(200).optional(),
  /** Where the rationales came from, for the results table: a generation job, its D and teacher. */
  rationales: z.strictObject({
    generationId: positiveInt.optional(),
    samples: positiveInt.default(1),
    teacher: z.string().max(500).optional(),
  }).optional(),
  model: z.discriminatedUnion('kind', [
    /** context defaults to the longest training example (or test prompt plus the longest completion). */
    z.strictObject({
      ...freshModelFields(),
      /** The word tokenizer keeps pieces seen at least this often in training. */
      minCount: positiveInt.default(2),
    }).refine(...headsDivideDim),
    folderModel,
  ]),
  data: z.strictObject({
    /** JSONL {question, rationale?, answer} (several lines per question for diverse reasoning), the paper's task files, or CSV. */
    train: z.string().min(1),
    valid: z.string().min(1).optional(),
    test: z.string().min(1).optional(),
    /** Take only these splits of a file that has several (e.g. the paper's task files: train / test). */
    trainSplit: z.string().min(1).optional(),
    validSplit: z.string().min(1).optional(),
    testSplit: z.string().min(1).optional(),
    /** With the paper's teacher files: keep only rationales whose teacher answer was right (the paper's filter). */
    keptOnly: z.boolean().default(true),
    trainLimit: positiveInt.optional(),
    validLimit: positiveInt.optional(),
    testLimit: positiveInt.optional(),
  }),
  train: z.strictObject({
    epochs: positiveInt.max(10_000),
    ...trainFields({ batchSize: 8, lr: 3e-4, weightDecay: 0.01 }),
  }),
  /** maxNewTokens defaults to the longest training completion plus 8. */
  eval: z.strictObject({ ...evalFields }).prefault({}),
  runtime: z.strictObject({
    ...runtimeFields,
  }).prefault({}),
});

export type FtCotRunConfig = z.infer<typeof FtCotRunConfigSchema>;

/** Validate a config, naming every problem by its path. */
export function parseFtCotConfig(json: unknown, where = 'config'): FtCotRunConfig {
  return parseRunConfig(FtCotRunConfigSchema, json, where, 'Fine-tune-CoT');
}


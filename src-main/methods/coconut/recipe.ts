/**
 * A Coconut run's configuration: one typed object, validated once, stored
 * with the run. Defaults are the paper's GSM8K settings (Hao et al. 2024,
 * args/gsm_coconut.yaml): c = 2 thoughts per step, 3 epochs per stage, 3
 * latent stages, lr 1e-4, weight decay 0.01, optimizer reset at each stage.
 * `thoughts: "pause"` is the paper's pause-token control: learned `<pause>`
 * tokens where the continuous thoughts would be, on the same curriculum.
 */
import { z } from 'zod';
import { evalFields, folderModel, freshModelFields, headsDivideDim, parseRunConfig, positiveInt, runtimeFields, trainFields } from '../run-config.ts';
import type { CoconutCurriculum } from './curriculum.ts';

export const CoconutRunConfigSchema = z.strictObject({
  method: z.literal('coconut'),
  /** continuous: the last hidden state is fed back between <bot> and <eot>; pause: learned <pause> tokens there (the control). */
  thoughts: z.enum(['continuous', 'pause']).default('continuous'),
  model: z.discriminatedUnion('kind', [
    z.strictObject(freshModelFields()).refine(...headsDivideDim),
    /** A Coconut run's model (its tokenizer has the markers). */
    folderModel,
  ]),
  data: z.strictObject({
    /** Files in the ICoT `input||cot #### answer` format or JSONL {question, rationale, answer}. */
    train: z.string().min(1),
    valid: z.string().min(1),
    test: z.string().min(1).optional(),
    trainLimit: positiveInt.optional(),
    validLimit: positiveInt.optional(),
    testLimit: positiveInt.optional(),
  }),
  train: z.strictObject({
    epochs: positiveInt.max(10_000),
    ...trainFields({ batchSize: 32, lr: 1e-4, weightDecay: 0.01 }),
  }),
  curriculum: z.strictObject({
    thoughtsPerStep: z.number().int().nonnegative().max(16).default(2),
    epochsPerStage: positiveInt.max(1000).default(3),
    /** Stage 0 (explicit CoT with the markers); default epochsPerStage. */
    cotEpochs: z.number().int().nonnegative().max(10_000).optional(),
    maxLatentStage: z.number().int().nonnegative().max(32).default(3),
    resetOptimizer: z.boolean().default(true),
  }).prefault({}),
  eval: z.strictObject({
    ...evalFields,
    /** The first this many test problems are timed at batch size 1 (the paper's speed protocol). */
    speedExamples: positiveInt.max(100_000).default(200),
  }).prefault({}),
  runtime: z.strictObject({ ...runtimeFields }).prefault({}),
});

export type CoconutRunConfig = z.infer<typeof CoconutRunConfigSchema>;

export function parseCoconutConfig(json: unknown, where = 'config'): CoconutRunConfig {
  return parseRunConfig(CoconutRunConfigSchema, json, where, 'Coconut');
}

/** The curriculum a config's fields describe. */
export function curriculumOf(k: CoconutRunConfig['curriculum']): CoconutCurriculum {
  return { thoughtsPerStep: k.thoughtsPerStep, epochsPerStage: k.epochsPerStage, cotEpochs: k.cotEpochs ?? k.epochsPerStage, maxLatentStage: k.maxLatentStage, resetOptimizer: k.resetOptimizer };
}
